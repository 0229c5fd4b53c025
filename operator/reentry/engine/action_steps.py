"""Action sequencing: a stage's actions run once each, in order, before its checks count.

An action goes Pending -> Running -> Succeeded | Failed. The engine only marks it Running; the
shell executes Running actions before the next evaluation and reports their progress, which the
engine records (with the action's ``record``, so a restarted operator continues, not repeats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reentry.engine.observations import ActionProgress, Event
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_time
from reentry.model import Action, ActionState, ActionStatus


@dataclass
class ActionsOutcome:
    """The stage's action statuses after this evaluation, and what that means for the stage."""

    statuses: list[ActionStatus]
    done: bool
    failed: ActionStatus | None = None
    events: list[Event] = field(default_factory=list)


def step(specs: list[Action], stage: str, current: dict[str, ActionStatus], progress: dict[str, ActionProgress],
         now: datetime, dry_run: bool, may_start: bool = True) -> ActionsOutcome:
    """Advance a stage's actions; at most one is Running at a time.

    ``may_start`` False (a paused plan) records progress but starts nothing new.
    """
    stamp = format_time(now)
    statuses: list[ActionStatus] = []
    events: list[Event] = []
    blocked = False
    failed: ActionStatus | None = None
    for spec in specs:
        status = current.get(spec.name) or ActionStatus(name=spec.name, stage=stage, kind=spec.kind)
        if not blocked and failed is None:
            status, evs = _advance(spec, status, progress.get(spec.name), stamp, dry_run, may_start)
            events += evs
            if status.state == ActionState.FAILED:
                failed = status
            elif status.state != ActionState.SUCCEEDED:
                blocked = True
        statuses.append(status)
    done = failed is None and all(s.state == ActionState.SUCCEEDED for s in statuses)
    return ActionsOutcome(statuses, done, failed, events)


def _advance(spec: Action, status: ActionStatus, progress: ActionProgress | None, stamp: str, dry_run: bool,
             may_start: bool) -> tuple[ActionStatus, list[Event]]:
    if status.state == ActionState.PENDING:
        if not may_start:
            return status, []
        if dry_run:
            message = f"dry run: would run {spec.kind} action {spec.name}"
            return status.model_copy(update={"state": ActionState.SUCCEEDED, "startedAt": stamp,
                                             "finishedAt": stamp, "message": message}), [
                Event(Reason.DRY_RUN_WOULD_RUN, message, subject=spec.name)]
        return status.model_copy(update={"state": ActionState.RUNNING, "startedAt": stamp}), [
            Event(Reason.ACTION_STARTED, f"{status.stage} action {spec.name} ({spec.kind}) started", subject=spec.name)]
    if status.state != ActionState.RUNNING or progress is None:
        return status, []
    status = status.model_copy(update={"state": progress.state, "record": progress.record,
                                       "message": progress.message or status.message})
    if progress.state == ActionState.SUCCEEDED:
        return status.model_copy(update={"finishedAt": stamp}), [
            Event(Reason.ACTION_COMPLETED,
                  f"{status.stage} action {spec.name} completed: {progress.message}".rstrip(": "), subject=spec.name)]
    if progress.state == ActionState.FAILED:
        return status.model_copy(update={"finishedAt": stamp}), [
            Event(Reason.ACTION_FAILED, f"{status.stage} action {spec.name} failed: {progress.message}", warning=True,
                  subject=spec.name)]
    return status, []


def running(statuses: list[ActionStatus]) -> list[str]:
    """Names of the actions the shell should execute before the next evaluation."""
    return [s.name for s in statuses if s.state == ActionState.RUNNING]
