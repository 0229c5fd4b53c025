"""The patches behind ``kubectl reentry start|pause|resume|abort|approve|override``: pure functions.

The operator reads these annotations (docs/controls.md, ``reentry.engine.controls``); overrides
change what the plan accepts as evidence, so they go into ``spec.overrides`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reentry.engine.sections import CHECK_LISTS
from reentry.model import (
    ABORT_ANNOTATION,
    APPROVE_ANNOTATION,
    PAUSED_ANNOTATION,
    RESUME_ANNOTATION,
    START_ANNOTATION,
    Phase,
)

#: How the approval annotation says where ``by`` came from.
VERIFIED_BY = "SelfSubjectReview"


class ControlError(ValueError):
    """The control cannot be applied to this plan as it stands; the message says why."""


def annotations_patch(values: Mapping[str, str | None]) -> dict[str, Any]:
    """A merge patch setting (or, for None, removing) annotations."""
    return {"metadata": {"annotations": dict(values)}}


def start_patch(stamp: str) -> dict[str, Any]:
    """Start a ``start: Manual`` plan; the value records when."""
    return annotations_patch({START_ANNOTATION: stamp})


def pause_patch() -> dict[str, Any]:
    return annotations_patch({PAUSED_ANNOTATION: "true"})


def abort_patch(reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise ControlError("abort needs a reason (--reason): it is the record of why the re-entry stopped")
    return annotations_patch({ABORT_ANNOTATION: reason})


def resume_patch(plan: Mapping[str, Any], token: str) -> dict[str, Any] | None:
    """What resumes the plan: lift a manual pause, and give a fresh token to a pause by timeout.

    None when there is nothing to resume.
    """
    notes = (plan.get("metadata") or {}).get("annotations") or {}
    status = plan.get("status") or {}
    values: dict[str, str | None] = {}
    if PAUSED_ANNOTATION in notes:
        values[PAUSED_ANNOTATION] = None
    # A pause the operator decided (a check timed out) is lifted by a resume token it has not seen.
    paused_by_timeout = status.get("phase") == Phase.PAUSED.value and PAUSED_ANNOTATION not in (
        status.get("pauseReason") or "")
    if paused_by_timeout:
        values[RESUME_ANNOTATION] = token
    return annotations_patch(values) if values else None


def approval_value(username: str, comment: str | None) -> str:
    """The approval annotation: JSON naming the approver as the API server identified the caller."""
    return json.dumps({"by": username, "comment": comment or "", "verified": VERIFIED_BY}, sort_keys=True)


def approve_patch(username: str, comment: str | None) -> dict[str, Any]:
    return annotations_patch({APPROVE_ANNOTATION: approval_value(username, comment)})


def check_names(spec: Mapping[str, Any]) -> list[str]:
    """Every check name of a spec, in the order the stages run."""
    names = []
    for section, key in CHECK_LISTS:
        for check in ((spec.get(section) or {}).get(key) or []):
            if isinstance(check, Mapping) and check.get("name"):
                names.append(str(check["name"]))
    return names


def override_patch(plan: Mapping[str, Any], check: str, reason: str) -> list[dict[str, Any]] | None:
    """A JSON patch appending ``{check, reason}`` to spec.overrides; None when it is already overridden.

    The patch first tests the resourceVersion it was computed from, so two people overriding at
    once cannot write the same override twice, nor replace each other's list.
    """
    spec = plan.get("spec") or {}
    if not reason.strip():
        raise ControlError("an override needs a reason (--reason): it is shown in status, events and conditions")
    known = check_names(spec)
    if check not in known:
        # An override of an unknown check would make the whole plan invalid.
        raise ControlError(f"plan has no check {check!r} (checks: {', '.join(known) or 'none'})")
    existing = spec.get("overrides") or []
    if any(isinstance(o, Mapping) and o.get("check") == check for o in existing):
        return None
    version = (plan.get("metadata") or {}).get("resourceVersion")
    ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}]
    entry = {"check": check, "reason": reason}
    if isinstance(spec.get("overrides"), list):
        ops.append({"op": "add", "path": "/spec/overrides/-", "value": entry})
    else:
        ops.append({"op": "add", "path": "/spec/overrides", "value": [entry]})
    return ops
