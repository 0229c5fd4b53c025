"""When a plan must be looked at again, and when each of its checks must be probed.

The shell does not poll. A plan's loop sleeps until a change it reads arrives from a watch, or
until the earliest moment this module names:

- :func:`next_deadline`: the plan's own timed steps (a hold or a cool-down ending, the next batch of
  a release, the end of ``observeFor``, the restoration budget running out);
- :func:`probe_due`: each check on its own cadence (``interval``), and also exactly when its result
  must be fresh to be judged right: when a ``stableFor`` would be reached, when its ``timeout``
  would expire, when a hold whose analysis it is ends;
- :func:`busy`: while actions run, the shell also looks at a short fixed interval, because it reads
  their progress (a Job, an HTTP call's spacing) by asking. A ramp needs no such tick: its targets
  are followed by watches, and its holds and cool-downs are deadlines.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from reentry.engine import check_rules
from reentry.engine.timeutil import parse_time
from reentry.model import (
    FINISHED_PHASES,
    Check,
    CheckStatus,
    Outcome,
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    ServiceState,
    TrafficState,
    parse_duration,
)


def next_deadline(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None) -> datetime | None:
    """The earliest moment one of the plan's timed steps falls due, if any (it may be in the past)."""
    if status is None:
        return None
    due: list[datetime] = []
    if ramp_moving(status) and status.traffic is not None:
        due += [parse_time(t) for t in (status.traffic.holdUntil, status.traffic.coolDownUntil) if t]
    if status.phase in FINISHED_PHASES:
        return min(due, default=None)  # an aborted plan still walks its weight back to 0
    if status.restoration is not None and not status.restoration.exceeded:
        due.append(parse_time(status.restoration.deadline))
    if status.phase == Phase.PAUSED:
        return min(due, default=None)
    by_name = {s.name: s for s in spec.services}
    for service in status.services:
        service_spec = by_name.get(service.name)
        if service.state == ServiceState.RELEASING and service.lastBatchAt and service_spec is not None:
            due.append(parse_time(service.lastBatchAt) + parse_duration(service_spec.release.interval))
    if status.observingSince and spec.validation.observeFor:
        due.append(parse_time(status.observingSince) + parse_duration(spec.validation.observeFor))
    return min(due, default=None)


def probe_due(check: Check, status: CheckStatus | None, last_probed: datetime | None,
              judged_at: Iterable[datetime] = ()) -> datetime | None:
    """When ``check`` must next be probed; None when it never was (it is due at once).

    ``last_probed`` is when its latest result was observed; ``judged_at`` the moments the traffic
    ramp judges its analysis (a hold or a cool-down ending). A probe never runs sooner than its
    interval, except to have a fresh result at the moments the check is judged.
    """
    if last_probed is None:
        return None
    due = [last_probed + parse_duration(check.interval)]
    if status is not None and not status.overridden:
        passing = check_rules.counts_as(check, status.result) == Outcome.PASS
        if passing and status.passingSince and check.stableFor:
            due.append(parse_time(status.passingSince) + parse_duration(check.stableFor))
        if check.timeout and status.firstEvaluatedAt:
            due.append(parse_time(status.firstEvaluatedAt) + parse_duration(check.timeout))
    due += judged_at
    after = [d for d in due if d > last_probed]
    return min(after, default=due[0])


def analysis_judged_at(status: RecoveryPlanStatus | None) -> list[datetime]:
    """When the ramp next judges its analysis: the end of the hold or of the cool-down under way."""
    if status is None or status.traffic is None:
        return []
    return [parse_time(t) for t in (status.traffic.holdUntil, status.traffic.coolDownUntil) if t]


def ramp_moving(status: RecoveryPlanStatus) -> bool:
    """The ramp is under way in a running plan, or walking back to 0 after an abort (not while paused)."""
    state = status.traffic.state if status.traffic else None
    if status.phase == Phase.PAUSED or state in (None, TrafficState.DONE):
        return False
    return state == TrafficState.ABORTING or status.phase not in FINISHED_PHASES


def busy(status: RecoveryPlanStatus | None, running_actions: Iterable[str]) -> bool:
    """True while the plan's progress must be asked for: actions running."""
    if status is None or status.phase == Phase.PAUSED or status.phase in FINISHED_PHASES:
        return False
    return any(True for _ in running_actions)


#: A status change that only reports progress (see :func:`progress_only`) is written at most this often.
PROGRESS_INTERVAL = timedelta(seconds=1)
#: The counts in a service's status: what the caches show, recomputed by every evaluation.
_COUNTS = ("releasedPods", "totalPods", "heldPods", "readyEndpoints")


def progress_only(before: RecoveryPlanStatus | None, after: RecoveryPlanStatus) -> bool:
    """``after`` differs from ``before`` only in what reports progress: the services' pod and endpoint
    counts and the words of messages (the plan's, its stages', its conditions').

    Such a change records no step: the next evaluation computes it again from the caches, so it may
    wait (:data:`PROGRESS_INTERVAL`) to be written with the next one. Without this, a release of 500
    pods wrote the status once per pod event. Every other change (a phase, a state, a condition's
    reason or status, a time recorded) is written at once, before anything is acted on.
    """
    return before is not None and before != after and _without_progress(before) == _without_progress(after)


def _without_progress(status: RecoveryPlanStatus) -> RecoveryPlanStatus:
    return status.model_copy(update={
        "message": None,
        "services": [s.model_copy(update=dict.fromkeys(_COUNTS, 0)) for s in status.services],
        "stages": [s.model_copy(update={"message": None}) for s in status.stages],
        "conditions": [c.model_copy(update={"message": ""}) for c in status.conditions],
    })
