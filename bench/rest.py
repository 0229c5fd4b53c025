"""(d) The operator's cost at rest: API requests, CPU and memory with N Restored plans doing nothing.

Each plan lives in a namespace of its own with one service: P gated pods (2 unless ``--rest-pods``
says otherwise) and a Service. For each
N (cumulative: the plans of a smaller N stay), a fresh operator process starts, every plan is
Restored, and then, over the same window, the API server's own ``apiserver_request_total`` is read
twice with the operator running and twice with it stopped. The operator's requests are the first
difference minus the second (the controller manager, the simulated kubelet and this benchmark's
own reads of ``/metrics`` are in both). WATCH requests are left out: a watch is opened once and
stays open. CPU and RSS are read from ``/proc`` for the operator process over the running window.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkube import AsyncClient

from bench import env, workload
from reentry import model
from reentry.kube import RecoveryPlanResource
from reentry.sandbox.cluster import Sandbox

NAMESPACE_PREFIX = "rest"
SETTLE = 10.0  # seconds after the last plan is Restored, so creation's own traffic is over


@dataclass(frozen=True)
class RestSample:
    """One N: what the operator cost over one window."""

    plans: int
    pods_per_plan: int
    window: float
    running: Counter[str]
    """Requests by verb over the window, the operator running (WATCH left out)."""
    stopped: Counter[str]
    """The same, the operator stopped."""
    cpu_seconds: float
    rss_bytes: int
    restored_after: float
    """Seconds from the operator's start to every plan Restored (all plans, not only the new ones)."""

    @property
    def operator_requests(self) -> int:
        return max(0, sum(self.running.values()) - sum(self.stopped.values()))

    @property
    def per_second(self) -> float:
        return self.operator_requests / self.window

    @property
    def per_plan_per_minute(self) -> float:
        return self.operator_requests / self.plans / (self.window / 60)

    @property
    def cpu_share(self) -> float:
        """Of one core, over the window."""
        return self.cpu_seconds / self.window

    def by_verb(self) -> dict[str, int]:
        verbs = set(self.running) | set(self.stopped)
        return {v: self.running[v] - self.stopped[v] for v in sorted(verbs) if self.running[v] != self.stopped[v]}


def manifests(index: int, pods_per_plan: int) -> list[dict[str, Any]]:
    """One namespace's objects: gated pods ``app: svc``, the Service and a plan over them."""
    pods = []
    for i in range(pods_per_plan):
        pod = workload.pod(f"svc-{i}")
        pod["metadata"]["labels"] = {"app": "svc"}
        pods.append(pod)
    return [*pods, workload.service("svc"), workload.plan(f"rest-{index}", [workload.plan_service("svc")])]


async def _requests(client: AsyncClient) -> Counter[str]:
    counts = await env.apiserver_requests(client, None)
    counts.pop("WATCH", None)
    return counts


async def _restored(client: AsyncClient, plans: int) -> int | None:
    done = 0
    async for plan in client.list(RecoveryPlanResource, namespace="*"):
        status: Any = plan.get("status") or {}
        if plan.metadata and (plan.metadata.namespace or "").startswith(NAMESPACE_PREFIX) \
                and status.get("phase") == model.Phase.RESTORED.value:
            done += 1
    return done if done >= plans else None


async def run(client: AsyncClient, box: Sandbox, directory: Path, counts: list[int], window: float,
              startup: float, pods_per_plan: int = 2) -> list[RestSample]:
    """Measure every N in ``counts`` (ascending), each with a fresh operator."""
    samples = []
    created = 0
    for plans in sorted(counts):
        log = directory / f"operator-rest-{plans}.log"
        with env.operator_process(box, log) as operator:
            started = time.monotonic()
            while created < plans:
                namespace = await env.create_namespace(client, NAMESPACE_PREFIX)
                await env.create_all(client, namespace, manifests(created, pods_per_plan))
                created += 1
            await env.poll(f"{plans} plans Restored", lambda n=plans: _restored(client, n),
                           timeout=startup + plans * pods_per_plan, every=1.0)
            restored_after = time.monotonic() - started
            await asyncio.sleep(SETTLE)
            operator.check_alive()
            before, (cpu_before, _) = await _requests(client), env.process_usage(operator.process.pid)
            await asyncio.sleep(window)
            after, (cpu_after, rss) = await _requests(client), env.process_usage(operator.process.pid)
            operator.check_alive()
        quiet_before = await _requests(client)
        await asyncio.sleep(window)
        quiet_after = await _requests(client)
        samples.append(RestSample(plans, pods_per_plan, window, after - before, quiet_after - quiet_before,
                                  cpu_after - cpu_before, rss, restored_after))
        print(f"  {plans} plans: {samples[-1].per_second:.2f} requests/s from the operator, "
              f"{samples[-1].cpu_share:.1%} of a core, RSS {rss / 2**20:.0f} MiB", flush=True)
    return samples
