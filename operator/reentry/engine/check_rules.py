"""Check bookkeeping: results over time, ``stableFor``, flaps, overrides and timeouts.

A check is *satisfied* when it is overridden, or when its latest result counts as a pass and it
has been passing without interruption for ``stableFor``. Any other result restarts that clock: a
flap is not a pass. NoData counts as the check's ``onNoData`` says: Hold (neither pass nor fail:
wait for data), Pass or Fail. Events are emitted on transitions only, never once per loop.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reentry.engine.observations import CheckResult, Event
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_time, parse_time
from reentry.model import Check, CheckStatus, FailureClass, OnNoData, Outcome, Override, parse_duration


def _stable_for(spec: Check) -> timedelta:
    return parse_duration(spec.stableFor) if spec.stableFor else timedelta(0)


def counts_as(spec: Check, outcome: Outcome | None) -> Outcome | None:
    """The outcome a result counts as: NoData becomes Pass or Fail when ``onNoData`` says so."""
    if outcome == Outcome.NO_DATA and spec.onNoData == OnNoData.PASS:
        return Outcome.PASS
    if outcome == Outcome.NO_DATA and spec.onNoData == OnNoData.FAIL:
        return Outcome.FAIL
    return outcome


def failing(spec: Check, status: CheckStatus | None) -> bool:
    """True when the latest result counts as a failure (Fail or Error) and no override covers it."""
    if status is None or status.overridden:
        return False
    return counts_as(spec, status.result) in (Outcome.FAIL, Outcome.ERROR)


def satisfied(spec: Check, status: CheckStatus | None, now: datetime) -> bool:
    """True when the check counts as passed at ``now``."""
    if status is None:
        return False
    if status.overridden:
        return True
    if counts_as(spec, status.result) != Outcome.PASS or status.passingSince is None:
        return False
    return now - parse_time(status.passingSince) >= _stable_for(spec)


def failure_class(outcome: Outcome, given: FailureClass | None) -> FailureClass | None:
    """Why a result does not pass: the probe's own class, else the one its outcome implies."""
    if outcome == Outcome.PASS:
        return None
    if given is not None:
        return given
    return {Outcome.FAIL: FailureClass.THRESHOLD_MISSED, Outcome.NO_DATA: FailureClass.NO_DATA,
            Outcome.ERROR: FailureClass.INVALID_CONFIGURATION}[outcome]


def timed_out(spec: Check, status: CheckStatus | None, now: datetime) -> bool:
    """True when the check has waited longer than its ``timeout`` without being satisfied."""
    if not spec.timeout or status is None or status.firstEvaluatedAt is None or satisfied(spec, status, now):
        return False
    return now - parse_time(status.firstEvaluatedAt) >= parse_duration(spec.timeout)


def update(spec: Check, stage: str, previous: CheckStatus | None, result: CheckResult | None,
           override: Override | None, now: datetime) -> tuple[CheckStatus, list[Event]]:
    """Fold one probe result (or none, when it was not probed this time) into the check's status."""
    stamp = format_time(now)
    status = previous or CheckStatus(name=spec.name, stage=stage, kind=spec.kind)
    status = status.model_copy(update={"stage": stage, "kind": spec.kind})
    events: list[Event] = []

    if override is not None:
        if not status.overridden:
            events.append(Event(Reason.OVERRIDDEN, f"check {spec.name} overridden: {override.reason}", warning=True,
                                subject=spec.name))
        status = status.model_copy(update={"overridden": True, "overrideReason": override.reason})
    elif status.overridden:
        status = status.model_copy(update={"overridden": False, "overrideReason": None})

    if result is None:
        return status, events

    stamp = format_time(result.observed_at or now)
    changed = result.outcome != status.result
    counted = counts_as(spec, result.outcome)
    passing_since = status.passingSince if counted == Outcome.PASS else None
    if counted == Outcome.PASS and passing_since is None:
        passing_since = stamp
    message = result.message
    if counted != result.outcome:
        message = (message + "; " if message else "") + f"no data counts as {counted} (onNoData)"
    status = status.model_copy(update={
        "result": result.outcome,
        "observed": result.observed,
        "threshold": result.threshold,
        "message": message or None,
        "failureClass": failure_class(result.outcome, result.failure),
        "since": stamp if changed else status.since,
        "passingSince": passing_since,
        "firstEvaluatedAt": status.firstEvaluatedAt or stamp,
    })
    if changed and counted in (Outcome.FAIL, Outcome.ERROR) and not status.overridden:
        detail = f"observed {result.observed}" if result.observed else result.message
        if result.threshold:
            detail += f" ({result.threshold})"
        events.append(Event(Reason.CHECK_FAILED, f"{stage} check {spec.name}: {result.outcome.value}: {detail}",
                            warning=True, subject=spec.name))
    elif changed and counted == Outcome.PASS and previous is not None and previous.result is not None:
        events.append(Event(Reason.CHECK_PASSING, f"{stage} check {spec.name} passes again", subject=spec.name))
    return status, events


def restart_clock(status: CheckStatus, now: datetime) -> CheckStatus:
    """Give a timed-out check a fresh ``timeout`` window (after a person resumes the plan)."""
    return status.model_copy(update={"firstEvaluatedAt": format_time(now)})
