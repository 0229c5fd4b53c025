"""``workload``: a Deployment or StatefulSet has rolled out.

Its controller has observed the current generation, and enough replicas are available (by default
``spec.replicas``). Pods held by the readiness gate are not available, so this check passes only
for a workload whose pods serve.
"""

from __future__ import annotations

from lightkube import ApiError
from lightkube.resources.apps_v1 import Deployment, StatefulSet

from reentry import model
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import Outcome
from reentry.objects import Objects


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.WorkloadCheck) -> CheckResult:
    """Pass when the current generation is observed and at least ``minAvailable`` replicas are available."""
    workload: Deployment | StatefulSet
    try:
        if spec.kind == "StatefulSet":
            workload = await kube.client.get(StatefulSet, spec.name, namespace=namespace)
        else:
            workload = await kube.client.get(Deployment, spec.name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return CheckResult(Outcome.FAIL, message=f"{spec.kind} {spec.name} not found")
        raise
    generation = (workload.metadata.generation if workload.metadata else None) or 0
    status = workload.status
    observed_generation = (status.observedGeneration if status else None) or 0
    available = status.availableReplicas if status else None
    if available is None and isinstance(workload, StatefulSet) and status:
        available = status.readyReplicas  # API servers older than 1.22 report no availableReplicas
    available = available or 0
    replicas = workload.spec.replicas if workload.spec and workload.spec.replicas is not None else 1
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
