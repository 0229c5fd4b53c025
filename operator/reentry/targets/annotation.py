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
from reentry.objects import Objects
from reentry.targets.common import annotations_of, apply_fields, judge_number, observe_with, ref


def _target(spec: model.AnnotationTarget) -> model.ObjectRef:
    return ref(spec.apiVersion, spec.kind, spec.name, spec.namespace)


def judge(obj: dict[str, Any], spec: model.AnnotationTarget, weight: int) -> TargetObservation:
    """The observation for an object read from the API server (pure)."""
    return judge_number(spec.key, annotations_of(obj).get(spec.key), value_at(spec.from_, spec.to, weight))


async def observe(objects: Objects, plan_namespace: str, spec: model.AnnotationTarget,
                  weight: int) -> TargetObservation:
    """Read the object and judge the annotation against ``weight``."""
    return await observe_with(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.AnnotationTarget, weight: int) -> bool:
    """Apply the annotation's value for ``weight`` unless the object already shows it."""
    value = str(value_at(spec.from_, spec.to, weight))
    return await apply_fields(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight),
                              lambda _: {"metadata": {"annotations": {spec.key: value}}})
