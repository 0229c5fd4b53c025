"""``releaseLeases``: delete the Leases held by pods that are gone, so live pods can take the lead.

Staleness is the ``leases`` check's rule (:mod:`reentry.checks.leases`). Each Lease is deleted only
at the version that was judged stale: if its holder renewed or changed in between, the API server
refuses (409) and the next step judges it again, so a live leader never loses its Lease.
"""

from __future__ import annotations

from typing import Any

from reentry import errors, model
from reentry.actions.context import ActionContext
from reentry.checks.leases import scan
from reentry.engine.observations import ActionProgress
from reentry.kube import Kube
from reentry.model import ActionState
from reentry.objects import Objects


async def execute(kube: Kube, objects: Objects, namespace: str, context: ActionContext,
                  spec: model.LeaseTarget, record: dict[str, Any]) -> ActionProgress:
    """Delete every stale Lease; Running again when one changed under us, else Succeeded."""
    found = await scan(objects, namespace, spec)
    released = set(record.get("released", []))
    changed = []
    for lease in found.stale:
        ref = model.ObjectRef(apiVersion="coordination.k8s.io/v1", kind="Lease", name=lease.name)
        try:
            # False (already gone, e.g. deleted just before a restart) is released all the same.
            await objects.delete(ref, found.namespace, resource_version=lease.resource_version)
        except errors.Conflict:
            changed.append(lease.name)
        else:
            released.add(lease.name)
    progress = {"released": sorted(released)}
    if changed:
        return ActionProgress(ActionState.RUNNING, progress, f"Leases changed since read, judging again: "
                                                             f"{', '.join(changed)}")
    message = f"released {', '.join(progress['released'])}" if released else "no stale Lease"
    return ActionProgress(ActionState.SUCCEEDED, progress, message)
