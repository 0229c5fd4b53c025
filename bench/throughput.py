"""(a) Release throughput: the operator releasing N gated pods versus a raw concurrent patch loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from dataclasses import dataclass

from lightkube import AsyncClient

from bench import workload
from bench.env import OperatorProcess, create_all, create_namespace, full_collections, until_idle
from bench.watch import Recorder, Tally
from reentry.kube import Kube

APP = "bench"
#: The concurrency the operator releases with: ``Kube.release_pods``' default, read so the two never drift.
CONCURRENCY: int = inspect.signature(Kube.release_pods).parameters["concurrency"].default


@dataclass(frozen=True)
class Setup:
    """How long N pods took to exist, bound and Running, in one namespace."""

    namespace: str
    pods: list[str]
    seconds: float


@dataclass(frozen=True)
class ThroughputResult:
    """Times in seconds; the ratio compares pods per second."""

    pods: int
    concurrency: int
    setup_seconds: tuple[float, float]
    raw_seconds: float           # first patch to last response
    raw_observed_seconds: float  # first patch to the watch seeing the last gate open
    operator_seconds: float      # plan created to the watch seeing the last gate open
    operator_reaction: float     # plan created to the watch seeing the first gate open
    collections: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    """The operator's garbage collections during the baseline and during its own run."""

    def full_collections(self) -> tuple[str, str]:
        """The operator's full collections during the baseline and during its own run, for a report."""
        return full_collections(self.collections[0]), full_collections(self.collections[1])

    @property
    def raw_rate(self) -> float:
        return self.pods / self.raw_seconds

    @property
    def operator_rate(self) -> float:
        return self.pods / self.operator_seconds

    @property
    def ratio(self) -> float:
        """Operator throughput / raw throughput, both to the watch seeing the last gate open, the
        operator's reaction included (goal >= 0.95)."""
        return self.raw_observed_seconds / self.operator_seconds

    @property
    def response_ratio(self) -> float:
        """The same against the raw loop's last response (before the watch has seen it)."""
        return self.operator_rate / self.raw_rate

    @property
    def release_phase_ratio(self) -> float:
        """The same ratio without the operator's reaction: first to last release, both as the watch saw them."""
        return self.raw_observed_seconds / (self.operator_seconds - self.operator_reaction)


async def prepare(client: AsyncClient, prefix: str, pods: int, timeout: float) -> Setup:
    """A fresh namespace with a Deployment of ``pods`` gated pods and their Service, all Running and listed."""
    namespace = await create_namespace(client, prefix)
    started = time.monotonic()
    await create_all(client, namespace, [workload.service(APP), workload.deployment(APP, pods)])
    names = await workload.wait_running(client, namespace, pods, timeout)
    seconds = time.monotonic() - started
    # The EndpointSlice controller settles too, so its catch-up does not run into a measurement.
    await workload.wait_endpoints_listed(client, namespace, APP, pods, timeout)
    return Setup(namespace, names, seconds)


async def _tally(client: AsyncClient, namespace: str, pods: int) -> tuple[Recorder, Tally]:
    tally = Tally(lambda _, obj: workload.gate_open(obj), pods, workload.pod_name)
    recorder = await Recorder(client, workload.PodDict, namespace).start()
    recorder.add(tally)
    return recorder, tally


async def raw_release(client: AsyncClient, namespace: str, names: list[str]) -> tuple[float, float]:
    """The baseline: the operator's own patch for every pod, ``CONCURRENCY`` at a time; (start, end)."""
    kube, limit = Kube(client), asyncio.Semaphore(CONCURRENCY)

    async def one(name: str) -> None:
        async with limit:
            await kube.release_pod(namespace, name)

    try:
        start = time.monotonic()
        await asyncio.gather(*(one(n) for n in names))
        return start, time.monotonic()
    finally:
        await kube.close()


async def baseline(client: AsyncClient, setup: Setup, timeout: float) -> tuple[float, float]:
    """Seconds of the raw loop, and until the watch saw every gate open."""
    recorder, tally = await _tally(client, setup.namespace, len(setup.pods))
    try:
        start, end = await raw_release(client, setup.namespace, setup.pods)
        seen_all = await asyncio.wait_for(tally.all, timeout)
    finally:
        await recorder.stop()
    return end - start, seen_all - start


async def operator_run(client: AsyncClient, setup: Setup, operator: OperatorProcess,
                       timeout: float) -> tuple[float, float]:
    """Seconds from creating the plan to the last and to the first gate opening, as the watch saw them."""
    recorder, tally = await _tally(client, setup.namespace, len(setup.pods))
    try:
        start = time.monotonic()
        await create_all(client, setup.namespace,
                         [workload.plan("throughput", [workload.plan_service(APP)])])
        seen_all = await _await_alive(tally.all, operator, timeout)
    finally:
        await recorder.stop()
    return seen_all - start, tally.first.result() - start


async def _await_alive(future: asyncio.Future[float], operator: OperatorProcess, timeout: float) -> float:
    """Await ``future``, checking every second that the operator still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = await asyncio.wait({future}, timeout=1)
        if done:
            return future.result()
        operator.check_alive()
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for the operator")


async def round_(client: AsyncClient, operator: OperatorProcess, pods: int, timeout: float) -> ThroughputResult:
    """Both namespaces prepared first, then the baseline, then the operator (it has been idle until then)."""
    raw_setup = await prepare(client, "bench-raw", pods, timeout)
    print(f"  {pods} pods running in {raw_setup.namespace} after {raw_setup.seconds:.1f}s", flush=True)
    op_setup = await prepare(client, "bench-op", pods, timeout)
    print(f"  {pods} pods running in {op_setup.namespace} after {op_setup.seconds:.1f}s", flush=True)
    (raw_seconds, raw_observed), during_raw = await operator.collections_during(baseline(client, raw_setup, timeout))
    print(f"  baseline: {raw_seconds:.2f}s ({pods / raw_seconds:.0f} pods/s); the operator's full collections "
          f"meanwhile: {full_collections(during_raw)}", flush=True)
    operator.check_alive()
    # The operator watches every pod: it is still taking in the baseline's events (gates opened, pods
    # Ready, EndpointSlices filling up). Its own run starts once the endpoints and the operator settled.
    await workload.wait_endpoints_ready(client, raw_setup.namespace, APP, pods, timeout)
    settled = await until_idle(operator.process.pid, timeout)
    print(f"  the operator settled {settled:.1f}s after the baseline's endpoints were ready", flush=True)
    (op_seconds, reaction), during_op = await operator.collections_during(
        operator_run(client, op_setup, operator, timeout))
    print(f"  operator: {op_seconds:.2f}s ({pods / op_seconds:.0f} pods/s), first release after {reaction:.2f}s; "
          f"its full collections meanwhile: {full_collections(during_op)}", flush=True)
    return ThroughputResult(pods=pods, concurrency=CONCURRENCY, setup_seconds=(raw_setup.seconds, op_setup.seconds),
                            raw_seconds=raw_seconds, raw_observed_seconds=raw_observed,
                            operator_seconds=op_seconds, operator_reaction=reaction,
                            collections=(during_raw, during_op))


async def run(client: AsyncClient, operator: OperatorProcess, pods: int, timeout: float,
              rounds: int = 1) -> list[ThroughputResult]:
    """``rounds`` rounds, each in two fresh namespaces (the earlier rounds' pods stay, Running)."""
    results = []
    for index in range(1, rounds + 1):
        print(f"  round {index} of {rounds}", flush=True)
        results.append(await round_(client, operator, pods, timeout))
        print(f"  round {index}: ratio {results[-1].ratio:.2f}", flush=True)
    return results
