"""kstatus-style conditions: Ready, Progressing, Stalled, with reason constants.

A condition's ``lastTransitionTime`` changes only when its status flips, as in cert-manager's
``pkg/api/util/conditions.go``.
"""

from __future__ import annotations

from reentry.model import Condition, Phase

READY = "Ready"
PROGRESSING = "Progressing"
STALLED = "Stalled"

# Reasons for conditions that are not simply the phase name.
REASON_INVALID_SPEC = "InvalidSpec"
REASON_AS_EXPECTED = "AsExpected"

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
              now: str, stalled_reason: str | None = None) -> list[Condition]:
    """Derive Ready/Progressing/Stalled from the phase, as kstatus readers (Argo CD, Flux) expect."""
    def make(type_: str, on: bool, reason: str) -> Condition:
        return Condition(type=type_, status="True" if on else "False", reason=reason, message=message,
                         observedGeneration=generation, lastTransitionTime=now)

    failed = phase in (Phase.FAILED, Phase.ABORTED)
    updated = set_condition(conditions, make(READY, phase == Phase.RESTORED, phase.value))
    updated = set_condition(updated, make(PROGRESSING, phase in RUNNING_PHASES, phase.value))
    stalled_reason = (stalled_reason or phase.value) if failed else REASON_AS_EXPECTED
    stalled = make(STALLED, failed, stalled_reason)
    if not failed:
        stalled = stalled.model_copy(update={"message": ""})
    return set_condition(updated, stalled)
