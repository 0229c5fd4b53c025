"""``endpoints``: a Service shows enough ready endpoints in its EndpointSlices."""

from __future__ import annotations

from reentry import cache, model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import Outcome
from reentry.objects import Objects


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.EndpointsCheck) -> CheckResult:
    """Pass when the Service has at least ``minReady`` distinct ready endpoints."""
    if await objects.get(model.ObjectRef(apiVersion="v1", kind="Service", name=spec.service), namespace) is None:
        return CheckResult(Outcome.FAIL, message=f"Service {spec.service} not found")
    slices = await objects.list("discovery.k8s.io/v1", "EndpointSlice", namespace,
                                labels={cache.SERVICE_NAME_LABEL: spec.service})
    ready = cache.ready_count(cache.ready_addresses(s) for s in slices)
    observed, threshold = f"{ready} ready endpoints", f"min {spec.minReady} ready"
    if ready < spec.minReady:
        return CheckResult(Outcome.FAIL, observed, threshold,
                           f"Service {spec.service}: {ready} of {spec.minReady} endpoints ready")
    return CheckResult(Outcome.PASS, observed, threshold)
