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
from typing import Any

from reentry import model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import ObjectRef, Outcome
from reentry.objects import Objects

LEASES = "coordination.k8s.io/v1"

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


async def scan(objects: Objects, namespace: str, target: model.LeaseTarget) -> LeaseScan:
    """Select the Leases ``target`` names (in its namespace, else ``namespace``) and find the stale ones."""
    ns = target.namespace or namespace
    leases = await _select(objects, ns, target)
    live: dict[str, bool] = {}
    stale = []
    for name, lease in leases.items():
        holder = (lease.get("spec") or {}).get("holderIdentity") or ""
        if holder and not await _held_by_live_pod(objects, ns, holder, live):
            stale.append(StaleLease(name, holder, lease["metadata"]["resourceVersion"]))
    return LeaseScan(ns, tuple(sorted(leases)), tuple(sorted(stale, key=lambda s: s.name)))


async def _select(objects: Objects, namespace: str, target: model.LeaseTarget) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in target.names:
        lease = await objects.get(ObjectRef(apiVersion=LEASES, kind="Lease", name=name), namespace)
        if lease is not None:
            found[name] = lease
    if target.selector is not None or not target.names:
        for lease in await objects.list(LEASES, "Lease", namespace, selector=target.selector):
            found[lease["metadata"]["name"]] = lease
    return found


async def _held_by_live_pod(objects: Objects, namespace: str, holder: str, live: dict[str, bool]) -> bool:
    """Whether a running pod answers to ``holder``; ``live`` caches pod lookups for one scan."""
    for pod_name in holder_pod_names(holder):
        if pod_name not in live:
            live[pod_name] = await _pod_is_live(objects, namespace, pod_name)
        if live[pod_name]:
            return True
    return False


async def _pod_is_live(objects: Objects, namespace: str, name: str) -> bool:
    if not model.is_name(name):
        return False  # a holder identity that cannot be a pod's name names no pod
    pod = await objects.get(ObjectRef(apiVersion="v1", kind="Pod", name=name), namespace)
    return pod is not None and (pod.get("status") or {}).get("phase") not in _TERMINATED


def describe_stale(stale: tuple[StaleLease, ...]) -> str:
    """``a (held by web-5f7c), b (held by old-0_1b2c)``."""
    return ", ".join(f"{s.name} (held by {s.holder})" for s in stale)


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.LeasesCheck) -> CheckResult:
    """Pass when no selected Lease is stale; NoData when nothing is selected."""
    found = await scan(objects, namespace, spec)
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
