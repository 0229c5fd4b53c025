"""Executors for the action kinds: one module per kind, named after it (see ``reentry.kinds``).

The engine calls :func:`execute` once per reconcile while an action is Running, handing back the
``record`` the previous step returned (persisted in the plan's status). Every executor is
idempotent and safe to interrupt at any point: the operator may be killed between any two calls,
or in the middle of one, and the API server still sees each effect once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reentry import errors, kinds, model
from reentry.actions.context import ActionContext
from reentry.engine.observations import ActionProgress
from reentry.httpclient import InvalidMaterial, MissingReference
from reentry.kube import Kube
from reentry.model import ActionState
from reentry.objects import InvalidName, Objects, UnexpectedObject, UnknownKind, describe_error

__all__ = ["EXECUTORS", "ActionContext", "Executor", "execute"]

log = logging.getLogger(__name__)

#: ``execute(kube, objects, plan_namespace, context, kind_spec, record)``: the kind's own model.
Executor = Callable[[Kube, Objects, str, ActionContext, Any, dict[str, Any]], Awaitable[ActionProgress]]

#: Each action kind's ``execute``, from the module named after it.
EXECUTORS: dict[str, Executor] = {
    kind: module.execute for kind, module in kinds.implementations(__name__, model.ACTION_KINDS).items()}



async def execute(kube: Kube, objects: Objects, namespace: str, context: ActionContext, action: model.Action,
                  record: dict[str, Any]) -> ActionProgress:
    """Take the action's next step; never raises (but lets cancellation through).

    A refusal that will not change by itself (invalid, forbidden, unknown kind, a Secret or key
    the spec names that does not exist) fails the action
    with the cause named; anything else (the API server unreachable, a 5xx) keeps it Running with
    its record unchanged, so the next call tries again from the same place.
    """
    run = EXECUTORS.get(action.kind)
    if run is None:
        return ActionProgress(ActionState.FAILED, record, f"action {action.name}: no executor for kind {action.kind}")
    try:
        return await run(kube, objects, namespace, context, getattr(action, action.kind), record)
    except (errors.ApiRefused, UnknownKind, InvalidName, UnexpectedObject, MissingReference, InvalidMaterial) as err:
        cause = f"{action.kind} action {action.name}: {describe_error(err)}"
        if isinstance(err, errors.ApiRefused) and err.temporary:  # "not now" rather than "never"
            return ActionProgress(ActionState.RUNNING, record, f"retrying after {cause}")
        return ActionProgress(ActionState.FAILED, record, cause)
    except Exception as err:
        log.warning("action %s (%s) in %s: will retry", action.name, action.kind, namespace, exc_info=True)
        return ActionProgress(ActionState.RUNNING, record,
                              f"retrying after {action.kind} action {action.name}: {describe_error(err)}")
