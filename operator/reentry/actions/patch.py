"""``patch``: a JSON merge patch on any object, with the values it replaces kept for undo.

Two steps, so a restart between them can neither lose the old values nor record the new ones as
old: the first reads the object and records, shaped like the patch, the current value of every
field the patch touches (null where a field is absent, so the record is itself the merge patch that
undoes the change); the second applies the patch, which is idempotent. A Secret's values never
reach the record: only their fingerprint does.
"""

from __future__ import annotations

import copy
from typing import Any

from reentry import errors, model
from reentry.actions.context import ActionContext
from reentry.engine.observations import ActionProgress
from reentry.kube import FIELD_MANAGER, Kube
from reentry.model import ActionState
from reentry.objects import Objects, fingerprint, is_secret


def previous_values(current: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """What ``patch`` would replace in ``current``: the same shape as the patch, leaves from ``current``."""
    old_fields = current if isinstance(current, dict) else {}
    previous: dict[str, Any] = {}
    for key, value in patch.items():
        old = old_fields.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            previous[key] = previous_values(old, value)
        else:
            # A merge patch replaces anything but two maps wholesale (lists included).
            previous[key] = copy.deepcopy(old)
    return previous


async def execute(kube: Kube, objects: Objects, namespace: str, context: ActionContext,
                  spec: model.PatchAction, record: dict[str, Any]) -> ActionProgress:
    """Step 1 records the previous values (Running); step 2 applies the patch (Succeeded)."""
    what = f"{spec.kind} {spec.name}"
    if "previous" not in record and "previousFingerprint" not in record:
        current = await objects.get(spec, namespace)
        if current is None:
            return ActionProgress(ActionState.FAILED, record, f"{what} not found")
        previous = previous_values(current, spec.patch)
        kept = {"previousFingerprint": fingerprint(previous)} if is_secret(spec.kind) else {"previous": previous}
        return ActionProgress(ActionState.RUNNING, kept, f"recorded the values the patch replaces on {what}")
    try:
        await objects.merge_patch(spec, namespace, spec.patch, field_manager=FIELD_MANAGER)
    except errors.NotFound:
        return ActionProgress(ActionState.FAILED, record, f"{what} not found")
    return ActionProgress(ActionState.SUCCEEDED, record, f"patched {what}")
