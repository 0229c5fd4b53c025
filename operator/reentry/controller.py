"""One reconciliation of one plan: observe, evaluate (pure), write status, then act.

1. Observe: services (pods, endpoints), the checks the engine wants, one step of every Running
   action, and before the start the plan's references.
2. Evaluate: the engine decides the new status, pod releases and events.
3. Write the status, *then* release pods. If the operator dies in between, the restarted one
   reads the batch as already started and waits its interval: a crash can slow a release but never
   speed it past what the plan allows. Releasing is idempotent, and every action step is too
   (see ``reentry.actions``), so a step repeated after a crash shows its effect once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from reentry import actions, checks, model
from reentry.engine import controls, preflight, selectors
from reentry.engine.observations import ActionProgress, CheckResult, Observations
from reentry.engine.reconcile import Decision, evaluate, invalid, running_actions, wanted_checks
from reentry.engine.validation import all_actions
from reentry.errors import describe_validation_error
from reentry.kube import Kube, LabeledPod
from reentry.objects import Objects

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
    """Everything the engine needs for one evaluation of this plan."""
    pods = await kube.namespace_pods(namespace)
    services = {s.name: await kube.observe_service(namespace, s, pods) for s in spec.services}
    results: dict[str, CheckResult] = {}
    for check in wanted_checks(spec, status):
        results[check.name] = await checks.probe(kube, objects, namespace, check)
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
        services=services,
        controls=controls.from_metadata(metadata),
        checks=results,
        actions=progress,
        missing_refs=await _missing_refs(objects, namespace, spec) if before_start else (),
        unmatched_gated_pods=await _unmatched(kube, namespace, pods),
    )


def parse(body: Mapping[str, Any]) -> tuple[dict[str, Any], model.RecoveryPlanStatus | None]:
    """A plain copy of the object and its status as the model (None before the first write)."""
    raw = copy.deepcopy(dict(body))
    status = model.RecoveryPlanStatus.model_validate(raw["status"]) if raw.get("status") else None
    return raw, status


async def reconcile(kube: Kube, objects: Objects, body: Mapping[str, Any], now: datetime | None = None) -> Decision:
    """Advance one RecoveryPlan as far as the cluster allows; return what was decided."""
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
    return decision


async def release_on_delete(kube: Kube, body: Mapping[str, Any]) -> int:
    """A deleted plan governs nothing: open the gate of every pod it selects, so none stays stranded."""
    raw, _ = parse(body)
    try:
        spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError:
        return 0
    if spec.mode == model.Mode.DRY_RUN:
        return 0
    namespace = raw["metadata"]["namespace"]
    released = 0
    pods = await kube.namespace_pods(namespace)
    for service in spec.services:
        held = [p.pod.name for p in pods if not p.pod.released and selectors.matches(service.selector, p.labels)]
        released += await kube.release_pods(namespace, held)
    return released
