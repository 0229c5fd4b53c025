"""One reconciliation of one plan: observe, evaluate (pure), write status, then act.

Status is written *before* pods are released: if the operator dies in between, the restarted
one reads the batch as already started and waits its interval, so a crash can slow a release
but never speed it past what the plan allows. Releasing is idempotent, so nothing repeats.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from reentry import model
from reentry.engine.reconcile import Decision, evaluate, invalid
from reentry.errors import describe_validation_error
from reentry.kube import Kube


async def reconcile(kube: Kube, body: Mapping[str, Any], now: datetime | None = None) -> Decision:
    """Advance one RecoveryPlan as far as the cluster allows; return what was decided."""
    now = now or datetime.now(UTC)
    raw = copy.deepcopy(dict(body))
    meta = raw["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status = model.RecoveryPlanStatus.model_validate(raw["status"]) if raw.get("status") else None
    try:
        spec = model.RecoveryPlanSpec.model_validate(raw.get("spec") or {})
    except ValidationError as err:
        decision = invalid(status, generation, describe_validation_error(err), now)
    else:
        start_requested = model.START_ANNOTATION in (meta.get("annotations") or {})
        observed = await kube.observe(namespace, spec, start_requested)
        decision = evaluate(spec, generation, status, observed, now)

    if decision.status != status:
        await kube.write_status(namespace, name, decision.status)
    for action in decision.actions:
        for pod in action.pods:
            await kube.release_pod(namespace, pod)
    return decision
