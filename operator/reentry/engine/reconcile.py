"""One evaluation of a plan: (spec, status, observations, now) -> (new status, actions, events).

The stage order is a constant here, not part of the spec: identity -> state -> dependencies ->
traffic -> validation. A plan can configure what a stage checks, never where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reentry.engine import conditions, graph
from reentry.engine.observations import Event, Observations, ReleasePods
from reentry.engine.release import step_services
from reentry.engine.timeutil import format_time
from reentry.model import (
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    ServiceState,
    StageName,
    StageState,
    StageStatus,
    StartPolicy,
)

STAGE_ORDER: tuple[StageName, ...] = (
    StageName.IDENTITY, StageName.STATE, StageName.DEPENDENCIES, StageName.TRAFFIC, StageName.VALIDATION,
)
PHASE_OF_STAGE = {
    StageName.IDENTITY: Phase.IDENTITY_PRE_WARMING,
    StageName.STATE: Phase.STATE_RECONCILIATION,
    StageName.DEPENDENCIES: Phase.DEPENDENCY_CONVERGENCE,
    StageName.TRAFFIC: Phase.TRAFFIC_REENTRY,
    StageName.VALIDATION: Phase.VALIDATING,
}


@dataclass(frozen=True)
class Decision:
    """What one evaluation decided: the status to write first, then the actions and events."""

    status: RecoveryPlanStatus
    actions: list[ReleasePods] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _fresh_stages(existing: list[StageStatus]) -> list[StageStatus]:
    known = {s.name: s for s in existing}
    return [known.get(name) or StageStatus(name=name) for name in STAGE_ORDER]


def _stage(status: RecoveryPlanStatus, name: StageName) -> StageStatus:
    return next(s for s in status.stages if s.name == name)


def _with_stage(status: RecoveryPlanStatus, updated: StageStatus) -> RecoveryPlanStatus:
    stages = [updated if s.name == updated.name else s for s in status.stages]
    return status.model_copy(update={"stages": stages})


def _current_stage(status: RecoveryPlanStatus) -> StageName | None:
    return next((s.name for s in status.stages if s.state != StageState.PASSED), None)


def _phase_from_stages(status: RecoveryPlanStatus) -> Phase:
    """The phase a plan stands in, judged from its stages (used to resume after a fixed spec)."""
    if not any(s.startedAt for s in status.stages):
        return Phase.PENDING
    current = _current_stage(status)
    return PHASE_OF_STAGE[current] if current else Phase.RESTORED


def invalid(status: RecoveryPlanStatus | None, generation: int | None, message: str, now: datetime) -> Decision:
    """The plan cannot work as written: Failed and Stalled with the cause named; nothing is touched."""
    current = status or RecoveryPlanStatus()
    stamp = format_time(now)
    events = []
    if current.phase != Phase.FAILED or current.message != message:
        events.append(Event(conditions.REASON_INVALID_SPEC, message, warning=True))
    new = current.model_copy(update={
        "phase": Phase.FAILED,
        "message": message,
        "observedGeneration": generation,
        "conditions": conditions.for_phase(current.conditions, Phase.FAILED, message, generation, stamp,
                                           stalled_reason=conditions.REASON_INVALID_SPEC),
    })
    return Decision(new, [], events)


def _was_invalid(status: RecoveryPlanStatus) -> bool:
    stalled = conditions.get_condition(status.conditions, conditions.STALLED)
    return (status.phase == Phase.FAILED and stalled is not None
            and stalled.reason == conditions.REASON_INVALID_SPEC)


def _dependencies_message(status: RecoveryPlanStatus) -> str:
    waiting = [s for s in status.services if s.state != ServiceState.ATTACHED]
    parts = []
    for s in waiting:
        detail = f"waiting for {', '.join(s.waitingFor)}" if s.waitingFor else (
            f"{s.releasedPods}/{s.totalPods} pods released, {s.readyEndpoints} ready endpoints")
        parts.append(f"{s.name} {s.state.value} ({detail})")
    return "dependencies: " + "; ".join(parts)


def evaluate(spec: RecoveryPlanSpec, generation: int | None, status: RecoveryPlanStatus | None,
             observed: Observations, now: datetime) -> Decision:
    """Advance the plan as far as the observations allow, in the fixed stage order."""
    problems = graph.problems(spec.services)
    if problems:
        return invalid(status, generation, "; ".join(problems), now)

    stamp = format_time(now)
    current = status or RecoveryPlanStatus()
    before = current.phase
    current = current.model_copy(update={"stages": _fresh_stages(current.stages), "observedGeneration": generation})
    if current.phase is None or _was_invalid(current):
        current = current.model_copy(update={"phase": _phase_from_stages(current), "message": None})

    events: list[Event] = []
    if current.phase in (Phase.PENDING, Phase.ARMED):
        if spec.start == StartPolicy.ON_TECHNICAL_RECOVERY or observed.start_requested:
            # Technical recovery has no checks yet: starting is the moment it is declared.
            current = current.model_copy(update={
                "phase": PHASE_OF_STAGE[STAGE_ORDER[0]], "startedAt": stamp,
                "technicalRecoveryAt": current.technicalRecoveryAt or stamp,
            })
        else:
            current = current.model_copy(update={
                "phase": Phase.ARMED,
                "message": "armed: waiting for the reentry.dev/start annotation (start: Manual)",
            })

    order = graph.bottom_up(spec.services)
    service_statuses = {s.name: s for s in current.services}
    actions: list[ReleasePods] = []
    stepped = False

    def step(release_allowed: bool) -> None:
        nonlocal current, stepped
        services, new_actions, new_events = step_services(
            spec.services, order, service_statuses, observed.services, now, release_allowed)
        current = current.model_copy(update={"services": services})
        actions.extend(new_actions)
        events.extend(new_events)
        stepped = True

    while current.phase in conditions.RUNNING_PHASES:
        name = _current_stage(current)
        if name is None:
            break
        stage = _stage(current, name)
        if stage.state == StageState.PENDING:
            stage = stage.model_copy(update={"state": StageState.RUNNING, "startedAt": stamp})
            current = _with_stage(current, stage)
        current = current.model_copy(update={"phase": PHASE_OF_STAGE[name], "stage": name})
        if name == StageName.DEPENDENCIES:
            step(release_allowed=True)
            passed = all(s.state == ServiceState.ATTACHED for s in current.services)
            if not passed:
                current = current.model_copy(update={"message": _dependencies_message(current)})
        else:
            passed = True  # identity, state, traffic and validation have no checks yet
        if not passed:
            break
        current = _with_stage(current, stage.model_copy(update={"state": StageState.PASSED, "finishedAt": stamp}))
        if _current_stage(current) is None:
            current = current.model_copy(update={
                "phase": Phase.RESTORED, "stage": None, "operationallyRestoredAt": stamp,
                "message": "operationally restored: every stage passed",
            })

    if not stepped:
        deps_passed = _stage(current, StageName.DEPENDENCIES).state == StageState.PASSED
        step(release_allowed=deps_passed)

    assert current.phase is not None
    if current.phase != before:
        events.insert(0, Event(current.phase.value, current.message or f"phase {current.phase.value}"))
    message = current.message or current.phase.value
    current = current.model_copy(update={
        "conditions": conditions.for_phase(current.conditions, current.phase, message, generation, stamp),
    })
    return Decision(current, actions, events)
