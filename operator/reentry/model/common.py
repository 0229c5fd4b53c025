"""What every part of the RecoveryPlan API shares.

The API's names (group, version, kind), the annotations and the finalizer the operator acts on,
the patterns and lengths of Kubernetes names, Go-style durations, the strict base model, label
selectors, references to any object (:class:`ObjectRef`), the comparison a measured value is
judged by, and the "exactly one kind" rule checks, actions and traffic targets share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

GROUP = "reentry.dev"
VERSION = "v1alpha1"
KIND = "RecoveryPlan"
PLURAL = "recoveryplans"
SINGULAR = "recoveryplan"
SHORT_NAME = "rplan"
API_VERSION = f"{GROUP}/{VERSION}"

#: The pod readiness-gate condition type the operator sets to True to let a pod in.
READINESS_GATE = "reentry.dev/released"
#: Control annotations (docs/controls.md). Each is idempotent: setting the same value twice acts once.
START_ANNOTATION = "reentry.dev/start"
PAUSED_ANNOTATION = "reentry.dev/paused"
RESUME_ANNOTATION = "reentry.dev/resume"
ABORT_ANNOTATION = "reentry.dev/abort"
APPROVE_ANNOTATION = "reentry.dev/approve"
#: The finalizer a plan carries while deleting it must hand something back (``engine/protection.py``).
FINALIZER = "reentry.dev/release-on-delete"

#: How often a check is probed unless it says otherwise: Kubernetes' own default period for probes.
PROBE_INTERVAL = "10s"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: A DNS-1123 subdomain: what the API server accepts as the name of almost every kind. It can hold
#: nothing a URL path reads as another segment ("/", "..", "%"), which is why every name a plan
#: gives the operator to read or write must match it (the kinds that allow other names, such as
#: RBAC's ``system:`` roles, cannot be named by a plan).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
NAME_MAX_LENGTH, LABEL_MAX_LENGTH = 253, 63


def is_name(text: str) -> bool:
    """Whether ``text`` is a Kubernetes object name (a DNS-1123 subdomain, at most 253 characters)."""
    return len(text) <= NAME_MAX_LENGTH and re.fullmatch(NAME_PATTERN, text) is not None


#: ``v1``, ``apps/v1``, ``gateway.networking.k8s.io/v1beta1``: a group (a subdomain) and a version.
API_VERSION_PATTERN = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"v[0-9]+((alpha|beta)[0-9]+)?$")
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"
#: A key of a ConfigMap's or a Secret's data.
DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
#: An annotation or label key: an optional subdomain prefix and a name.
QUALIFIED_NAME_PATTERN = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                          r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


#: The longest duration a plan may give (a year): longer ones would overflow date arithmetic and
#: mean nothing for a failback.
MAX_DURATION = timedelta(hours=8760)


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration such as ``90s``, ``1h30m`` or ``250ms`` (at most :data:`MAX_DURATION`)."""
    if len(text) > 32 or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text[:40]!r}: use units ms, s, m, h (e.g. 10s, 1h30m)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is longer than the 8760h (a year) allowed")
    return timedelta(seconds=seconds)


def _bounded_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32,
                                description="A duration such as 10s, 5m or 1h30m."),
                     AfterValidator(_bounded_duration)]
