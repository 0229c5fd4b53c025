"""One evaluation of a plan: (spec, status, observations, now) -> (new status, pod releases, events).

The stage order is a constant (``engine.sections``), not part of the spec: identity -> state ->
dependencies -> traffic -> validation. A plan can configure what a stage checks and does, never
where it stands. :func:`evaluate` applies the concerns in turn to one working
:class:`~reentry.engine.evaluation.Evaluation`: the controls (abort, pause, resume), the start,
the stage walk (``engine.stages``; its last stage is ``engine.finish_line``), then the
bookkeeping every evaluation does (``engine.bookkeeping``), which closes it into a Decision.
"""

from __future__ import annotations

from datetime import datetime

from reentry.engine import action_steps, bookkeeping, conditions, controls, problems, stages, start
from reentry.engine.evaluation import Decision, Evaluation, current_stage
from reentry.engine.observations import Event, Observations
from reentry.engine.reasons import Reason
from reentry.engine.sections import section_checks
from reentry.engine.timeutil import format_time
from reentry.model import (
    FINISHED_PHASES,
    Check,
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    StageName,
    StartPolicy,
    TrafficState,
)


def invalid(status: RecoveryPlanStatus | None, generation: int | None, message: str, now: datetime) -> Decision:
    """The plan cannot work as written: Failed and Stalled with the cause named; nothing is touched."""
    current = status or RecoveryPlanStatus()
    events = []
    if current.phase != Phase.FAILED or current.message != message:
        events.append(Event(Reason.INVALID_SPEC, message, warning=True))
    new = current.model_copy(update={
        "phase": Phase.FAILED, "message": message, "observedGeneration": generation,
        "conditions": conditions.for_phase(current.conditions, Phase.FAILED, message, generation, format_time(now),
                                           reason=Reason.INVALID_SPEC),
    })
    return Decision(bookkeeping.recorded(new, events, format_time(now)), [], events)


def wanted_checks(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None) -> list[Check]:
    """The checks the shell should probe before the next evaluation."""
    phase = status.phase if status else None
    if phase in (None, Phase.PENDING, Phase.ARMED):
        return list(spec.technicalRecovery.checks) if spec.start == StartPolicy.ON_TECHNICAL_RECOVERY else []
    if status is None or phase in FINISHED_PHASES:
        return []
    stage = current_stage(status)
    if stage is None:
        return []
    wanted = section_checks(spec, stage.value)
    if stage == StageName.TRAFFIC and ramp_under_way(status):
        wanted += spec.traffic.analysis
    return wanted


def ramp_under_way(status: RecoveryPlanStatus | None) -> bool:
    """True while the traffic ramp has started and not finished, walking back to 0 after an abort included:
    the shell then reads the targets."""
    state = status.traffic.state if status and status.traffic else None
    return state is not None and state != TrafficState.DONE


def running_actions(status: RecoveryPlanStatus | None) -> list[str]:
    """Names of the actions the shell should execute before the next evaluation (none unless running)."""
    if status is None or status.phase not in conditions.RUNNING_PHASES:
        return []
    return action_steps.running(status.actions)


def evaluate(spec: RecoveryPlanSpec, generation: int | None, status: RecoveryPlanStatus | None,
             observed: Observations, now: datetime) -> Decision:
    """Advance the plan as far as the observations and the controls allow, in the fixed stage order."""
    found = problems.of(spec)
    if found:
        return invalid(status, generation, problems.describe(found), now)

    run = Evaluation(spec, generation, status, observed, now)
    bookkeeping.unmatched_pods(run)
    controls.apply_abort(run)
    if run.phase not in FINISHED_PHASES:
        controls.apply_pause(run)
    if run.phase in (Phase.PENDING, Phase.ARMED):
        start.before_start(run)
    if run.phase in conditions.RUNNING_PHASES:
        stages.walk(run)
    run.settle_services()
    bookkeeping.budget(run)
    return bookkeeping.finish(run)
