"""What the target kinds share: naming the object, reading generations and numbers, the missing-object answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reentry.engine.observations import TargetObservation
from reentry.kube import FIELD_MANAGER
from reentry.model import ObjectRef
from reentry.objects import Objects

#: Judges an object read from the API server against the weight the caller has in mind.
Judge = Callable[[dict[str, Any]], TargetObservation]


class TargetError(ValueError):
    """The target object cannot carry the weight as the plan describes it (e.g. no rule names both backends)."""


def ref(api_version: str, kind: str, name: str, namespace: str | None) -> ObjectRef:
    """The target object as a generic reference (the plan's namespace applies when ``namespace`` is None)."""
    return ObjectRef(apiVersion=api_version, kind=kind, name=name, namespace=namespace)


def describe(target: ObjectRef, plan_namespace: str) -> str:
    """``Deployment checkout in shop``: how messages name the object."""
    return f"{target.kind} {target.name} in {target.namespace or plan_namespace}"


def missing(target: ObjectRef, plan_namespace: str) -> TargetObservation:
    """The answer for an object that does not exist."""
    return TargetObservation(found=False, in_place=False, effective=False,
                             message=f"{describe(target, plan_namespace)} not found")


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    """The object's annotations ({} when it has none)."""
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def generation_observed(obj: dict[str, Any]) -> bool | None:
    """Whether the object's controller has seen its current spec: ``status.observedGeneration >=
    metadata.generation``; None when the object reports no observedGeneration at all."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    if observed is None:
        return None
    return int(observed) >= int((obj.get("metadata") or {}).get("generation") or 0)


def judge_number(key: str, value: Any, want: int) -> TargetObservation:
    """A numeric key (a ConfigMap key, an annotation) judged against the value ``want``: in place is in effect,
    as no controller reports having read it."""
    in_place = value is not None and as_int(value) == want
    return TargetObservation(found=True, in_place=in_place, effective=in_place,
                             shows=f"{key}={value if value is not None else '<unset>'}",
                             message="" if in_place else f"wants {key}={want}")


def as_int(value: Any) -> int | None:
    """``value`` as an integer (``"12"``, ``12``, ``12.0``), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


async def observe_with(objects: Objects, plan_namespace: str, target: ObjectRef, judge: Judge) -> TargetObservation:
    """Read the object and judge it; a missing object is an observation, not an error."""
    obj = await objects.get(target, plan_namespace)
    return missing(target, plan_namespace) if obj is None else judge(obj)


async def apply_fields(objects: Objects, plan_namespace: str, target: ObjectRef, judge: Judge,
                       fields: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
    """Server-side apply ``fields(object)`` as ``reentry`` unless the object already shows the weight's values.

    True when it wrote. The read first is what makes a repeated call free: one write per target per
    step, none repeated, even when a crash made the controller ask twice.
    """
    obj = await objects.get(target, plan_namespace)
    if obj is None:
        raise TargetError(f"{describe(target, plan_namespace)} not found")
    if judge(obj).in_place:
        return False
    await objects.apply(target, plan_namespace, fields(obj), field_manager=FIELD_MANAGER, force=True)
    return True
