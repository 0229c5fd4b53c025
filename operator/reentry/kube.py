"""The one place that talks to the Kubernetes API server (through lightkube).

It turns cluster objects into the engine's observation values, and the engine's actions into
patches. 404s and conflicts become outcomes here, not crashes in handlers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, NamedTuple

from lightkube import ApiError, AsyncClient
from lightkube import operators as op
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from reentry import model
from reentry.engine import selectors
from reentry.engine.observations import PodObservation, ServiceObservation


class LabeledPod(NamedTuple):
    """A pod's labels (to match selectors in memory) and what the engine needs to know of it."""

    labels: dict[str, str]
    pod: PodObservation


RecoveryPlanResource = create_namespaced_resource(model.GROUP, model.VERSION, model.KIND, model.PLURAL)
FIELD_MANAGER = "reentry"


def label_filter(selector: model.LabelSelector) -> Any:
    """The selector as lightkube label pairs (matchLabels and matchExpressions).

    A list of pairs rather than a dict, so two expressions on one key both apply; lightkube accepts
    both shapes although its annotations name only the dict.
    """
    pairs: list[tuple[str, Any]] = list(selector.matchLabels.items())
    for req in selector.matchExpressions:
        if req.operator == "In":
            pairs.append((req.key, op.in_(req.values)))
        elif req.operator == "NotIn":
            pairs.append((req.key, op.not_in(req.values)))
        elif req.operator == "Exists":
            pairs.append((req.key, op.exists()))
        else:
            pairs.append((req.key, op.not_exists()))
    return pairs


def pod_observation(pod: Pod) -> PodObservation:
    """Whether a pod carries the readiness gate and whether the gate is open."""
    gates = (pod.spec.readinessGates or []) if pod.spec else []
    gated = any(g.conditionType == model.READINESS_GATE for g in gates)
    conds = (pod.status.conditions or []) if pod.status else []
    gate_open = any(c.type == model.READINESS_GATE and c.status == "True" for c in conds)
    assert pod.metadata is not None and pod.metadata.name is not None
    return PodObservation(name=pod.metadata.name, gated=gated, released=gate_open or not gated)


def count_ready_endpoints(slices: list[EndpointSlice]) -> int:
    """Distinct ready endpoints across a Service's EndpointSlices (``ready`` unset counts as ready)."""
    ready: set[str] = set()
    for eps in slices:
        for ep in eps.endpoints or []:
            is_ready = ep.conditions is None or ep.conditions.ready is None or ep.conditions.ready
            if is_ready and ep.addresses:
                ready.add(ep.addresses[0])
    return len(ready)


class Kube:
    """Async access to the cluster for one operator process."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def namespace_pods(self, namespace: str) -> list[LabeledPod]:
        """Every pod of the namespace that is not terminating, listed once per evaluation."""
        found = []
        async for pod in self.client.list(Pod, namespace=namespace):
            if pod.metadata and not pod.metadata.deletionTimestamp:
                found.append(LabeledPod(dict(pod.metadata.labels or {}), pod_observation(pod)))
        return found

    async def observe_service(self, namespace: str, spec: model.ServiceSpec,
                              pods: list[LabeledPod]) -> ServiceObservation:
        """The service's pods (from ``pods``), its Service's ready endpoints, whether the Service exists."""
        selected = sorted((p.pod for p in pods if selectors.matches(spec.selector, p.labels)), key=lambda p: p.name)
        slices = [s async for s in self.client.list(
            EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": spec.service})]
        return ServiceObservation(pods=tuple(selected), ready_endpoints=count_ready_endpoints(slices),
                                  service_exists=await self.exists(Service, spec.service, namespace))

    async def exists(self, kind: Any, name: str, namespace: str) -> bool:
        """True when the named object exists."""
        try:
            await self.client.get(kind, name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return False
            raise
        return True

    async def plan_selectors(self, namespace: str) -> list[model.LabelSelector]:
        """The service selectors of every RecoveryPlan in the namespace (invalid plans are skipped)."""
        found = []
        async for plan in self.client.list(RecoveryPlanResource, namespace=namespace):
            spec: Any = plan.spec or {}
            for service in spec.get("services") or []:
                try:
                    found.append(model.LabelSelector.model_validate(service.get("selector") or {}))
                except ValueError:
                    continue
        return found

    async def release_pods(self, namespace: str, names: list[str], concurrency: int = 32) -> int:
        """Release pods concurrently (bounded); return how many were still there to release."""
        limit = asyncio.Semaphore(concurrency)

        async def one(name: str) -> bool:
            async with limit:
                return await self.release_pod(namespace, name)

        return sum(await asyncio.gather(*(one(n) for n in names)))

    async def release_pod(self, namespace: str, name: str) -> bool:
        """Set the readiness-gate condition True; False if the pod is gone (nothing left to release)."""
        condition = {"type": model.READINESS_GATE, "status": "True", "reason": "ReleasedByReentry",
                     "message": "released by the reentry operator",
                     "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            # Strategic merge on pod status merges conditions by type: the kubelet's own stay intact.
            await self.client.patch(Pod.Status, name, {"status": {"conditions": [condition]}},
                                    namespace=namespace, patch_type=PatchType.STRATEGIC)
        except ApiError as err:
            if err.status.code == 404:
                return False
            raise
        return True

    async def write_status(self, namespace: str, name: str, status: model.RecoveryPlanStatus) -> None:
        """Replace the plan's status (merge patch; fields that became empty are removed)."""
        body: dict[str, Any] = status.model_dump(mode="json", exclude_none=True)
        for key in model.RecoveryPlanStatus.model_fields:
            body.setdefault(key, None)
        await self.client.patch(RecoveryPlanResource.Status, name, {"status": body}, namespace=namespace,
                                patch_type=PatchType.MERGE)
