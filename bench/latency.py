"""(b) Reaction latency: from ``base``'s endpoint turning ready to ``dep``'s gate opening.

Each trial uses fresh names in two namespaces created once: ``op`` holds the plan's services
``base-i`` and ``dep-i``; ``ctl`` holds the same shape without a plan, for the baselines. A trial's
plan is deleted (and its deletion awaited) before the next trial, so one plan ticks at a time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from bench import workload
from bench.env import OperatorProcess, create_all, create_namespace, delete_quietly, poll
from bench.watch import Recorder
from reentry.kube import Kube, RecoveryPlanResource

STEP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Trial:
    """Seconds, each measured between two watch arrivals (or a request and an arrival)."""

    reaction: float  # op: base endpoint ready -> dep gate open (operator)
    chain: float     # ctl: patch sent -> the pod's endpoint ready (API server, kubelet, EndpointSlice controller)
    ideal: float     # ctl: base endpoint ready -> dep gate open, patched by the benchmark on that event


@dataclass
class LatencyResult:
    trials: list[Trial] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        return [getattr(t, name) for t in self.trials]


@dataclass
class Namespaces:
    """The two namespaces, with a watch on pods and one on EndpointSlices in each, and the baselines'
    own releases (one client over all trials, its connections kept open like the operator's)."""

    op: str
    ctl: str
    pods: dict[str, Recorder]
    slices: dict[str, Recorder]
    kube: Kube

    @classmethod
    async def create(cls, client: AsyncClient) -> Namespaces:
        op, ctl = await create_namespace(client, "latency-op"), await create_namespace(client, "latency-ctl")
        pods = {ns: await Recorder(client, workload.PodDict, ns).start() for ns in (op, ctl)}
        slices = {ns: await Recorder(client, EndpointSlice, ns).start() for ns in (op, ctl)}
        return cls(op, ctl, pods, slices, Kube(client))

    async def stop(self) -> None:
        for recorder in (*self.pods.values(), *self.slices.values()):
            await recorder.stop()
        await self.kube.close()


async def _setup(client: AsyncClient, namespace: str, base: str, dep: str) -> None:
    """Services and gated pods ``base`` and ``dep``, Running (still held by their gate)."""
    await create_all(client, namespace, [workload.service(base), workload.service(dep),
                                         workload.pod(base), workload.pod(dep)])
    for name in (base, dep):
        await workload.wait_running(client, namespace, 1, STEP_TIMEOUT, labels={"app": name}, every=0.05)


async def _baselines(client: AsyncClient, spaces: Namespaces, index: int) -> tuple[float, float]:
    """The chain and the ideal reaction in the ``ctl`` namespace: (chain, ideal)."""
    base, dep, ns, kube = f"base-{index}", f"dep-{index}", spaces.ctl, spaces.kube
    ready = spaces.slices[ns].first(workload.slice_ready(base))
    dep_open = spaces.pods[ns].first(workload.released(dep))
    sent = time.monotonic()
    await kube.release_pod(ns, base)
    seen_ready = await asyncio.wait_for(ready, STEP_TIMEOUT)
    await kube.release_pod(ns, dep)
    seen_open = await asyncio.wait_for(dep_open, STEP_TIMEOUT)
    return seen_ready - sent, seen_open - seen_ready


async def _operator(client: AsyncClient, spaces: Namespaces, index: int, operator: OperatorProcess,
                    timeout: float) -> float:
    """The operator's reaction in the ``op`` namespace: base endpoint ready -> dep gate open."""
    base, dep, ns = f"base-{index}", f"dep-{index}", spaces.op
    ready = spaces.slices[ns].first(workload.slice_ready(base))
    dep_open = spaces.pods[ns].first(workload.released(dep))
    services = [workload.plan_service(base), workload.plan_service(dep, depends_on=[base])]
    await create_all(client, ns, [workload.plan(f"plan-{index}", services)])
    deadline = time.monotonic() + timeout
    while not dep_open.done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"trial {index}: dep-{index} was not released within {timeout:.0f}s")
        operator.check_alive()
        await asyncio.wait({dep_open}, timeout=1)
    seen_open = dep_open.result()
    if not ready.done() or ready.result() > seen_open:
        raise AssertionError(f"trial {index}: dep-{index} was released before base-{index} had a ready endpoint")
    return seen_open - ready.result()


async def _cleanup(client: AsyncClient, spaces: Namespaces, index: int) -> None:
    """Delete the trial's plan and wait until it is gone (its timer stops); drop its pods and Services."""
    plan = f"plan-{index}"
    await delete_quietly(client, RecoveryPlanResource, plan, spaces.op)

    async def gone() -> bool:
        try:
            await client.get(RecoveryPlanResource, plan, namespace=spaces.op)
        except ApiError as err:
            return err.status.code == 404
        return False

    await poll(f"plan {plan} deleted", gone, STEP_TIMEOUT, every=0.1)
    for ns in (spaces.op, spaces.ctl):
        for name in (f"base-{index}", f"dep-{index}"):
            await delete_quietly(client, workload.PodDict, name, ns)
            await delete_quietly(client, Service, name, ns)


async def trial(client: AsyncClient, spaces: Namespaces, index: int, operator: OperatorProcess,
                timeout: float = STEP_TIMEOUT) -> Trial:
    """One trial: set up both namespaces, measure the baselines, then the operator; clean up."""
    for ns in (spaces.op, spaces.ctl):
        await _setup(client, ns, f"base-{index}", f"dep-{index}")
    chain, ideal = await _baselines(client, spaces, index)
    reaction = await _operator(client, spaces, index, operator, timeout)
    await _cleanup(client, spaces, index)
    return Trial(reaction=reaction, chain=chain, ideal=ideal)


async def run(client: AsyncClient, operator: OperatorProcess, trials: int, startup_timeout: float) -> LatencyResult:
    """One warm-up trial (it also waits for the operator to come up), then ``trials`` counted ones."""
    spaces = await Namespaces.create(client)
    result = LatencyResult()
    try:
        warm = await trial(client, spaces, 0, operator, timeout=startup_timeout)
        print(f"  warm-up: reaction {warm.reaction * 1000:.0f} ms (not counted)", flush=True)
        for index in range(1, trials + 1):
            result.trials.append(await trial(client, spaces, index, operator))
            last = result.trials[-1]
            print(f"  trial {index}: reaction {last.reaction * 1000:.0f} ms, chain {last.chain * 1000:.0f} ms, "
                  f"ideal {last.ideal * 1000:.0f} ms", flush=True)
    finally:
        await spaces.stop()
    return result
