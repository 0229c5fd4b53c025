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
from reentry.objects import Objects
from reentry.targets.common import apply_fields, generation_observed, observe_with, ref


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
    return await observe_with(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.ScaleTarget, weight: int) -> bool:
    """Apply the replica count for ``weight`` unless the workload already has it."""
    replicas = value_at(spec.from_, spec.to, weight)
    return await apply_fields(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight),
                              lambda _: {"spec": {"replicas": replicas}})
