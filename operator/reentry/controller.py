"""One reconciliation of one plan: observe, evaluate (pure), write status, then act.

1. Observe: services (pods, endpoints), the checks the engine wants, one step of every Running
   action, and before the start the plan's references.
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
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from reentry import actions, checks, model, targets
from reentry.engine import controls, preflight, selectors
from reentry.engine.observations import ActionProgress, CheckResult, Event, Observations, SetWeight, TargetObservation
from reentry.engine.reconcile import Decision, evaluate, invalid, ramp_under_way, running_actions, wanted_checks
from reentry.engine.validation import all_actions
from reentry.errors import describe_validation_error
from reentry.kube import Kube, LabeledPod
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


async def _unmatched(kube: Kube, namespace: str, pods: list[LabeledPod]) -> tuple[str, ...]:
    held = [p for p in pods if p.pod.gated and not p.pod.released]
    if not held:
        return ()
    plan_selectors = await kube.plan_selectors(namespace)
    return tuple(p.pod.name for p in held if not any(selectors.matches(s, p.labels) for s in plan_selectors))


async def observe(kube: Kube, objects: Objects, namespace: str, name: str, uid: str, spec: model.RecoveryPlanSpec,
                  status: model.RecoveryPlanStatus | None, metadata: Mapping[str, Any]) -> Observations:
    """Everything the engine needs for one evaluation of this plan.

    Reads that do not depend on each other run concurrently, so an evaluation waits for the
    slowest answer rather than the sum of them (it is on the path from a hold's end to the next
    step). Actions run one after another, in the plan's order.
    """
    pods, targets_seen, wanted = await asyncio.gather(
        kube.namespace_pods(namespace), _observe_targets(objects, namespace, spec, status),
        _probe_all(kube, objects, namespace, wanted_checks(spec, status)))
    services = dict(zip((s.name for s in spec.services), await asyncio.gather(
        *(kube.observe_service(namespace, s, pods) for s in spec.services)), strict=True))
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
        unmatched_gated_pods=await _unmatched(kube, namespace, pods),
    )


async def _probe_all(kube: Kube, objects: Objects, namespace: str, wanted: list[model.Check]) -> dict[str, CheckResult]:
    results = await asyncio.gather(*(checks.probe(kube, objects, namespace, c) for c in wanted))
    return {c.name: r for c, r in zip(wanted, results, strict=True)}


async def _observe_targets(objects: Objects, namespace: str, spec: model.RecoveryPlanSpec,
                           status: model.RecoveryPlanStatus | None) -> dict[str, TargetObservation]:
    if not ramp_under_way(status) or status is None or status.traffic is None:
        return {}
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
                events.append(Event("TrafficWriteFailed", f"could not set {target.label} to {weight}%: {cause}; "
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


async def reconcile(kube: Kube, objects: Objects, body: Mapping[str, Any], now: datetime | None = None,
                    failing_writes: dict[str, str] | None = None) -> Decision:
    """Advance one RecoveryPlan as far as the cluster allows; return what was decided.

    ``failing_writes`` is the caller's memory of refused target writes (see :func:`write_weights`).
    """
    raw, status = parse(body)
    meta = raw["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    try:
        spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError as err:
        decision = invalid(status, generation, describe_validation_error(err), now or datetime.now(UTC))
    else:
        observed = await observe(kube, objects, namespace, name, meta.get("uid", ""), spec, status, meta)
        decision = evaluate(spec, generation, status, observed, now or datetime.now(UTC))

    if decision.status != status:
        await kube.write_status(namespace, name, decision.status)
    for release in decision.actions:
        await kube.release_pods(namespace, list(release.pods))
    if decision.weights:
        decision.events.extend(await write_weights(objects, namespace, spec, decision.weights, failing_writes))
    return decision


def safe_weight_on_delete(spec: model.RecoveryPlanSpec, status: model.RecoveryPlanStatus | None) -> int | None:
    """The weight the targets return to when a plan is deleted, or None to leave them as they are.

    A restored plan's traffic stays where the ramp put it; a plan deleted mid-ramp (or aborted on
    the way back) returns its targets to weight 0, the fallback, unless ``safeState: KeepCurrent``.
    """
    if spec.mode == model.Mode.DRY_RUN or not spec.traffic.targets or status is None or status.traffic is None:
        return None
    if status.phase == model.Phase.RESTORED or status.traffic.state is None:
        return None
    if spec.traffic.safeState == model.SafeState.KEEP_CURRENT or status.traffic.weight == 0:
        return None
    return 0


async def release_on_delete(kube: Kube, body: Mapping[str, Any], objects: Objects | None = None) -> int:
    """A deleted plan governs nothing: its targets go to their safe state, every gated pod it selects is let in.

    Returns how many pods were released. A weight that cannot be written raises, so kopf keeps the
    finalizer and retries: the plan does not disappear with traffic half-moved.
    """
    raw, status = parse(body)
    try:
        spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError:
        return 0
    if spec.mode == model.Mode.DRY_RUN:
        return 0
    namespace = raw["metadata"]["namespace"]
    weight = safe_weight_on_delete(spec, status)
    if weight is not None and objects is not None:
        for target in spec.traffic.targets:
            await targets.apply(objects, namespace, target, weight)
    released = 0
    pods = await kube.namespace_pods(namespace)
    for service in spec.services:
        held = [p.pod.name for p in pods if not p.pod.released and selectors.matches(service.selector, p.labels)]
        released += await kube.release_pods(namespace, held)
    return released
