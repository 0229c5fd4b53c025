"""kstatus-style conditions: Ready, Progressing, Stalled (their reasons: ``reentry.engine.reasons``).

A condition's ``lastTransitionTime`` changes only when its status flips, as in cert-manager's
``pkg/api/util/conditions.go``.
"""

from __future__ import annotations

from reentry.engine.reasons import Reason
from reentry.model import Condition, Phase

READY = "Ready"
PROGRESSING = "Progressing"
STALLED = "Stalled"

PLAN_READY = "PlanReady"
OVERRIDDEN = "Overridden"
VALIDATION_HEALTHY = "ValidationHealthy"

#: The phases in which the plan is at work (Progressing), paused and finished ones aside.
RUNNING_PHASES = frozenset({
    Phase.IDENTITY_PRE_WARMING, Phase.STATE_RECONCILIATION, Phase.DEPENDENCY_CONVERGENCE,
    Phase.TRAFFIC_REENTRY, Phase.VALIDATING, Phase.OBSERVING,
})


def set_condition(conditions: list[Condition], new: Condition) -> list[Condition]:
    """Replace the condition of the same type, keeping its transition time if the status is unchanged."""
    result = []
    replaced = False
    for old in conditions:
        if old.type == new.type:
            replaced = True
            if old.status == new.status:
                new = new.model_copy(update={"lastTransitionTime": old.lastTransitionTime})
            result.append(new)
        else:
            result.append(old)
    if not replaced:
        result.append(new)
    return result


def get_condition(conditions: list[Condition], type_: str) -> Condition | None:
    """The condition of that type, if any."""
    return next((c for c in conditions if c.type == type_), None)


def for_phase(conditions: list[Condition], phase: Phase, message: str, generation: int | None,
              now: str, reason: str | None = None) -> list[Condition]:
    """Derive Ready/Progressing/Stalled from the phase, as kstatus readers (Argo CD, Flux) expect.

    ``reason`` replaces the phase name as the reason where a more precise one exists
    (AwaitingApproval, CheckTimeout, ActionFailed, InvalidSpec, DryRun).
    """
    def make(type_: str, on: bool, why: str, text: str = message) -> Condition:
        return Condition(type=type_, status="True" if on else "False", reason=why, message=text,
                         observedGeneration=generation, lastTransitionTime=now)

    failed = phase in (Phase.FAILED, Phase.ABORTED)
    why = reason or phase.value
    updated = set_condition(conditions, make(READY, phase == Phase.RESTORED, why))
    updated = set_condition(updated, make(PROGRESSING, phase in RUNNING_PHASES, why))
    stalled = make(STALLED, True, why) if failed else make(STALLED, False, Reason.AS_EXPECTED, "")
    return set_condition(updated, stalled)


def set_flag(conditions: list[Condition], type_: str, on: bool | None, reason: str, message: str,
             generation: int | None, now: str) -> list[Condition]:
    """Set an extra condition (PlanReady, Overridden, ValidationHealthy); ``on`` None removes it."""
    if on is None:
        return [c for c in conditions if c.type != type_]
    return set_condition(conditions, Condition(type=type_, status="True" if on else "False", reason=reason,
                                               message=message, observedGeneration=generation,
                                               lastTransitionTime=now))
