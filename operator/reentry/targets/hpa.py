"""``hpa``: a HorizontalPodAutoscaler's bounds from the degraded values to the normal ones.

``minReplicas`` (and ``maxReplicas`` when the target names it) follow the weight, written together
in one server-side apply (field manager ``reentry``, forced) of just those fields, so the API
server validates the pair at once (``minReplicas <= maxReplicas``) and ``reentry`` owns only them.

Took effect: the bounds in place. An HPA has ``status.observedGeneration`` in its schema, but the
API server (v1.34) keeps no ``metadata.generation`` for HPAs, so there is nothing current to
compare it with; should an HPA ever carry both, the target waits until the autoscaler reports the
current generation. The autoscaler reads the bounds on its next sync (15 s by default).
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.engine.ramp import value_at
from reentry.objects import Objects
from reentry.targets.common import apply_fields, generation_observed, observe_with, ref


def _target(spec: model.HpaTarget) -> model.ObjectRef:
    return ref("autoscaling/v2", "HorizontalPodAutoscaler", spec.name, spec.namespace)


def wanted(spec: model.HpaTarget, weight: int) -> dict[str, int]:
    """The bounds at ``weight``: minReplicas, and maxReplicas when the target ramps it."""
    want = {"minReplicas": value_at(spec.minReplicas.from_, spec.minReplicas.to, weight)}
    if spec.maxReplicas is not None:
        want["maxReplicas"] = value_at(spec.maxReplicas.from_, spec.maxReplicas.to, weight)
    return want


def judge(hpa: dict[str, Any], spec: model.HpaTarget, weight: int) -> TargetObservation:
    """The observation for an HPA read from the API server (pure)."""
    current = hpa.get("spec") or {}
    want = wanted(spec, weight)
    view = f"minReplicas={current.get('minReplicas')} maxReplicas={current.get('maxReplicas')}"
    if any(current.get(k) != v for k, v in want.items()):
        return TargetObservation(found=True, in_place=False, effective=False, shows=view,
                                 message="wants " + " ".join(f"{k}={v}" for k, v in want.items()))
    seen = generation_observed(hpa)
    effective = seen is not False  # None: no observedGeneration reported; the bounds in place are all we know
    message = "" if effective else "waiting for the autoscaler to observe the current generation"
    return TargetObservation(found=True, in_place=True, effective=effective, shows=view, message=message)


async def observe(objects: Objects, plan_namespace: str, spec: model.HpaTarget, weight: int) -> TargetObservation:
    """Read the HPA and judge its bounds against ``weight``."""
    return await observe_with(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.HpaTarget, weight: int) -> bool:
    """Apply the bounds for ``weight`` unless the HPA already has them."""
    return await apply_fields(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight),
                              lambda _: {"spec": wanted(spec, weight)})
