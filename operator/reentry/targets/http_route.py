"""``httpRoute``: the weights of two backends in a user-owned Gateway API HTTPRoute.

In every rule whose ``backendRefs`` name both ``restoredBackend`` and ``fallbackBackend``, the
restored one gets weight ``w`` and the fallback ``100 - w``; other rules, other backends and every
other field stay as the owner wrote them. Backends are matched by ``name`` (whatever kind the
reference names; a Service by default).

Why a JSON patch and not server-side apply: the Gateway API schema marks both ``spec.rules`` and
``rules[].backendRefs`` as ``x-kubernetes-list-type: atomic`` (v1.6 standard channel). An atomic
list is owned and replaced as a whole, so an apply would have to send every rule (matches, filters,
timeouts...) and ``reentry`` would become an applier of all of it, fighting whoever owns the
route in Git over fields it does not manage. A JSON patch instead changes exactly the weight
leaves, each guarded by a ``test`` of the backend's name at that position (a rule list reordered
in between makes the API server refuse the write rather than move the wrong weight). The API
server still records ``reentry`` as a manager (operation Update) of ``spec.rules``: with an atomic
list that is the finest ownership the schema allows.

Took effect: every entry of ``status.parents`` (one per Gateway the route attaches to) has
``Accepted=True`` with ``observedGeneration`` equal to the route's ``metadata.generation``, i.e.
each gateway controller accepted the spec carrying these weights. No parents yet means no gateway
has accepted it: not effective.
"""

from __future__ import annotations

from typing import Any

from reentry import model
from reentry.engine.observations import TargetObservation
from reentry.kube import FIELD_MANAGER
from reentry.objects import Objects
from reentry.targets.common import TargetError, describe, observe_with, ref

API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "HTTPRoute"


def _target(spec: model.HttpRouteTarget) -> model.ObjectRef:
    return ref(API_VERSION, KIND, spec.name, spec.namespace)


def _refs(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in rule.get("backendRefs") or [] if isinstance(b, dict)]


def weighted_rules(route: dict[str, Any], restored: str, fallback: str) -> list[int]:
    """Indexes of the rules whose backendRefs name both backends."""
    rules = (route.get("spec") or {}).get("rules") or []
    found = []
    for index, rule in enumerate(rules):
        names = {b.get("name") for b in _refs(rule)}
        if restored in names and fallback in names:
            found.append(index)
    return found


def _wanted(name: str, restored: str, weight: int) -> int:
    return weight if name == restored else 100 - weight


def weight_operations(route: dict[str, Any], restored: str, fallback: str, weight: int) -> list[dict[str, Any]]:
    """The JSON patch that gives ``weight``/``100 - weight`` to the two backends in every rule naming both.

    Empty when the route already shows those weights. Raises :class:`TargetError` when no rule names both.
    """
    indexes = weighted_rules(route, restored, fallback)
    if not indexes:
        raise TargetError(no_rule_message(route, restored, fallback))
    rules = route["spec"]["rules"]
    operations: list[dict[str, Any]] = []
    for i in indexes:
        for j, backend in enumerate(rules[i].get("backendRefs") or []):
            name = backend.get("name") if isinstance(backend, dict) else None
            if name not in (restored, fallback):
                continue
            wanted = _wanted(name, restored, weight)
            if backend.get("weight", 1) == wanted:  # the schema defaults an absent weight to 1
                continue
            path = f"/spec/rules/{i}/backendRefs/{j}"
            operations += [{"op": "test", "path": f"{path}/name", "value": name},
                           {"op": "add", "path": f"{path}/weight", "value": wanted}]
    return operations


def no_rule_message(route: dict[str, Any], restored: str, fallback: str) -> str:
    """Why the route cannot carry the weight: no rule names both backends."""
    name = (route.get("metadata") or {}).get("name", "?")
    return (f"HTTPRoute {name}: no rule has backendRefs naming both restoredBackend {restored!r} and "
            f"fallbackBackend {fallback!r}; add both to the rules whose traffic should move")


def shows(route: dict[str, Any], restored: str, fallback: str) -> str:
    """The two backends' weights as the route shows them, e.g. ``checkout=25 checkout-dr=75``;
    rules that differ are listed each (``rule 0: ...; rule 2: ...``)."""
    views: dict[int, str] = {}
    rules = (route.get("spec") or {}).get("rules") or []
    for i in weighted_rules(route, restored, fallback):
        weights = {b["name"]: b.get("weight", 1) for b in _refs(rules[i]) if b.get("name") in (restored, fallback)}
        views[i] = f"{restored}={weights[restored]} {fallback}={weights[fallback]}"
    if len(set(views.values())) <= 1:
        return next(iter(views.values()), "")
    return "; ".join(f"rule {i}: {view}" for i, view in views.items())


def accepted(route: dict[str, Any]) -> tuple[bool, str]:
    """Whether every parent accepted the route's current generation, and if not, why."""
    generation = (route.get("metadata") or {}).get("generation")
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return False, "no gateway has accepted the route yet (status.parents is empty)"
    waiting = []
    for parent in parents:
        gateway = (parent.get("parentRef") or {}).get("name", "?")
        condition = next((c for c in parent.get("conditions") or [] if c.get("type") == "Accepted"), None)
        if condition is None:
            waiting.append(f"{gateway}: no Accepted condition")
        elif condition.get("status") != "True":
            waiting.append(f"{gateway}: Accepted={condition.get('status')} ({condition.get('reason', '')})")
        elif condition.get("observedGeneration") != generation:
            waiting.append(f"{gateway}: accepted generation {condition.get('observedGeneration')}, "
                           f"route is at {generation}")
    if waiting:
        return False, "waiting for " + "; ".join(waiting)
    return True, ""


def judge(route: dict[str, Any], spec: model.HttpRouteTarget, weight: int) -> TargetObservation:
    """The observation for a route read from the API server (pure)."""
    restored, fallback = spec.restoredBackend, spec.fallbackBackend
    if not weighted_rules(route, restored, fallback):
        return TargetObservation(found=True, in_place=False, effective=False,
                                 message=no_rule_message(route, restored, fallback))
    in_place = not weight_operations(route, restored, fallback, weight)
    view = shows(route, restored, fallback)
    if not in_place:
        return TargetObservation(found=True, in_place=False, effective=False, shows=view,
                                 message=f"wants {restored}={weight} {fallback}={100 - weight}")
    effective, why = accepted(route)
    return TargetObservation(found=True, in_place=True, effective=effective, shows=view, message=why)


async def observe(objects: Objects, plan_namespace: str, spec: model.HttpRouteTarget,
                  weight: int) -> TargetObservation:
    """Read the route and judge it against ``weight``."""
    return await observe_with(objects, plan_namespace, _target(spec), lambda route: judge(route, spec, weight))


async def apply(objects: Objects, plan_namespace: str, spec: model.HttpRouteTarget, weight: int) -> bool:
    """Patch the two backends' weights where they differ; False when the route already shows them."""
    target = _target(spec)
    route = await objects.get(target, plan_namespace)
    if route is None:
        raise TargetError(f"{describe(target, plan_namespace)} not found")
    operations = weight_operations(route, spec.restoredBackend, spec.fallbackBackend, weight)
    if not operations:
        return False
    await objects.json_patch(target, plan_namespace, operations, field_manager=FIELD_MANAGER)
    return True
