"""Consent for references to other namespaces: a plan reaches beyond its own namespace only where
that namespace agrees.

Many fields of a plan may name another namespace (a Secret's, a Lease's, a traffic target's...).
Without consent the operator would act as a confused deputy: whoever may create a plan in one
namespace could have the operator read, and write, objects in any namespace the operator can reach.
In the spirit of Gateway API's ReferenceGrant, the namespace referred to must say yes: it holds a
ConfigMap named :data:`GRANT_CONFIGMAP` whose key :data:`GRANT_KEY` lists the namespaces whose plans
may name its objects (separated by commas or whitespace; ``*`` for every namespace). Only those
who may create ConfigMaps in that namespace can grant, which is its owners, not the plan's author.

The operator's configuration may allow every reference instead (``reentry run
--cross-namespace-references Allowed``), for a cluster whose plan authors are trusted anyway.

This module is pure: which namespaces a spec names (every ``namespace`` field of its models, found
by walking the whole spec, so a new kind with a ``namespace`` field is covered without a list to
update), and which of them refuse, given what each grants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel

from reentry.errors import field_path
from reentry.model import Loc, RecoveryPlanSpec

GRANT_CONFIGMAP = "reentry-reference-grant"
GRANT_KEY = "from"
EVERY_NAMESPACE = "*"


class Policy(StrEnum):
    """What the operator requires before a plan may name another namespace."""

    GRANTED = "Granted"
    """The other namespace must grant it (the default)."""
    ALLOWED = "Allowed"
    """Every reference is allowed (the plan authors are trusted with whatever the operator can reach)."""


def foreign_namespaces(spec: RecoveryPlanSpec, home: str) -> dict[str, list[Loc]]:
    """Each namespace other than ``home`` that the spec names, with the fields naming it, in the
    order they appear."""
    found: dict[str, list[Loc]] = {}
    stack: list[tuple[Loc, object]] = [((), spec)]
    while stack:  # iterative: a spec's depth is bounded by the CRD, but no walk here recurses
        loc, value = stack.pop()
        if isinstance(value, BaseModel):
            children: list[tuple[Loc, object]] = [((*loc, name), getattr(value, name))
                                                  for name in type(value).model_fields]
            for child_loc, child in children:
                if child_loc[-1] == "namespace" and isinstance(child, str) and child and child != home:
                    found.setdefault(child, []).append(child_loc)
            stack.extend(reversed(children))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([((*loc, i), item) for i, item in enumerate(value)]))
    return found


def granted_from(data: Mapping[str, str] | None) -> frozenset[str]:
    """The namespaces a grant ConfigMap's data lets in (empty for no ConfigMap or no key)."""
    listed = (data or {}).get(GRANT_KEY) or ""
    return frozenset(part for part in re.split(r"[\s,]+", listed) if part)


def refusals(foreign: Mapping[str, list[Loc]], grants: Mapping[str, frozenset[str] | str], home: str) -> list[str]:
    """One message per namespace that does not let ``home``'s plans in, naming the fields that refer
    to it. ``grants`` holds, per namespace, what it grants, or why its grant could not be read."""
    found = []
    for namespace, fields in foreign.items():
        granted = grants.get(namespace, frozenset())
        if isinstance(granted, frozenset) and (home in granted or EVERY_NAMESPACE in granted):
            continue
        why = (granted if isinstance(granted, str) else
               f"it has no ConfigMap {GRANT_CONFIGMAP} whose key {GRANT_KEY} lists {home}")
        where = ", ".join(field_path(loc, "spec") for loc in fields)
        found.append(f"{where}: namespace {namespace} does not grant plans of namespace {home} "
                     f"references to its objects ({why})")
    return found
