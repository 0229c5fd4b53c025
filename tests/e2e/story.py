"""Given/When/Then helpers for failback stories: gated services, plans, and what the API server shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import yaml
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from reentry import actions, checks
from reentry.actions.job import ACTION_LABEL
from reentry.engine.observations import ActionProgress, CheckResult
from reentry.kube import Kube, RecoveryPlanResource
from reentry.model import READINESS_GATE, Action, Check
from reentry.objects import Objects
from tests.e2e.conftest import Cluster, apply_docs, wait_for

T = TypeVar("T")


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


def release_times(cluster: Cluster, namespace: str, app: str) -> list[datetime]:
    """When each pod of ``app`` had its gate opened (the condition's transition time, whole seconds), sorted."""
    return sorted(c.lastTransitionTime for p in cluster.client.list(Pod, namespace=namespace, labels={"app": app})
                  for c in (p.status.conditions or []) if c.type == READINESS_GATE and c.status == "True")


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Status lists (services, checks, actions) keyed by name."""
    return {i["name"]: i for i in items}


def events(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    """(reason, message) of the plan's events, oldest first."""
    out = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "yaml",
                          "--sort-by=.metadata.creationTimestamp", namespace=namespace).stdout
    return [(e["reason"], e.get("message", "")) for e in yaml.safe_load(out)["items"]]


# ---- playing the Job controller's verdict (the simulated kubelet never ends a container) --------


def now() -> str:
    """The current time as Kubernetes writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jobs_of(cluster: Cluster, namespace: str, action: str) -> list[Job]:
    """The Jobs an action created, by its label."""
    return list(cluster.client.list(Job, namespace=namespace, labels={ACTION_LABEL: action}))


def started(cluster: Cluster, namespace: str, name: str) -> Job:
    """Wait until the Job controller has started the Job (the API server refuses a verdict before)."""
    def running() -> Job | None:
        job = cluster.client.get(Job, name, namespace=namespace)
        return job if job.status is not None and job.status.startTime is not None and job.status.active else None

    return wait_for(f"Job {name} to start", running)


def finish(cluster: Cluster, namespace: str, name: str, status: dict[str, Any]) -> None:
    """Write the Job's final status as its controller would."""
    cluster.client.patch(Job.Status, name, {"status": {"active": 0, "ready": 0, **status}}, namespace=namespace,
                         patch_type=PatchType.MERGE)


def condition(kind: str, reason: str, message: str) -> dict[str, str]:
    """A Job condition, True since now."""
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now()}


def complete(cluster: Cluster, namespace: str, name: str) -> None:
    """The Job succeeded (the API server wants SuccessCriteriaMet before Complete, and a completionTime)."""
    started(cluster, namespace, name)
    message = "Reached expected number of succeeded pods"
    finish(cluster, namespace, name, {"succeeded": 1, "completionTime": now(), "conditions": [
        condition("SuccessCriteriaMet", "CompletionsReached", message),
        condition("Complete", "CompletionsReached", message)]})


# ---- the operator's side of one call: a check probed, an action step executed -------------------


def run(cluster: Cluster, step: Callable[[Kube, Objects], Awaitable[T]]) -> T:
    """Run one async step with a fresh client, as one reconcile of the operator would."""
    async def main() -> T:
        client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
        try:
            return await step(Kube(client), Objects(client))
        finally:
            await client.close()
    return asyncio.run(main())


def probe(cluster: Cluster, namespace: str, name: str, **kind: Any) -> CheckResult:
    """Probe one check (``kind`` is its kind and options) as the operator would."""
    check = Check.model_validate({"name": name, **kind})
    return run(cluster, lambda kube, objects: checks.probe(kube, objects, namespace, check))


def execute(cluster: Cluster, namespace: str, context: actions.ActionContext, record: dict[str, Any],
            **kind: Any) -> ActionProgress:
    """Take one step of an action as the operator would, from ``record``."""
    action = Action.model_validate({"name": context.action_name, **kind})
    return run(cluster, lambda kube, objects: actions.execute(kube, objects, namespace, context, action, record))
