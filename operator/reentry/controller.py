"""One reconciliation of one plan: observe, evaluate (pure), write status, then act.

1. Observe: services (pods, endpoints: from the watch-backed caches, see ``reentry.cache``), the
   checks the engine wants that are due (each on its own cadence, see ``engine.schedule``), one step
   of every Running action, the targets during a ramp (followed by watches, see ``Objects.follow``),
   and before the start the plan's references.
2. Evaluate: the engine decides the new status, pod releases and events.
3. Write the status, *then* release pods and write traffic weights. If the operator dies in
   between, the restarted one reads the batch as already started and waits its interval, and finds
   the targets not showing the recorded weight and writes them: a crash can slow a release or a
   step but never speed it past what the plan allows. Releasing and writing a weight are
   idempotent, and every action step is too (see ``reentry.actions``), so a step repeated after a
   crash shows its effect once.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from reentry import actions, cache, checks, errors, model, targets
from reentry.engine import consent, controls, preflight, protection, schedule, selectors
from reentry.engine.evaluation import Decision
from reentry.engine.observations import ActionProgress, CheckResult, Event, Observations, SetWeight, TargetObservation
from reentry.engine.reasons import Reason
from reentry.engine.reconcile import evaluate, invalid, ramp_under_way, running_actions, wanted_checks
from reentry.engine.sections import all_actions
from reentry.errors import describe_validation_error
from reentry.kube import Kube
from reentry.objects import Objects, describe_error

log = logging.getLogger(__name__)

_NOT_STARTED = (None, model.Phase.PENDING, model.Phase.ARMED)


async def _missing_refs(objects: Objects, namespace: str, spec: model.RecoveryPlanSpec) -> tuple[str, ...]:
    missing = []
    for label, ref in preflight.references(spec):
        try:
            found = await objects.get(ref, ref.namespace or namespace)
        except Exception as err:
            missing.append(f"{label}: {err}")
            continue
        if found is None:
            missing.append(label)
    return tuple(missing)


#: What a plan that names another namespace needs (``reentry run --cross-namespace-references``).
CROSS_NAMESPACE = consent.Policy.GRANTED


def grants_owner(key: tuple[str, str]) -> tuple[str, str, str]:
    """Under whose name a plan's loop follows the grants it waits for (apart from its targets)."""
    return *key, "grants"


async def refused_references(objects: Objects, spec: model.RecoveryPlanSpec, namespace: str,
                             memory: PlanMemory) -> list[str]:
    """Why the plan may not name the other namespaces it names; empty when it may (see
    ``reentry.engine.consent``). While refused, each grant is followed, so granting wakes the plan."""
    foreign = consent.foreign_namespaces(spec, namespace)
    owner = grants_owner(memory.key)
    if not foreign or CROSS_NAMESPACE == consent.Policy.ALLOWED:
        if memory.awaiting_grants:
            objects.unfollow(owner)
            memory.awaiting_grants = False
        return []
    refs = {other: model.ObjectRef(apiVersion="v1", kind="ConfigMap", name=consent.GRANT_CONFIGMAP, namespace=other)
            for other in foreign}
    grants: dict[str, frozenset[str] | str] = {}
    for other, ref in refs.items():
        try:
            found = await objects.get(ref, other)
        except errors.ApiRefused as err:
            grants[other] = f"its grant could not be read: {describe_error(err)}"
        else:
            grants[other] = consent.granted_from((found or {}).get("data"))
    refused = consent.refusals(foreign, grants, namespace)
    if refused:
        for other, ref in refs.items():
            objects.follow(ref, other, owner, memory.wake)
    elif memory.awaiting_grants:
        objects.unfollow(owner)
    memory.awaiting_grants = bool(refused)
    return refused


#: While actions run (or a traffic target cannot be watched), the plan is also looked at this often
#: (seconds): their progress is read by asking, not from a watch.
ACTIVE_INTERVAL = 0.5
#: How long a released pod counts as released without the watch showing it so (a patch the API
#: server accepted shows up within milliseconds; this only bounds a lost event).
RELEASE_EXPECTATION = timedelta(seconds=30)
#: After an evaluation that changed the status, the next one follows at once (the engine may have
#: more to do: a stage passed, a service attached), at most this many times in a row.
MAX_HURRIED = 20


