"""``workload``: a Deployment or StatefulSet has rolled out.

Its controller has observed the current generation, and enough replicas are available (by default
``spec.replicas``). Pods held by the readiness gate are not available, so this check passes only
for a workload whose pods serve.
"""

from __future__ import annotations

from reentry import model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import Outcome
from reentry.objects import Objects


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.WorkloadCheck) -> CheckResult:
    """Pass when the current generation is observed and at least ``minAvailable`` replicas are available."""
    workload = await objects.get(model.ObjectRef(apiVersion="apps/v1", kind=spec.kind, name=spec.name), namespace)
    if workload is None:
        return CheckResult(Outcome.FAIL, message=f"{spec.kind} {spec.name} not found")
    generation = (workload.get("metadata") or {}).get("generation") or 0
    status = workload.get("status") or {}
    observed_generation = status.get("observedGeneration") or 0
    available = status.get("availableReplicas")
    if available is None and spec.kind == "StatefulSet":
        available = status.get("readyReplicas")  # API servers older than 1.22 report no availableReplicas
    available = available or 0
    replicas = (workload.get("spec") or {}).get("replicas")
    replicas = 1 if replicas is None else replicas
    wanted = replicas if spec.minAvailable is None else spec.minAvailable

    observed = f"{available}/{replicas} available, generation {generation} observed {observed_generation}"
    threshold = f"min {wanted} available"
    if observed_generation < generation:
        return CheckResult(Outcome.FAIL, observed, threshold,
                           f"{spec.kind} {spec.name}: generation {generation} not yet observed by its controller")
    if available < wanted:
        return CheckResult(Outcome.FAIL, observed, threshold,
                           f"{spec.kind} {spec.name}: {available} of {wanted} replicas available")
    return CheckResult(Outcome.PASS, observed, threshold)
