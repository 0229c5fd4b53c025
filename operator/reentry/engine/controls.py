"""The controls a person or a pipeline puts on a plan as annotations (see docs/controls.md):
reading them (:func:`from_metadata`) and applying them to an evaluation (abort, pause, resume).

Start and approval are read here too, and applied where they count: ``engine.start`` and
``engine.finish_line``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reentry.engine import check_rules, traffic
from reentry.engine.evaluation import Evaluation
from reentry.engine.observations import ApprovalNote, Controls
from reentry.engine.reasons import Reason
from reentry.model import (
    ABORT_ANNOTATION,
    APPROVE_ANNOTATION,
    FINISHED_PHASES,
    PAUSED_ANNOTATION,
    RESUME_ANNOTATION,
    START_ANNOTATION,
    Phase,
    SafeState,
    TrafficState,
)

#: The pause reason of a plan paused by the ``reentry.dev/paused`` annotation: only the annotation's
#: removal resumes it (any other pause resumes with a fresh ``reentry.dev/resume`` token).
PAUSED_BY_ANNOTATION = "paused by the reentry.dev/paused annotation"


def _manager_of(annotation: str, managed_fields: list[Mapping[str, Any]]) -> str | None:
    """The field manager that last set an annotation (e.g. ``kubectl-annotate``), from managedFields."""
    key = f"f:{annotation}"
    for entry in reversed(managed_fields):
        fields = entry.get("fieldsV1") or {}
        if key in ((fields.get("f:metadata") or {}).get("f:annotations") or {}):
            manager = entry.get("manager")
            return str(manager) if manager else None
    return None


def approval_from(value: str, managed_fields: list[Mapping[str, Any]]) -> ApprovalNote:
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
        return ApprovalNote(by=str(data["by"]), comment=str(data["comment"]) if data.get("comment") else None)
    manager = _manager_of(APPROVE_ANNOTATION, managed_fields) or "unknown client"
    return ApprovalNote(by=f"unverified (set via {manager})", comment=value or None)


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


def apply_abort(run: Evaluation) -> None:
    """An abort annotation ends a plan that has not finished; an aborted ramp keeps walking back to 0."""
    reason = run.observed.controls.abort_reason
    if reason is not None and run.phase not in FINISHED_PHASES:
        run.set(phase=Phase.ABORTED, message=f"aborted: {reason}")
        run.emit(Reason.ABORTED, f"re-entry aborted: {reason}; released pods stay released, held pods stay held",
                 warning=True)
        if run.spec.traffic.safeState == SafeState.FALLBACK:
            run.take(traffic.abort(run.traffic_view(), run.status.traffic))
    elif run.phase == Phase.ABORTED and run.status.traffic and run.status.traffic.state == TrafficState.ABORTING:
        run.take(traffic.continue_abort(run.traffic_view(), run.status.traffic))


def apply_pause(run: Evaluation) -> None:
    """Pause on the annotation; resume when it is removed, or on a fresh resume token for any other pause."""
    controls = run.observed.controls
    if run.phase == Phase.PAUSED:
        by_annotation = run.status.pauseReason == PAUSED_BY_ANNOTATION
        token = controls.resume_token
        fresh_token = token is not None and token != run.status.lastResumeToken
        if controls.paused or (not by_annotation and not fresh_token):
            return
        resumed_into = run.status.pausedFrom or run.phase_from_stages()
        run.set(phase=resumed_into, pausedFrom=None, pauseReason=None, message=None,
                lastResumeToken=token if fresh_token else run.status.lastResumeToken)
        # A plan paused by a timeout gets fresh timeout windows, or it would pause again at once.
        run.set(checks=[check_rules.restart_clock(c, run.now) for c in run.status.checks],
                traffic=traffic.resumed(run.status.traffic, run.spec.traffic, run.now))
        run.emit(Reason.RESUMED, f"re-entry resumed in {resumed_into.value}")
    elif controls.paused and run.phase not in FINISHED_PHASES:
        run.pause(PAUSED_BY_ANNOTATION)
    elif controls.resume_token is not None and run.status.lastResumeToken is None:
        # A resume token present before any pause is consumed, so it cannot resume a later pause.
        run.set(lastResumeToken=controls.resume_token)