@dataclass
class PlanMemory:
    """What one plan's loop keeps between evaluations. Lost on a restart, harmlessly: every check is
    then probed once at once, and a refused write is reported once more."""

    key: tuple[str, str] = ("", "")
    """The plan's namespace and name: it follows its traffic targets under this key."""
    wake: Callable[[], None] = lambda: None
    """Wakes the plan's loop: called when a followed target changes."""
    spec: model.RecoveryPlanSpec | None = None
    """The spec as the latest evaluation validated it (None: invalid), for the schedule after it."""
    failing_writes: dict[str, str] = field(default_factory=dict)
    """Target label -> the last refusal, so a repeat is not a new Event (see :func:`write_weights`)."""
    probed: dict[str, tuple[model.Check, datetime]] = field(default_factory=dict)
    """Check name -> the check as it was probed and when its latest result was observed."""
    written: str | None = None
    """The plan's resourceVersion after this loop's latest status write: the next evaluation waits
    until the watch has delivered at least that version, so it never starts from an older status."""
    written_at: datetime | None = None
    """When this loop last wrote the status."""
    progress_due: datetime | None = None
    """A status change that only reports progress was left unwritten: the loop looks again then."""
    awaiting_grants: bool = False
    """The plan names namespaces that do not grant it: their grants are followed (see :func:`refused_references`)."""
    targets_unwatched: bool = False
    """A traffic target could not be watched lately: the loop reads the targets on a short interval."""
    releasing: dict[str, datetime] = field(default_factory=dict)
    """Pods released by this loop that the cache may not show released yet, and when (the
    "expectations" of Kubernetes' own controllers): they count as released until the watch shows
    them so, so a pod is never released, counted and announced twice."""

    def expect_released(self, pods: list[cache.CachedPod], now: datetime) -> list[cache.CachedPod]:
        """``pods`` with the ones this loop released counted as released; forget what the cache caught up on."""
        seen = {p.name: p for p in pods}
        for name, at in list(self.releasing.items()):
            pod = seen.get(name)
            if pod is None or pod.released or now - at > RELEASE_EXPECTATION:
                del self.releasing[name]
        return [p._replace(released=True) if p.name in self.releasing else p for p in pods]

    def probe_due(self, check: model.Check, status: model.RecoveryPlanStatus | None) -> datetime | None:
        """When ``check`` is next due (None: at once, never probed or changed since)."""
        seen = self.probed.get(check.name)
        if seen is None or seen[0] != check:
            return None
        current = next((c for c in status.checks if c.name == check.name), None) if status else None
        return schedule.probe_due(check, current, seen[1], schedule.analysis_judged_at(status))


def next_wake(status: model.RecoveryPlanStatus | None, memory: PlanMemory, decided_at: datetime, resync: float,
              hurried: int = 0) -> float:
    """Seconds until the plan must be evaluated again though nothing it watches changed.

    The earliest of its timed steps, its checks' probes, a short interval while it is busy, and the
    resync (a safety net, not a clock). A deadline that had already passed when the evaluation
    started is no reason to hurry (the engine then waits on something else); one that passed during
    the evaluation is due now. An invalid plan (``memory.spec`` None) waits for its spec to change
    (or the resync).
    ``hurried``: how many evaluations in a row changed the status, this one included; while under
    :data:`MAX_HURRIED`, the next evaluation follows at once.
    """
    if 0 < hurried <= MAX_HURRIED:
        return 0.0
    spec = memory.spec
    if spec is None:
        return resync
    delay = resync
    if schedule.busy(status, running_actions(status)) or (memory.targets_unwatched and ramp_under_way(status)):
        delay = min(delay, ACTIVE_INTERVAL)
    probes = [memory.probe_due(c, status) for c in wanted_checks(spec, status)]
    if any(due is None for due in probes):
        return 0.0  # a check this evaluation did not probe yet (its stage just began)
    now = datetime.now(UTC)
    for due in [schedule.next_deadline(spec, status), *probes, memory.progress_due]:
        if due is not None and due > decided_at:
            delay = min(delay, max(0.0, (due - now).total_seconds()))
    return delay


async def observe(kube: Kube, objects: Objects, view: cache.View, namespace: str, name: str, uid: str,
                  spec: model.RecoveryPlanSpec, status: model.RecoveryPlanStatus | None, metadata: Mapping[str, Any],
                  memory: PlanMemory | None = None) -> Observations:
    """Everything the engine needs for one evaluation of this plan.

    Pods, endpoints and Services come from the caches. Reads that do not depend on each other run
    concurrently, so an evaluation waits for the slowest answer rather than the sum of them (it is
    on the path from a hold's end to the next step). Actions run one after another, in the plan's
    order. Without ``memory`` every wanted check is probed.
    """
    memory = memory if memory is not None else PlanMemory()
    targets_seen, wanted = await asyncio.gather(
        _observe_targets(objects, namespace, spec, status, memory),
        _probe_due(kube, objects, namespace, spec, status, memory))
    pods = memory.expect_released(view.namespace_pods(namespace), datetime.now(UTC))
    services = {s.name: view.observe_service(namespace, s, pods) for s in spec.services}
    progress: dict[str, ActionProgress] = {}
    if spec.mode == model.Mode.ENFORCE and status is not None:
        by_name = {a.name: a for _, a in all_actions(spec)}
        records = {a.name: a.record for a in status.actions}
        for action_name in running_actions(status):
            context = actions.ActionContext(plan_name=name, plan_uid=uid, action_name=action_name)
            progress[action_name] = await actions.execute(kube, objects, namespace, context, by_name[action_name],
                                                          dict(records.get(action_name) or {}))
    before_start = status is None or status.phase in _NOT_STARTED
    return Observations(
        targets=targets_seen,
        services=services,
        controls=controls.from_metadata(metadata),
        checks=wanted,
        actions=progress,
        missing_refs=await _missing_refs(objects, namespace, spec) if before_start else (),
        unmatched_gated_pods=view.unmatched_gated_pods(namespace, pods),
    )


