"""Manifests of the benchmark's workloads and plans, and small readers of pods as plain dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightkube import AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.discovery_v1 import EndpointSlice

from bench.env import poll
from bench.watch import Predicate
from reentry import model
from reentry.kube import count_ready_endpoints

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
#: Pods as plain dicts: decoding a watch event this way costs far less than lightkube's typed Pod.
PodDict = create_namespaced_resource("", "v1", "Pod", "pods")
Json = dict[str, Any]


def _pod_spec() -> Json:
    return {"readinessGates": [{"conditionType": model.READINESS_GATE}],
            "containers": [{"name": "app", "image": PAUSE_IMAGE}]}


def pod(name: str) -> Json:
    """One gated pod labelled ``app: name``."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": _pod_spec()}


def deployment(name: str, replicas: int) -> Json:
    """A Deployment of gated pods labelled ``app: name``."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": _pod_spec()}}}


def service(name: str) -> Json:
    """A Service selecting ``app: name``."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def plan_service(name: str, depends_on: Sequence[str] = ()) -> Json:
    """A plan's service entry: pods ``app: name`` behind Service ``name``, released all at once."""
    return {"name": name, "selector": {"matchLabels": {"app": name}}, "service": name,
            "dependsOn": list(depends_on), "minReadyEndpoints": 1, "release": {"batch": "100%"}}


def plan(name: str, services: list[Json]) -> Json:
    """A RecoveryPlan that starts at once (no technical-recovery checks)."""
    return {"apiVersion": f"{model.GROUP}/{model.VERSION}", "kind": model.KIND, "metadata": {"name": name},
            "spec": {"owner": {"team": "bench"}, "start": "OnTechnicalRecovery", "services": services}}


def pod_name(obj: Json) -> str:
    name: str = obj["metadata"]["name"]
    return name


def gate_open(obj: Json) -> bool:
    """True when the pod's ``reentry.dev/released`` condition is True."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == model.READINESS_GATE and c.get("status") == "True" for c in conditions)


def running(obj: Json) -> bool:
    """Bound to a node and reported Running by the (simulated) kubelet."""
    return bool(obj["spec"].get("nodeName")) and (obj.get("status") or {}).get("phase") == "Running"


async def running_pods(client: AsyncClient, namespace: str, labels: dict[str, str] | None = None) -> list[str]:
    """Names of the namespace's pods that are bound and Running."""
    selector: dict[str, Any] = dict(labels or {})
    return [pod_name(p) async for p in client.list(PodDict, namespace=namespace, labels=selector) if running(p)]


async def wait_running(client: AsyncClient, namespace: str, count: int, timeout: float,
                       labels: dict[str, str] | None = None, every: float = 1.0) -> list[str]:
    """Wait until ``count`` pods (matching ``labels``) are Running on a node; return their names."""
    async def probe() -> list[str] | None:
        names = await running_pods(client, namespace, labels)
        return sorted(names) if len(names) >= count else None

    return await poll(f"{count} running pods in {namespace}", probe, timeout, every)


async def wait_endpoints_listed(client: AsyncClient, namespace: str, service_name: str, count: int,
                                timeout: float) -> int:
    """Wait until the Service's EndpointSlices list ``count`` endpoints, ready or not (the controller settled)."""
    async def probe() -> int | None:
        slices = [s async for s in client.list(EndpointSlice, namespace=namespace,
                                               labels={"kubernetes.io/service-name": service_name})]
        listed = sum(len(s.endpoints or []) for s in slices)
        return listed if listed >= count else None

    return await poll(f"{count} endpoints of {namespace}/{service_name}", probe, timeout)


async def wait_endpoints_ready(client: AsyncClient, namespace: str, service_name: str, count: int,
                               timeout: float) -> int:
    """Wait until the Service's EndpointSlices show ``count`` ready endpoints."""
    async def probe() -> int | None:
        slices = [s async for s in client.list(EndpointSlice, namespace=namespace,
                                               labels={"kubernetes.io/service-name": service_name})]
        ready = count_ready_endpoints(slices)
        return ready if ready >= count else None

    return await poll(f"{count} ready endpoints of {namespace}/{service_name}", probe, timeout)


def slice_ready(service_name: str) -> Predicate:
    """Predicate on EndpointSlice events: a slice of ``service_name`` shows a ready endpoint."""
    def matches(_: str, obj: EndpointSlice) -> bool:
        labels = (obj.metadata.labels or {}) if obj.metadata else {}
        return labels.get("kubernetes.io/service-name") == service_name and count_ready_endpoints([obj]) > 0

    return matches


def released(name: str) -> Predicate:
    """Predicate on pod events: pod ``name`` has its gate condition True."""
    def matches(_: str, obj: Json) -> bool:
        return pod_name(obj) == name and gate_open(obj)

    return matches
