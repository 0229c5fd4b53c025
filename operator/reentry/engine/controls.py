"""Reading the control annotations a person or a pipeline put on a plan (see docs/controls.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reentry.engine.observations import Approval, Controls
from reentry.model import (
    ABORT_ANNOTATION,
    APPROVE_ANNOTATION,
    PAUSED_ANNOTATION,
    RESUME_ANNOTATION,
    START_ANNOTATION,
)


def _manager_of(annotation: str, managed_fields: list[Mapping[str, Any]]) -> str | None:
    """The field manager that last set an annotation (e.g. ``kubectl-annotate``), from managedFields."""
    key = f"f:{annotation}"
    for entry in reversed(managed_fields):
        fields = entry.get("fieldsV1") or {}
        if key in ((fields.get("f:metadata") or {}).get("f:annotations") or {}):
            manager = entry.get("manager")
            return str(manager) if manager else None
    return None


def approval_from(value: str, managed_fields: list[Mapping[str, Any]]) -> Approval:
    """The approval an annotation value carries.

    The kubectl plugin writes JSON ``{"by": ..., "comment": ...}`` with the identity the API server
    reports for the caller. A plain value is taken as the comment; the API does not say who set an
    annotation, so ``by`` then names the field manager that wrote it. JSON with a key twice (``"by"``
    and ``"\u0062y"`` are the same key) is not taken at its word either: the chart's approval policy
    checks the first ``by`` only, and a later one would otherwise name someone else.
    """
    try:
        data = json.loads(value, object_pairs_hook=_unique_keys)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("by"):
        return Approval(by=str(data["by"]), comment=str(data["comment"]) if data.get("comment") else None)
    manager = _manager_of(APPROVE_ANNOTATION, managed_fields) or "unknown client"
    return Approval(by=f"unverified (set via {manager})", comment=value or None)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice")
    return dict(pairs)


def from_metadata(metadata: Mapping[str, Any]) -> Controls:
    """Controls from a plan's metadata (annotations, and managedFields for who approved)."""
    notes: Mapping[str, str] = metadata.get("annotations") or {}
    managed: list[Mapping[str, Any]] = metadata.get("managedFields") or []
    abort = notes.get(ABORT_ANNOTATION)
    approve = notes.get(APPROVE_ANNOTATION)
    return Controls(
        start=START_ANNOTATION in notes,
        paused=notes.get(PAUSED_ANNOTATION, "").lower() == "true",
        resume_token=notes.get(RESUME_ANNOTATION),
        abort_reason=(abort or "no reason given") if abort is not None else None,
        approval=approval_from(approve, managed) if approve is not None else None,
    )
