"""``job``: run a Job to completion; its failure message lands in status.

The Job's name follows from the plan and the action alone, so creating it again after a restart
meets the first one (409) instead of starting a second run. It is owned by the plan and goes
with it.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from reentry import errors, model
from reentry.actions.context import ActionContext
from reentry.engine.observations import ActionProgress
from reentry.kube import FIELD_MANAGER, Kube
from reentry.model import ActionState
from reentry.objects import Objects

PLAN_LABEL = "reentry.dev/plan"
ACTION_LABEL = "reentry.dev/action"
_MAX_NAME = 63  # the Job controller copies the name into a label value


def job_name(context: ActionContext) -> str:
    """``<plan>-<action>-<6 hex of sha1(plan uid)>``; a long prefix is cut, the suffix always kept,
    so a recreated plan of the same name never meets its predecessor's Job."""
    suffix = hashlib.sha1(context.plan_uid.encode(), usedforsecurity=False).hexdigest()[:6]
    prefix = f"{context.plan_name}-{context.action_name}"[:_MAX_NAME - len(suffix) - 1].rstrip("-.")
    return f"{prefix}-{suffix}"


def job_body(context: ActionContext, namespace: str, spec: model.JobAction) -> dict[str, Any]:
    """The Job, labelled with its plan and action and owned by the plan."""
    owner = {"apiVersion": model.API_VERSION, "kind": model.KIND, "name": context.plan_name,
             "uid": context.plan_uid, "controller": True}
    labels = {PLAN_LABEL: context.plan_name[:_MAX_NAME].rstrip("-."), ACTION_LABEL: context.action_name}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(context), "namespace": namespace, "labels": labels,
                         "ownerReferences": [owner]},
            "spec": spec.spec}


async def execute(kube: Kube, objects: Objects, namespace: str, context: ActionContext,
                  spec: model.JobAction, record: dict[str, Any]) -> ActionProgress:
    """Step 1 creates the Job (Running); later steps follow it to Complete or Failed."""
    name = record.get("job") or job_name(context)
    if "job" not in record:
        with contextlib.suppress(errors.Conflict):  # an earlier step created it and the record was lost
            await objects.create(job_body(context, namespace, spec), field_manager=FIELD_MANAGER)
        return ActionProgress(ActionState.RUNNING, {"job": name}, f"created Job {name}")
    job = await objects.get(model.ObjectRef(apiVersion="batch/v1", kind="Job", name=name), namespace)
    if job is None:
        return ActionProgress(ActionState.FAILED, record, f"Job {name} not found: deleted before it finished")
    owners = job.get("metadata", {}).get("ownerReferences") or []
    if not any(o.get("uid") == context.plan_uid for o in owners):
        return ActionProgress(ActionState.FAILED, record, f"Job {name} exists but does not belong to this plan")
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in conditions:
        return ActionProgress(ActionState.SUCCEEDED, record, f"Job {name} complete")
    if "Failed" in conditions:
        failed = conditions["Failed"]
        cause = ": ".join(p for p in (failed.get("reason"), failed.get("message")) if p) or "no reason given"
        return ActionProgress(ActionState.FAILED, record, f"Job {name} failed: {cause}")
    counts = ", ".join(f"{k} {status.get(k, 0)}" for k in ("active", "succeeded", "failed"))
    return ActionProgress(ActionState.RUNNING, record, f"Job {name}: {counts}")
