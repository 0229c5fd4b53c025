"""Traffic targets: the routing objects the traffic stage moves. One module per kind, named after it
(see ``reentry.kinds``).

Every kind offers two calls, both judged against a weight (0..100, percent to the restored system):

* ``observe(objects, plan_namespace, kind_spec, weight)`` reads the object and says whether it
  shows that weight's values (``in_place``) and whether the change took effect (``effective``);
  it changes nothing.
* ``apply(objects, plan_namespace, kind_spec, weight)`` writes that weight's values with the
  ``reentry`` field manager, touching only the fields the target manages; returns True when it
  wrote, False when the object already showed them (so a step costs one write per target, and
  a repeated call none).

The engine decides the weight; the controller calls these. ``observe`` never raises: a missing
object or a refused read comes back as an observation (found False, with a message). ``apply``
raises the refusal (``TargetError``, the API server's ``reentry.errors.ApiRefused``): the controller reports it as
one Warning Event and the next evaluation, finding the target still not showing the weight, tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reentry import kinds, model
from reentry.engine.observations import TargetObservation
from reentry.objects import Objects, describe_error
from reentry.targets.common import TargetError

__all__ = ["TARGETS", "TargetError", "apply", "observe"]

log = logging.getLogger(__name__)

Observe = Callable[[Objects, str, Any, int], Awaitable[TargetObservation]]
Apply = Callable[[Objects, str, Any, int], Awaitable[bool]]

#: Each target kind's ``observe`` and ``apply``, from the module named after it.
TARGETS: dict[str, tuple[Observe, Apply]] = {
    kind: (module.observe, module.apply)
    for kind, module in kinds.implementations(__name__, model.TARGET_KINDS).items()}


async def observe(objects: Objects, namespace: str, target: model.Target, weight: int) -> TargetObservation:
    """Read one target against ``weight``; never raises (but lets cancellation through)."""
    run, _ = TARGETS[target.kind]
    try:
        return await run(objects, namespace, getattr(target, target.kind), weight)
    except Exception as err:
        log.warning("target %s in %s: %s", target.label, namespace, describe_error(err))
        return TargetObservation(found=False, in_place=False, effective=False,
                                 message=f"{target.label}: {describe_error(err)}")


async def apply(objects: Objects, namespace: str, target: model.Target, weight: int) -> bool:
    """Write ``weight`` to one target; True when it wrote.

    Raises for the caller to report: the API's refusal (:class:`reentry.errors.ApiRefused`, e.g. a 422 when a
    guarded HTTPRoute changed underneath) or :class:`TargetError` (the object is missing or cannot
    carry the weight, e.g. no rule names both backends).
    """
    _, run = TARGETS[target.kind]
    return await run(objects, namespace, getattr(target, target.kind), weight)
