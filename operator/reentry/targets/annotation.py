"""``annotation``: a numeric annotation on any object from ``from`` to ``to`` with the weight.

E.g. external-dns's ``external-dns.alpha.kubernetes.io/aws-weight`` on a Service or an Ingress, to
move cross-region DNS gradually. The object is found by apiVersion and kind through API discovery,
so custom resources work as well as built-in kinds. ``metadata.annotations`` is a map, so a
server-side apply (field manager ``reentry``, forced) of the one key owns just that key.

Took effect: an annotation has no status of its own; in place counts as effective (external-dns,
for one, picks it up on its next sync; the hold's analysis shows whether traffic followed).
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.engine.ramp import value_at
from reentry.kube import FIELD_MANAGER
from reentry.objects import Objects
from reentry.targets.common import TargetError, annotations_of, as_int, describe, missing, ref


def _target(spec: model.AnnotationTarget) -> model.ObjectRef:
    return ref(spec.apiVersion, spec.kind, spec.name, spec.namespace)


def judge(obj: dict[str, Any], spec: model.AnnotationTarget, weight: int) -> TargetObservation:
    """The observation for an object read from the API server (pure)."""
    want = value_at(spec.from_, spec.to, weight)
    value = annotations_of(obj).get(spec.key)
    view = f"{spec.key}={value if value is not None else '<unset>'}"
    in_place = value is not None and as_int(value) == want
    return TargetObservation(found=True, in_place=in_place, effective=in_place, shows=view,
                             message="" if in_place else f"wants {spec.key}={want}")


async def observe(objects: Objects, plan_namespace: str, spec: model.AnnotationTarget,
                  weight: int) -> TargetObservation:
    """Read the object and judge the annotation against ``weight``."""
    target = _target(spec)
    obj = await objects.get(target, plan_namespace)
    return missing(target, plan_namespace) if obj is None else judge(obj, spec, weight)


async def apply(objects: Objects, plan_namespace: str, spec: model.AnnotationTarget, weight: int) -> bool:
    """Apply the annotation's value for ``weight`` unless the object already shows it."""
    target = _target(spec)
    obj = await objects.get(target, plan_namespace)
    if obj is None:
        raise TargetError(f"{describe(target, plan_namespace)} not found")
    if judge(obj, spec, weight).in_place:
        return False
    value = str(value_at(spec.from_, spec.to, weight))
    await objects.apply(target, plan_namespace, {"metadata": {"annotations": {spec.key: value}}},
                        field_manager=FIELD_MANAGER, force=True)
    return True
