"""``leases``: no coordination Lease is held by a pod that is gone (a leader from before the outage).

Which pod a Lease names: client-go leader election writes ``holderIdentity`` as the pod's name
(the usual ``POD_NAME`` identity), sometimes as ``<pod>_<uuid>`` (controller-runtime and kube's own
components). So a holder is looked up as a pod of that exact name in the Lease's namespace, and
when there is none and the identity holds a ``_``, as a pod named by the part before the first
``_``. Other suffixes (``<pod>-xyz``) cannot be told apart from pod names that carry dashes: such a
Lease counts as stale. A pod that has terminated (phase Succeeded or Failed) renews nothing and
counts as gone; a Lease without a holder is free, not stale.

Selection: the Leases named in ``names`` and those matching ``selector``; with neither, every Lease
in the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightkube import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from reentry import model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube, label_filter
from reentry.model import Outcome
from reentry.objects import Objects

_TERMINATED = ("Succeeded", "Failed")


@dataclass(frozen=True)
class StaleLease:
    """A Lease whose holder is gone, with the version it was read at (to delete exactly that version)."""

    name: str
    holder: str
    resource_version: str


@dataclass(frozen=True)
class LeaseScan:
    """The selected Leases of one namespace and those among them that are stale."""

    namespace: str
    selected: tuple[str, ...]
    stale: tuple[StaleLease, ...]


def holder_pod_names(holder: str) -> tuple[str, ...]:
    """The pod names a ``holderIdentity`` may stand for, in the order they are tried."""
    prefix = holder.split("_", 1)[0]
    return (holder, prefix) if prefix and prefix != holder else (holder,)


async def scan(kube: Kube, namespace: str, target: model.LeaseTarget) -> LeaseScan:
    """Select the Leases ``target`` names (in its namespace, else ``namespace``) and find the stale ones."""
    ns = target.namespace or namespace
    leases = await _select(kube, ns, target)
    live: dict[str, bool] = {}
    stale = []
    for lease in leases:
        holder = (lease.spec.holderIdentity if lease.spec else None) or ""
        if holder and not await _held_by_live_pod(kube, ns, holder, live):
            assert lease.metadata is not None and lease.metadata.name and lease.metadata.resourceVersion
            stale.append(StaleLease(lease.metadata.name, holder, lease.metadata.resourceVersion))
    names = tuple(sorted(lease.metadata.name for lease in leases if lease.metadata and lease.metadata.name))
    return LeaseScan(ns, names, tuple(sorted(stale, key=lambda s: s.name)))


async def _select(kube: Kube, namespace: str, target: model.LeaseTarget) -> list[Lease]:
    found: dict[str, Lease] = {}
    for name in target.names:
        try:
            found[name] = await kube.client.get(Lease, name, namespace=namespace)
        except ApiError as err:
            if err.status.code != 404:
                raise
    if target.selector is not None or not target.names:
        labels = label_filter(target.selector) if target.selector is not None else None
        async for lease in kube.client.list(Lease, namespace=namespace, labels=labels):
            if lease.metadata and lease.metadata.name:
                found[lease.metadata.name] = lease
    return list(found.values())


async def _held_by_live_pod(kube: Kube, namespace: str, holder: str, live: dict[str, bool]) -> bool:
    """Whether a running pod answers to ``holder``; ``live`` caches pod lookups for one scan."""
    for pod_name in holder_pod_names(holder):
        if pod_name not in live:
            live[pod_name] = await _pod_is_live(kube, namespace, pod_name)
        if live[pod_name]:
            return True
    return False


async def _pod_is_live(kube: Kube, namespace: str, name: str) -> bool:
    try:
        pod = await kube.client.get(Pod, name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
    return not (pod.status and pod.status.phase in _TERMINATED)


def describe_stale(stale: tuple[StaleLease, ...]) -> str:
    """``a (held by web-5f7c), b (held by old-0_1b2c)``."""
    return ", ".join(f"{s.name} (held by {s.holder})" for s in stale)


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.LeasesCheck) -> CheckResult:
    """Pass when no selected Lease is stale; NoData when nothing is selected."""
    found = await scan(kube, namespace, spec)
    threshold = "no stale leases"
    if not found.selected:
        return CheckResult(Outcome.NO_DATA, threshold=threshold,
                           message=f"no Lease selected in namespace {found.namespace}")
    if not found.stale:
        count = len(found.selected)
        return CheckResult(Outcome.PASS, f"{count} lease{'' if count == 1 else 's'}, none stale", threshold)
    observed = f"{len(found.stale)} of {len(found.selected)} stale: {describe_stale(found.stale)}"
    return CheckResult(Outcome.FAIL, observed, threshold,
                       f"Leases held by pods that are gone: {describe_stale(found.stale)}")
