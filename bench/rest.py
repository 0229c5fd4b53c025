"""(d) The operator's cost at rest: API requests, CPU and memory with N plans resting, doing nothing.

Each plan lives in a namespace of its own with one service: P gated pods (2 unless ``--rest-pods``
says otherwise) and a Service. The plans rest in the five phases a plan can wait in for a long time,
one in five each (:data:`RESTING`): Armed (``start: Manual``, never started), Paused (the pause
annotation from creation), Validating (waiting for the owner's approval), Observing (a year-long
``observeFor``) and Restored.

For each N (cumulative: the plans of a smaller N stay), a fresh operator process starts, every
plan reaches its resting phase, and then the API server's own ``apiserver_request_total`` is read
over a window with the operator running, and over a quieter window with it stopped. The operator's
requests are the first count minus the second's rate over the first window (the controller manager,
the simulated kubelet and this benchmark's own reads of ``/metrics`` are in both). The running
window defaults to longer than the operator's resync (300 s), so every plan's safety-net
evaluation falls inside it. WATCH requests are left out: a watch is opened once and stays open.
CPU and RSS are read from ``/proc`` for the operator process over the running window.

With ``loaded`` (a callable), the largest N also runs it while its plans rest and the operator that
serves them is still up: ``bench/run.py`` passes the traffic benchmark, so step latency is measured
with N plans and their pods in the operator's caches.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightkube import AsyncClient

from bench import env, workload
from reentry import model
from reentry.kube import RecoveryPlanResource
from reentry.sandbox.cluster import Sandbox

NAMESPACE_PREFIX = "rest"
SETTLE = 10.0  # seconds after the last plan reached its resting phase, so creation's own traffic is over
#: The phases a plan can rest in for a long time; plan i rests in RESTING[i % 5].
RESTING = (model.Phase.ARMED, model.Phase.PAUSED, model.Phase.VALIDATING, model.Phase.OBSERVING,
           model.Phase.RESTORED)
#: The label that tells the benchmark which phase a plan should rest in.
RESTS_IN = "bench.reentry.dev/rests-in"


@dataclass(frozen=True)
class RestSample:
    """One N: what the operator cost over one window."""

    plans: int
    pods_per_plan: int
    window: float
    running: Counter[str]
    """Requests by verb over the window, the operator running (WATCH left out)."""
    stopped: Counter[str]
    """The same over ``quiet_window``, the operator stopped."""
    cpu_seconds: float
    rss_bytes: int
    restored_after: float
    """Seconds from the operator's start to every plan in its resting phase (all plans, not only the new ones)."""
    quiet_window: float = 0.0
    """Seconds the stopped window lasted (0: as long as ``window``)."""
    phases: Counter[str] = field(default_factory=Counter)
    """How many plans rested in each phase."""

    @property
    def _scale(self) -> float:
        return self.window / (self.quiet_window or self.window)

    def _operators(self, verb: str | None = None) -> float:
        if verb is None:
            return sum(self.running.values()) - sum(self.stopped.values()) * self._scale
        return self.running[verb] - self.stopped[verb] * self._scale

    @property
    def operator_requests(self) -> int:
        return max(0, round(self._operators()))

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
        """The operator's requests by verb (rounded; a verb showing none is left out)."""
        verbs = set(self.running) | set(self.stopped)
        return {v: n for v in sorted(verbs) if (n := round(self._operators(v))) != 0}


def manifests(index: int, pods_per_plan: int) -> list[dict[str, Any]]:
    """One namespace's objects: gated pods ``app: svc``, the Service and a plan over them that rests
    in ``RESTING[index % 5]``."""
    pods = []
    for i in range(pods_per_plan):
        pod = workload.pod(f"svc-{i}")
        pod["metadata"]["labels"] = {"app": "svc"}
        pods.append(pod)
    plan = workload.plan(f"rest-{index}", [workload.plan_service("svc")])
    rests_in = RESTING[index % len(RESTING)]
    plan["metadata"]["labels"] = {RESTS_IN: rests_in.value}
    spec = plan["spec"]
    if rests_in is model.Phase.ARMED:
        spec["start"] = model.StartPolicy.MANUAL.value
    elif rests_in is model.Phase.PAUSED:
        plan["metadata"]["annotations"] = {model.PAUSED_ANNOTATION: "true"}
    elif rests_in is model.Phase.VALIDATING:
        spec["validation"] = {"approval": {"required": True}}
    elif rests_in is model.Phase.OBSERVING:
        spec["validation"] = {"observeFor": "8760h"}
    return [*pods, workload.service("svc"), plan]


async def _requests(client: AsyncClient) -> Counter[str]:
    counts = await env.apiserver_requests(client, None)
    counts.pop("WATCH", None)
    return counts


async def _resting(client: AsyncClient, plans: int) -> Counter[str] | None:
    """The plans' phases once every benchmark plan (at least ``plans``) is in the phase it should rest in."""
    phases: Counter[str] = Counter()
    async for plan in client.list(RecoveryPlanResource, namespace="*"):
        status: Any = plan.get("status") or {}
        meta = plan.metadata
        if meta and (meta.namespace or "").startswith(NAMESPACE_PREFIX):
            if status.get("phase") != (meta.labels or {}).get(RESTS_IN):
                return None
            phases[status["phase"]] += 1
    return phases if sum(phases.values()) >= plans else None


async def run(client: AsyncClient, box: Sandbox, directory: Path, counts: list[int], window: float,
              startup: float, pods_per_plan: int = 2, quiet_window: float = 60.0,
              loaded: Callable[[env.OperatorProcess], Awaitable[Any]] | None = None
              ) -> tuple[list[RestSample], Any]:
    """Measure every N in ``counts`` (ascending), each with a fresh operator; with ``loaded``, also
    run it at the largest N (after the window) and return its result."""
    samples = []
    created = 0
    loaded_result = None
    for plans in sorted(counts):
        log = directory / f"operator-rest-{plans}.log"
        with env.operator_process(box, log) as operator:
            started = time.monotonic()
            while created < plans:
                namespace = await env.create_namespace(client, NAMESPACE_PREFIX)
                await env.create_all(client, namespace, manifests(created, pods_per_plan))
                created += 1
            phases = await env.poll(f"{plans} plans resting", lambda n=plans: _resting(client, n),
                                    timeout=startup + plans * pods_per_plan, every=1.0)
            restored_after = time.monotonic() - started
            await asyncio.sleep(SETTLE)
            operator.check_alive()
            before, (cpu_before, _) = await _requests(client), env.process_usage(operator.process.pid)
            await asyncio.sleep(window)
            after, (cpu_after, rss) = await _requests(client), env.process_usage(operator.process.pid)
            operator.check_alive()
            if loaded is not None and plans == max(counts):
                print(f"  with {plans} plans resting:", flush=True)
                loaded_result = await loaded(operator)
        quiet_before = await _requests(client)
        await asyncio.sleep(quiet_window)
        quiet_after = await _requests(client)
        samples.append(RestSample(plans, pods_per_plan, window, after - before, quiet_after - quiet_before,
                                  cpu_after - cpu_before, rss, restored_after, quiet_window, phases))
        print(f"  {plans} plans: {samples[-1].per_second:.2f} requests/s from the operator, "
              f"{samples[-1].cpu_share:.1%} of a core, RSS {rss / 2**20:.0f} MiB", flush=True)
    return samples, loaded_result
