"""``configMapKey``: one numeric key of a ConfigMap's ``data`` from ``from`` to ``to`` with the weight.

E.g. a retry budget or a concurrency limit released gradually. ``data`` is a map, so a server-side
apply (field manager ``reentry``, forced) of the one key leaves the other keys to their owners.
The value is compared as a number (``"05"`` shows 5) and written as its decimal string.

Took effect: a ConfigMap has no status; consumers read it when they read it (a mounted file
follows within the kubelet's sync period, an environment variable only on restart). The key in
place counts as effective; whether the consumers honour it is for the hold's analysis to show.
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.engine.ramp import value_at
from reentry.objects import Objects
from reentry.targets.common import apply_fields, judge_number, observe_with, ref


def _target(spec: model.ConfigMapKeyTarget) -> model.ObjectRef:
    return ref("v1", "ConfigMap", spec.name, spec.namespace)


def judge(config_map: dict[str, Any], spec: model.ConfigMapKeyTarget, weight: int) -> TargetObservation:
    """The observation for a ConfigMap read from the API server (pure)."""
    return judge_number(spec.key, (config_map.get("data") or {}).get(spec.key), value_at(spec.from_, spec.to, weight))


async def observe(objects: Objects, plan_namespace: str, spec: model.ConfigMapKeyTarget,
                  weight: int) -> TargetObservation:
    """Read the ConfigMap and judge the key against ``weight``."""
    return await observe_with(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.ConfigMapKeyTarget, weight: int) -> bool:
    """Apply the key's value for ``weight`` unless the ConfigMap already shows it."""
    value = str(value_at(spec.from_, spec.to, weight))
    return await apply_fields(objects, plan_namespace, _target(spec), lambda obj: judge(obj, spec, weight),
                              lambda _: {"data": {spec.key: value}})