ObjectName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
NamespaceName = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=LABEL_MAX_LENGTH)]
ServiceName = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=LABEL_MAX_LENGTH)]
DataKey = Annotated[str, Field(pattern=DATA_KEY_PATTERN, max_length=253)]
QualifiedName = Annotated[str, Field(pattern=QUALIFIED_NAME_PATTERN, max_length=316)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def named_objects(self) -> tuple[NamedObject, ...]:
        """The objects this part of a plan names, each with the field that names it (none by default).

        Pre-flight (``engine.preflight``) and ``reentry validate`` both derive what a plan refers
        to from here, so a kind declares its references once, next to its fields.
        """
        return ()


class LabelSelectorRequirement(_Model):
    key: str
    operator: str = Field(pattern=r"^(In|NotIn|Exists|DoesNotExist)$")
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector for the pods of one service."""

    matchLabels: dict[str, str] = Field(default_factory=dict)
    matchExpressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class Comparison(_Model):
    """How an observed value is judged: any combination of equals, min and max."""

    equals: str | None = Field(default=None, description="Passes when the value, as text, equals this.")
    min: float | None = Field(default=None, description="Passes when the value is at least this.")
    max: float | None = Field(default=None, description="Passes when the value is at most this.")


class ObjectRef(_Model):
    """Any Kubernetes object, in the plan's namespace unless another is named."""

    apiVersion: str = Field(pattern=API_VERSION_PATTERN, max_length=253,
                            description="e.g. apps/v1, v1, gateway.networking.k8s.io/v1")
    kind: str = Field(pattern=KIND_PATTERN, max_length=63)
    name: ObjectName
    namespace: NamespaceName | None = None


    def named_objects(self) -> tuple[NamedObject, ...]:
        """The object itself, named by its ``name``."""
        plain = ObjectRef(apiVersion=self.apiVersion, kind=self.kind, name=self.name, namespace=self.namespace)
        return (NamedObject(plain, ("name",)),)


#: A place in a spec, as field names and list indexes: ``("state", "checks", 0, "name")``.
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """Something that makes a spec unworkable beyond what its schema says, at the field at fault."""

    at: Loc
    """Where in the spec (``()``: the spec as a whole)."""
    message: str


@dataclass(frozen=True)
class NamedObject:
    """An object a plan names, and where: the field under the kind that holds its name."""

    ref: ObjectRef
    field: tuple[str, ...]
    read: bool = True
    """Whether the operator reads the object itself, so pre-flight checks that it exists. A
    ServiceAccount that only gets a token asked for is not read (the operator may not get it)."""

    def under(self, *prefix: str) -> NamedObject:
        """The same object, its field seen from further up the spec (e.g. from the check, not its kind)."""
        return NamedObject(self.ref, (*prefix, *self.field), self.read)


def named(api_version: str, kind: str, name: str, namespace: str | None, field: str, read: bool = True) -> NamedObject:
    """A :class:`NamedObject` from its parts (``field``: the kind's field that holds the name)."""
    return NamedObject(ObjectRef(apiVersion=api_version, kind=kind, name=name, namespace=namespace), (field,), read)


def _exactly_one(kinds: tuple[str, ...]) -> dict[str, Any]:
    """A structural ``oneOf`` that makes the API server refuse zero or several kinds in one item."""
    return {"oneOf": [{"required": [k]} for k in kinds]}


class _ExactlyOne(_Model):
    """An item that uses exactly one of its kinds: a check, an action or a traffic target.

    Each kind is an optional field named in ``_kinds``; a subclass also sets
    ``json_schema_extra=_exactly_one(its kinds)`` so that the API server refuses what this refuses.
    """

    _kinds: ClassVar[tuple[str, ...]] = ()

    def _subject(self) -> str:
        """How a validation error names the item, e.g. ``check 'ready'``."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        chosen = [k for k in self._kinds if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"{self._subject()} needs exactly one of {', '.join(self._kinds)} "
                             f"(got {', '.join(chosen) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The name of the kind this item uses."""
        return next(k for k in self._kinds if getattr(self, k) is not None)

    def named_objects(self) -> tuple[NamedObject, ...]:
        """What its kind names, the fields seen from the item (e.g. ``("resource", "name")``)."""
        chosen: _Model = getattr(self, self.kind)
        return tuple(found.under(self.kind) for found in chosen.named_objects())


class _OneKind(_ExactlyOne):
    """A named item that uses exactly one of its kinds (a check or an action)."""

    _what: ClassVar[str] = ""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Unique within the plan.")

    def _subject(self) -> str:
        return f"{self._what} {self.name!r}"