async def _probe_due(kube: Kube, objects: Objects, namespace: str, spec: model.RecoveryPlanSpec,
                     status: model.RecoveryPlanStatus | None, memory: PlanMemory) -> dict[str, CheckResult]:
    """Probe the wanted checks that are due; the others are left out (the engine keeps their last result)."""
    now = datetime.now(UTC)
    due = [c for c in wanted_checks(spec, status) if (memory.probe_due(c, status) or now) <= now]

    async def one(check: model.Check) -> CheckResult:
        result = await checks.probe(kube, objects, namespace, check)
        observed_at = datetime.now(UTC)
        memory.probed[check.name] = (check, observed_at)
        return dataclasses.replace(result, observed_at=observed_at)

    results = await asyncio.gather(*(one(c) for c in due))
    return {c.name: r for c, r in zip(due, results, strict=True)}


async def _observe_targets(objects: Objects, namespace: str, spec: model.RecoveryPlanSpec,
                           status: model.RecoveryPlanStatus | None, memory: PlanMemory) -> dict[str, TargetObservation]:
    """The targets against the weight in status, while the ramp is under way. Meanwhile each target is
    followed by a watch of its own: reads come from memory, and any change to one wakes the plan."""
    if not ramp_under_way(status) or status is None or status.traffic is None:
        objects.unfollow(memory.key)
        memory.targets_unwatched = False
        return {}
    for target in spec.traffic.targets:
        objects.follow(target.written, namespace, memory.key, memory.wake)
    memory.targets_unwatched = not objects.followed_well(memory.key)
    weight = status.traffic.weight
    seen = await asyncio.gather(*(targets.observe(objects, namespace, t, weight) for t in spec.traffic.targets))
    return {t.label: obs for t, obs in zip(spec.traffic.targets, seen, strict=True)}


async def write_weights(objects: Objects, namespace: str, spec: model.RecoveryPlanSpec, writes: list[SetWeight],
                        failing: dict[str, str] | None = None) -> list[Event]:
    """Write each decided weight to its targets, all targets of a step together.

    A refused write is retried on the next evaluation (the target still does not show the weight).
    ``failing`` remembers the last refusal per target across evaluations, so a refusal that
    repeats becomes one Warning Event, not one per evaluation.
    """
    by_label = {t.label: t for t in spec.traffic.targets}
    failing = failing if failing is not None else {}
    events: list[Event] = []

    async def one(target: model.Target, weight: int) -> None:
        try:
            await targets.apply(objects, namespace, target, weight)
        except Exception as err:
            cause = describe_error(err)
            log.warning("writing weight %d to %s in %s failed: %s", weight, target.label, namespace, cause)
            if failing.get(target.label) != cause:
                events.append(Event(Reason.TRAFFIC_WRITE_FAILED, f"could not set {target.label} to {weight}%: {cause}; "
                                                          "retrying", warning=True))
            failing[target.label] = cause
        else:
            failing.pop(target.label, None)

    await asyncio.gather(*(one(by_label[label], w.weight) for w in writes for label in w.targets if label in by_label))
    return events


def parse(body: Mapping[str, Any]) -> tuple[dict[str, Any], model.RecoveryPlanStatus | None]:
    """A plain copy of the object and its status as the model (None before the first write)."""
    raw = copy.deepcopy(dict(body))
    status = model.RecoveryPlanStatus.model_validate(raw["status"]) if raw.get("status") else None
    return raw, status


