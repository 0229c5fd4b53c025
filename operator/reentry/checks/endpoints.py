"""``endpoints``: a Service shows enough ready endpoints in its EndpointSlices."""

from __future__ import annotations

from lightkube import ApiError
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from reentry import model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube, count_ready_endpoints
from reentry.model import Outcome
from reentry.objects import Objects


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.EndpointsCheck) -> CheckResult:
    """Pass when the Service has at least ``minReady`` distinct ready endpoints."""
    try:
        await kube.client.get(Service, spec.service, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return CheckResult(Outcome.FAIL, message=f"Service {spec.service} not found")
        raise
    slices = [s async for s in kube.client.list(
        EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": spec.service})]
    ready = count_ready_endpoints(slices)
    observed, threshold = f"{ready} ready endpoints", f"min {spec.minReady} ready"
    if ready < spec.minReady:
        return CheckResult(Outcome.FAIL, observed, threshold,
                           f"Service {spec.service}: {ready} of {spec.minReady} endpoints ready")
    return CheckResult(Outcome.PASS, observed, threshold)
