"""Given/When/Then helpers for failback stories: gated services, plans, and what the API server shows."""

from __future__ import annotations

import time
from typing import Any

import yaml
from lightkube.resources.core_v1 import Pod

from reentry.kube import RecoveryPlanResource
from reentry.model import READINESS_GATE
from tests.e2e.conftest import Cluster, apply_docs, wait_for


def gated_service(name: str, replicas: int = 1) -> list[dict[str, Any]]:
    """A Deployment whose pods carry the readiness gate, and the Service they join."""
    labels = {"app": name}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"readinessGates": [{"conditionType": READINESS_GATE}],
                                        "containers": [{"name": name, "image": "registry.k8s.io/pause:3.10"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]


def service_entry(name: str, depends_on: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """The plan's entry for a service made by :func:`gated_service`."""
    return {"name": name, "selector": {"matchLabels": {"app": name}}, "service": name,
            "dependsOn": list(depends_on), **extra}


def recovery_plan(name: str, services: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A RecoveryPlan manifest; ``spec`` adds or replaces fields (start defaults to OnTechnicalRecovery)."""
    return {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "metadata": {"name": name},
            "spec": {"owner": {"team": "payments"}, "start": "OnTechnicalRecovery", "services": services, **spec}}


def given_running_pods(cluster: Cluster, namespace: str, docs: list[dict[str, Any]], count: int) -> None:
    """Apply the workloads and wait until ``count`` pods run (held by their gates)."""
    apply_docs(cluster, namespace, docs)

    def running() -> bool:
        pods = list(cluster.client.list(Pod, namespace=namespace))
        return len(pods) == count and all(p.status and p.status.phase == "Running" for p in pods)

    wait_for(f"{count} running pods", running)


def plan_status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """The plan's status as the API server has it."""
    status: Any = cluster.client.get(RecoveryPlanResource, name, namespace=namespace).status
    return dict(status or {})


def wait_phase(cluster: Cluster, namespace: str, name: str, phase: str, timeout: float = 90) -> dict[str, Any]:
    """Wait until the plan reports ``phase``; return its status."""
    def reached() -> dict[str, Any] | None:
        status = plan_status(cluster, namespace, name)
        return status if status.get("phase") == phase else None

    return wait_for(f"plan {name} in phase {phase}", reached, timeout)


def wait_status(cluster: Cluster, namespace: str, name: str, what: str, predicate: Any,
                timeout: float = 90) -> dict[str, Any]:
    """Wait until ``predicate(status)`` holds; return the status."""
    def holds() -> dict[str, Any] | None:
        status = plan_status(cluster, namespace, name)
        return status if predicate(status) else None

    return wait_for(what, holds, timeout)


def stays(what: str, predicate: Any, seconds: float) -> None:
    """Assert that ``predicate()`` holds throughout ``seconds`` (a bounded watch for something NOT happening)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"expected {what} to hold for {seconds}s"
        time.sleep(0.2)


def released(pod: Pod) -> bool:
    """The pod's readiness gate is open."""
    return any(c.type == READINESS_GATE and c.status == "True" for c in (pod.status.conditions or []))


def released_count(cluster: Cluster, namespace: str, app: str | None = None) -> int:
    """How many pods (of ``app``, or all) have their gate open."""
    labels = {"app": app} if app else None
    return sum(released(p) for p in cluster.client.list(Pod, namespace=namespace, labels=labels))


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Status lists (services, checks, actions) keyed by name."""
    return {i["name"]: i for i in items}


def events(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    """(reason, message) of the plan's events, oldest first."""
    out = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "yaml",
                          "--sort-by=.metadata.creationTimestamp", namespace=namespace).stdout
    return [(e["reason"], e.get("message", "")) for e in yaml.safe_load(out)["items"]]
