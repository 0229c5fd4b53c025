"""``ingressNginx``: an ingress-nginx canary Ingress, ``canary: "true"`` and ``canary-weight: "w"``.

Written with server-side apply (field manager ``reentry``, forced): ``metadata.annotations`` is a
map, so the apply carries just the two annotations and ``reentry`` owns exactly those keys; the
rest of the Ingress stays with whoever wrote it.

When the Ingress sets ``canary-weight-total`` (ingress-nginx's denominator, 100 by default), the
weight is scaled to it, so ``w`` keeps meaning percent.

Took effect: ingress-nginx reports nothing per Ingress that says it has loaded a new canary weight
(its status carries only the load balancer address), so a weight in place counts as effective.
Analysis checks during the hold are what confirm the traffic actually moved.
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.engine.ramp import value_at
from reentry.objects import Objects
from reentry.targets.common import annotations_of, apply_fields, as_int, observe_with, ref

PREFIX = "nginx.ingress.kubernetes.io/"
CANARY = PREFIX + "canary"
CANARY_WEIGHT = PREFIX + "canary-weight"
CANARY_WEIGHT_TOTAL = PREFIX + "canary-weight-total"


def _target(spec: model.IngressNginxTarget) -> model.ObjectRef:
    return ref("networking.k8s.io/v1", "Ingress", spec.canaryIngress, spec.namespace)


def wanted(current: dict[str, str], weight: int) -> dict[str, str]:
    """The two annotations for ``weight`` percent, given the Ingress's current annotations."""
    total = as_int(current.get(CANARY_WEIGHT_TOTAL)) or 100
    return {CANARY: "true", CANARY_WEIGHT: str(value_at(0, total, weight))}


def judge(ingress: dict[str, Any], weight: int) -> TargetObservation:
    """The observation for an Ingress read from the API server (pure)."""
    current = annotations_of(ingress)
    want = wanted(current, weight)
    in_place = all(current.get(k) == v for k, v in want.items())
    view = f"canary={current.get(CANARY, '<unset>')} canary-weight={current.get(CANARY_WEIGHT, '<unset>')}"
    message = "" if in_place else f"wants canary-weight={want[CANARY_WEIGHT]}"
    return TargetObservation(found=True, in_place=in_place, effective=in_place, shows=view, message=message)


async def observe(objects: Objects, plan_namespace: str, spec: model.IngressNginxTarget,
                  weight: int) -> TargetObservation:
    """Read the canary Ingress and judge its annotations against ``weight``."""
    return await observe_with(objects, plan_namespace, _target(spec), lambda obj: judge(obj, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.IngressNginxTarget, weight: int) -> bool:
    """Apply the two annotations unless the Ingress already shows them."""
    return await apply_fields(objects, plan_namespace, _target(spec), lambda obj: judge(obj, weight),
                              lambda obj: {"metadata": {"annotations": wanted(annotations_of(obj), weight)}})
