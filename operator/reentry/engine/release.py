"""Dependency convergence: lift the readiness gate service by service, bottom-up, in batches.

A service stays ``Held`` until every service it ``dependsOn`` is ``Attached``. Then it is
``Releasing``: its gated pods are released a batch at a time, ``interval`` apart. It becomes
``Attached`` once all its pods are released and its Service shows ``minReadyEndpoints`` ready
endpoints. Attachment is a milestone and is kept: a later crash of a pod does not re-hold the
dependents, and any new gated pod of an Attached service is released at once (no stranded pods).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from reentry.engine.observations import Event, ReleasePods, ServiceObservation
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_time, parse_time
from reentry.model import ServiceSpec, ServiceState, ServiceStatus, parse_duration


def batch_size(batch: int | str, total: int) -> int:
    """Pods per batch: a count, or a percentage of ``total`` rounded up (at least one)."""
    if isinstance(batch, int):
        return batch
    return max(1, math.ceil(total * int(batch.rstrip("%")) / 100))


def observe_counts(status: ServiceStatus, observed: ServiceObservation) -> ServiceStatus:
    """Refresh the pod and endpoint counts from what was observed."""
    return status.model_copy(update={
        "totalPods": len(observed.pods),
        "releasedPods": sum(1 for p in observed.pods if p.released),
        "heldPods": sum(1 for p in observed.pods if not p.released),
        "readyEndpoints": observed.ready_endpoints,
    })


def _unreleased(observed: ServiceObservation) -> list[str]:
    return sorted(p.name for p in observed.pods if p.gated and not p.released)


def step_service(spec: ServiceSpec, status: ServiceStatus, observed: ServiceObservation,
                 attached: set[str], now: datetime, release_allowed: bool, dry_run: bool = False
                 ) -> tuple[ServiceStatus, ReleasePods | None, list[Event]]:
    """Advance one service by one evaluation.

    ``release_allowed`` is False before the dependencies stage and while paused or aborted: only
    new pods of an already Attached service are let in then. In a dry run nothing is released: the
    service reports how many pods it would release and counts as attached on the next evaluation.
    Returns the new status, the pods to release now (if any) and the events to emit.
    """
    status = observe_counts(status, observed)
    events: list[Event] = []
    pending = _unreleased(observed)
    stamp = format_time(now)

    if status.state == ServiceState.ATTACHED:
        # No stranded pods: a new, rescheduled or scaled-up pod of an attached service goes straight in.
        if pending and not dry_run:
            return status, ReleasePods(spec.name, tuple(pending)), events
        return status, None, events

    waiting = [d for d in spec.dependsOn if d not in attached]
    if waiting or not release_allowed:
        # Held stays Held; a Releasing service frozen by a pause stays Releasing where it is.
        return status.model_copy(update={"waitingFor": waiting}), None, events

    if dry_run:
        return _dry_run(spec, status, pending, stamp)

    if status.state == ServiceState.HELD:
        status = status.model_copy(update={"state": ServiceState.RELEASING, "waitingFor": [],
                                           "releaseStartedAt": stamp})
        events.append(Event(Reason.SERVICE_RELEASING, f"dependencies of {spec.name} are attached; releasing its pods",
                            subject=spec.name))

    action = None
    if pending:
        interval = parse_duration(spec.release.interval)
        last = parse_time(status.lastBatchAt) if status.lastBatchAt else None
        if last is None or now - last >= interval:
            gated_total = sum(1 for p in observed.pods if p.gated)
            chosen = tuple(pending[: batch_size(spec.release.batch, gated_total)])
            action = ReleasePods(spec.name, chosen)
            status = status.model_copy(update={"lastBatchAt": stamp})
            done = gated_total - len(pending) + len(chosen)
            events.append(Event(Reason.PODS_RELEASED, f"{spec.name}: released {len(chosen)} pod(s), "
                                                f"{done}/{gated_total} of its gated pods", subject=spec.name))
    elif status.readyEndpoints >= spec.minReadyEndpoints and status.totalPods > 0:
        status = status.model_copy(update={"state": ServiceState.ATTACHED, "attachedAt": stamp})
        events.append(Event(Reason.SERVICE_ATTACHED, f"{spec.name} attached with {status.readyEndpoints} ready "
                                               f"endpoint(s) (min {spec.minReadyEndpoints})", subject=spec.name))
    return status, action, events


def _dry_run(spec: ServiceSpec, status: ServiceStatus, pending: list[str], stamp: str
             ) -> tuple[ServiceStatus, None, list[Event]]:
    if status.state == ServiceState.HELD:
        message = (f"dry run: would release {len(pending)} pod(s) of {spec.name} in batches of "
                   f"{spec.release.batch} every {spec.release.interval}")
        return status.model_copy(update={"state": ServiceState.RELEASING, "waitingFor": [],
                                         "releaseStartedAt": stamp, "wouldRelease": len(pending)}), None, [
            Event(Reason.DRY_RUN_WOULD_RELEASE, message, subject=spec.name)]
    return status.model_copy(update={"state": ServiceState.ATTACHED, "attachedAt": stamp}), None, [
        Event(Reason.SERVICE_ATTACHED, f"dry run: {spec.name} would be attached next", subject=spec.name)]


def step_services(specs: Sequence[ServiceSpec], order: Sequence[str], statuses: dict[str, ServiceStatus],
                  observed: dict[str, ServiceObservation], now: datetime, release_allowed: bool,
                  dry_run: bool = False) -> tuple[list[ServiceStatus], list[ReleasePods], list[Event]]:
    """Advance every service in bottom-up order; a service attached now lets its dependents in at once."""
    by_name = {s.name: s for s in specs}
    attached = {name for name, st in statuses.items() if st.state == ServiceState.ATTACHED}
    new_statuses: dict[str, ServiceStatus] = {}
    actions: list[ReleasePods] = []
    events: list[Event] = []
    for name in order:
        current = statuses.get(name) or ServiceStatus(name=name)
        new, action, evs = step_service(by_name[name], current, observed.get(name, ServiceObservation()),
                                        attached, now, release_allowed, dry_run)
        new_statuses[name] = new
        if new.state == ServiceState.ATTACHED:
            attached.add(name)
        if action:
            actions.append(action)
        events.extend(evs)
    # Status lists services in the plan's order, which is how a person wrote them.
    return [new_statuses[s.name] for s in specs], actions, events
