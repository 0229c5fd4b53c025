"""What every evaluation does whatever the stage: the restoration budget, pods no plan selects,
and the closing of the evaluation into a :class:`~reentry.engine.evaluation.Decision` (conditions,
the Events that announce a phase, the timeline that records every Event in status)."""

from __future__ import annotations

from reentry.engine import conditions
from reentry.engine.evaluation import Decision, Evaluation
from reentry.engine.observations import Event
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_duration, format_time, parse_time
from reentry.model import TIMELINE_LIMIT, BudgetStatus, Phase, RecoveryPlanStatus, TimelineEntry, parse_duration

#: Phases that announce themselves with an Event named after them when entered.
ANNOUNCED = (Phase.ARMED, Phase.OBSERVING, Phase.RESTORED, Phase.PAUSED)
#: Phases a plan stands still in: the reason the conditions gave when it got there (a timeout, a
#: failed analysis, a dry run...) stands, stored in the conditions, as long as the phase does.
STANDING = (Phase.PAUSED, Phase.FAILED, Phase.ABORTED, Phase.RESTORED)


def budget(run: Evaluation) -> None:
    """Track the restoration budget from technical recovery; announce once when it is exceeded."""
    if not run.spec.restorationBudget or not run.status.technicalRecoveryAt:
        return
    start = parse_time(run.status.technicalRecoveryAt)
    deadline = start + parse_duration(run.spec.restorationBudget)
    end = parse_time(run.status.operationallyRestoredAt) if run.status.operationallyRestoredAt else run.now
    previous = run.status.restoration
    exceeded = end > deadline
    if exceeded and not (previous and previous.exceeded):
        run.emit(Reason.BUDGET_EXCEEDED, f"restoration budget {run.spec.restorationBudget} exceeded "
                                         f"(technical recovery at {run.status.technicalRecoveryAt})", warning=True)
    elapsed = format_duration(end - start) if run.status.operationallyRestoredAt else None
    run.set(restoration=BudgetStatus(budget=run.spec.restorationBudget, deadline=format_time(deadline),
                                     exceeded=exceeded, elapsed=elapsed))


def unmatched_pods(run: Evaluation) -> None:
    """Name the gated pods no plan's services select (they stay held); announce when the set changes."""
    found = sorted(run.observed.unmatched_gated_pods)
    if found and found != run.status.unmatchedGatedPods:
        run.emit(Reason.UNMATCHED_GATED_PODS, f"{len(found)} gated pod(s) in this namespace match no plan's "
                                              f"services and stay held: {', '.join(found[:5])}", warning=True)
    run.set(unmatchedGatedPods=found)


def standing_reason(run: Evaluation) -> str | None:
    """The reason a plan standing still got when it stopped, as its Ready condition stores it."""
    if run.phase != run.before or run.phase not in STANDING:
        return None
    ready = conditions.get_condition(run.status.conditions, conditions.READY)
    return ready.reason if ready else None


def finish(run: Evaluation) -> Decision:
    """Close the evaluation: the Overridden flag, the phase's announcement, the kstatus conditions."""
    overridden = [c for c in run.status.checks if c.overridden]
    run.set(conditions=conditions.set_flag(
        run.status.conditions, conditions.OVERRIDDEN, True if overridden else None, Reason.CHECKS_OVERRIDDEN,
        "; ".join(f"{c.name}: {c.overrideReason}" for c in overridden), run.generation, run.stamp))
    if run.phase != run.before and run.phase in ANNOUNCED:
        run.emit(run.phase.value, run.status.message or run.phase.value, warning=run.phase == Phase.PAUSED)
    if run.phase not in conditions.RUNNING_PHASES and run.phase != Phase.PAUSED:
        run.set(stage=None)
    message = run.status.message or run.phase.value
    run.set(conditions=conditions.for_phase(run.status.conditions, run.phase, message, run.generation, run.stamp,
                                            reason=run.reason or standing_reason(run)))
    run.status = recorded(run.status, run.events, run.stamp)
    return Decision(run.status, run.releases, run.events, run.weights)


def recorded(status: RecoveryPlanStatus, events: list[Event], stamp: str) -> RecoveryPlanStatus:
    """``status`` with ``events`` appended to its timeline, stamped ``stamp``, the oldest entries dropped
    beyond :data:`~reentry.model.TIMELINE_LIMIT`.

    The entries are written with the status they led to: a crash before the write loses both, and the
    next evaluation decides them again, so each transition is recorded once.
    """
    if not events:
        return status
    entries = [*status.timeline, *(TimelineEntry(at=stamp, reason=e.reason, message=e.message,
                                                 warning=True if e.warning else None, subject=e.subject)
                                   for e in events)]
    dropped = max(0, len(entries) - TIMELINE_LIMIT)
    total = (status.timelineDropped or 0) + dropped
    return status.model_copy(update={"timeline": entries[dropped:], "timelineDropped": total or None})
