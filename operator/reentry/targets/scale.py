"""``scale``: a Deployment's or StatefulSet's ``spec.replicas`` from ``from`` to ``to`` with the weight.

So consumers (queue workers, stream readers) re-attach gradually instead of all at once. Written
with server-side apply (field manager ``reentry``, forced) of ``spec.replicas`` alone, so ``reentry``
owns that one field. Do not point it at a workload an HPA scales: the two would fight over the
count (ramp the HPA's bounds with the ``hpa`` target instead).

Took effect: the workload controller has seen the new count (``status.observedGeneration >=
metadata.generation``). That says the controller acted on it, not that the pods are ready: readiness
belongs in the hold's analysis (a ``workload`` check), where it can fail the step.
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.engine.ramp import value_at
from reentry.kube import FIELD_MANAGER
from reentry.objects import Objects
from reentry.targets.common import TargetError, describe, generation_observed, missing, ref


def _target(spec: model.ScaleTarget) -> model.ObjectRef:
    return ref("apps/v1", spec.kind, spec.name, spec.namespace)


def judge(workload: dict[str, Any], spec: model.ScaleTarget, weight: int) -> TargetObservation:
    """The observation for a workload read from the API server (pure)."""
    want = value_at(spec.from_, spec.to, weight)
    replicas = (workload.get("spec") or {}).get("replicas")
    in_place = replicas == want
    if not in_place:
        return TargetObservation(found=True, in_place=False, effective=False, shows=f"replicas={replicas}",
                                 message=f"wants replicas={want}")
    seen = generation_observed(workload) is True
    return TargetObservation(found=True, in_place=True, effective=seen, shows=f"replicas={replicas}",
                             message="" if seen else f"waiting for the {spec.kind} controller to observe the "
                             "current generation")


async def observe(objects: Objects, plan_namespace: str, spec: model.ScaleTarget, weight: int) -> TargetObservation:
    """Read the workload and judge its replicas against ``weight``."""
    target = _target(spec)
    workload = await objects.get(target, plan_namespace)
    return missing(target, plan_namespace) if workload is None else judge(workload, spec, weight)


async def apply(objects: Objects, plan_namespace: str, spec: model.ScaleTarget, weight: int) -> bool:
    """Apply the replica count for ``weight`` unless the workload already has it."""
    target = _target(spec)
    workload = await objects.get(target, plan_namespace)
    if workload is None:
        raise TargetError(f"{describe(target, plan_namespace)} not found")
    if judge(workload, spec, weight).in_place:
        return False
    await objects.apply(target, plan_namespace, {"spec": {"replicas": value_at(spec.from_, spec.to, weight)}},
                        field_manager=FIELD_MANAGER, force=True)
    return True