async def reconcile(kube: Kube, objects: Objects, view: cache.View, body: Mapping[str, Any],
                    now: datetime | None = None, memory: PlanMemory | None = None) -> Decision:
    """Advance one RecoveryPlan as far as the cluster allows; return what was decided.

    ``memory`` is what the plan's loop keeps between evaluations (see :class:`PlanMemory`).
    """
    memory = memory if memory is not None else PlanMemory()
    raw, status = parse(body)
    meta = raw["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    try:
        spec = memory.spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError as err:
        memory.spec = None
        decision = invalid(status, generation, describe_validation_error(err), now or datetime.now(UTC))
    else:
        refused = await refused_references(objects, spec, namespace, memory)
        if refused:  # nothing is read or written for the plan until the other namespaces agree
            decision = invalid(status, generation, "; ".join(refused), now or datetime.now(UTC))
        else:
            observed = await observe(kube, objects, view, namespace, name, meta.get("uid", ""), spec, status,
                                     meta, memory)
            decision = evaluate(spec, generation, status, observed, now or datetime.now(UTC))

    if decision.status != status:
        if status is not None and memory.written_at is not None and \
                _progress_may_wait(memory.written_at, status, decision, datetime.now(UTC)):
            # Written by a later evaluation: the loop wakes when the interval since the last write ends.
            memory.progress_due = memory.written_at + schedule.PROGRESS_INTERVAL
            decision = dataclasses.replace(decision, status=status)
        else:
            memory.written = await kube.write_status(namespace, name, decision.status)
            memory.written_at, memory.progress_due = datetime.now(UTC), None
    for release in decision.releases:
        started = time.monotonic()
        released = await kube.release_pods(namespace, list(release.pods))
        memory.releasing.update(dict.fromkeys(release.pods, datetime.now(UTC)))
        log.info("released %d pod(s) of service %s in %.3f s", released, release.service, time.monotonic() - started)
    if decision.weights:
        decision.events.extend(await write_weights(objects, namespace, spec, decision.weights,
                                                   memory.failing_writes))
    return decision


def _progress_may_wait(written_at: datetime, status: model.RecoveryPlanStatus, decision: Decision,
                       now: datetime) -> bool:
    """Whether this status change may be left for a later evaluation: it only reports progress
    (:func:`reentry.engine.schedule.progress_only`), nothing else was decided, and the latest write
    (``written_at``) is less than :data:`~reentry.engine.schedule.PROGRESS_INTERVAL` old."""
    if decision.releases or decision.events or decision.weights:
        return False
    return now < written_at + schedule.PROGRESS_INTERVAL and schedule.progress_only(status, decision.status)


# ---- the finalizer: kept only while the plan protects something (``engine.protection``) -----------


def valid_spec(body: Mapping[str, Any]) -> model.RecoveryPlanSpec | None:
    """The plan's spec, or None if it is invalid (the evaluation reports why)."""
    try:
        return model.RecoveryPlanSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None


def protects(spec: model.RecoveryPlanSpec | None, status: model.RecoveryPlanStatus | None) -> bool:
    """Whether deleting the plan, as ``status`` leaves it, would leave something to hand back (an
    invalid plan, ``spec`` None, holds nothing)."""
    return spec is not None and protection.protects(spec, status)


async def keep_finalizer(kube: Kube, body: Mapping[str, Any], wanted: bool) -> str | None:
    """Add or remove the plan's finalizer as ``wanted``; the plan's resourceVersion after a write, None if
    it was already so. Other finalizers are kept (the write fails if they changed meanwhile)."""
    metadata = body.get("metadata") or {}
    present = list(metadata.get("finalizers") or [])
    if (model.FINALIZER in present) == wanted:
        return None
    after = [*present, model.FINALIZER] if wanted else [f for f in present if f != model.FINALIZER]
    return await kube.write_finalizers(metadata["namespace"], metadata["name"], present, after,
                                       metadata.get("resourceVersion"))


def deleting(body: Mapping[str, Any]) -> bool:
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


async def finish_deletion(kube: Kube, objects: Objects, body: Mapping[str, Any]) -> int | None:
    """A plan being deleted: hand back what it holds (:func:`release_on_delete`), then let it go
    (its finalizer removed). The pods released; None when the plan carried no finalizer of ours."""
    if model.FINALIZER not in ((body.get("metadata") or {}).get("finalizers") or []):
        return None
    released = await release_on_delete(kube, body, objects)
    await keep_finalizer(kube, body, wanted=False)
    return released


async def release_on_delete(kube: Kube, body: Mapping[str, Any], objects: Objects | None = None) -> int:
    """A deleted plan governs nothing: its targets go to their safe state, every gated pod it selects is let in.

    Returns how many pods were released. A weight that cannot be written raises, so the finalizer
    stays and the loop retries: the plan does not disappear with traffic half-moved.
    """
    raw, status = parse(body)
    try:
        spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError:
        return 0
    if spec.mode == model.Mode.DRY_RUN:
        return 0
    namespace = raw["metadata"]["namespace"]
    weight = protection.safe_weight_on_delete(spec, status)
    if weight is not None and objects is not None:
        for target in spec.traffic.targets:
            await targets.apply(objects, namespace, target, weight)
    released = 0
    pods = await kube.namespace_pods(namespace)
    for service in spec.services:
        held = [p.name for p in pods if not p.released and selectors.matches(service.selector, p.labels)]
        released += await kube.release_pods(namespace, held)
    return released
