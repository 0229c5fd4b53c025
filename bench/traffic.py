"""(c) Traffic steps: from a hold's end to every target showing the next weight, and the writes per step.

Per trial, fresh object names in two namespaces created once:

* ``op``: K ConfigMaps (key ``budget``, value "0"), one gated pod and its Service, and a
  RecoveryPlan (``start: OnTechnicalRecovery``, that one service, S traffic steps of weights
  100/S .. 100, each held ``hold``, one ``configMapKey`` target per ConfigMap from 0 to 100, so a
  step's value is its weight). The operator releases the pod, passes the empty stages and ramps.
  A ConfigMap watch and a plan watch in the benchmark stamp every event with the wall clock
  (``time.time()``), because ``status.traffic.holdUntil`` is the operator's wall clock (same machine).
  The latency of step j (2..S) is the arrival of the last ConfigMap showing step j's value minus
  step j-1's ``holdUntil`` as the operator wrote it: the hold's end to every target patched.
  Step 1 has no hold before it and is not counted.
* ``ctl``: K ConfigMaps of the same shape and no plan. The benchmark sleeps until a wall-clock
  deadline, then calls ``reentry.targets.apply`` for the K targets concurrently (the operator's
  own write: a GET, then a server-side apply with field manager ``reentry``) and measures the
  deadline to the last watch arrival: what a controller that does nothing but the writes at the
  deadline would reach against this API server.

Writes: the target ConfigMaps have no other writer, so every MODIFIED event during the ramp is a
write that changed one. The API server's own ``apiserver_request_total`` counts the requests, so a
write that changed nothing (a repeat) shows as requests beyond the value changes the watch saw.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from bench import env, workload
from bench.env import OperatorProcess, apiserver_requests, create_all, create_namespace, delete_quietly, poll
from bench.watch import Journal, Predicate, Recorder
from reentry import cache, controller, model, targets
from reentry.engine.reconcile import evaluate
from reentry.engine.timeutil import parse_time
from reentry.kube import Kube, RecoveryPlanResource
from reentry.objects import Objects

#: ConfigMaps as plain dicts, so a journal reads them like JSON.
ConfigMapDict = create_namespaced_resource("", "v1", "ConfigMap", "configmaps")
KEY = "budget"
STEP_TIMEOUT = 60.0
#: The baseline's deadline lies this far ahead of the moment it is set (one asyncio sleep to it, as the operator's).
BASELINE_LEAD = 0.3
WRITE_VERBS = ("APPLY", "PATCH", "UPDATE")
#: The history reason of a step taken forward (``step 3/10``); a step back or an abort reads otherwise.
STEP_REASON = re.compile(r"step \d+/\d+")
Events = list[tuple[float, str, Any]]


@dataclass(frozen=True)
class Shape:
    """K targets, S steps of equal size up to 100, each held ``hold_ms``."""

    targets: int = 5
    steps: int = 10
    hold_ms: int = 1000

    @property
    def weights(self) -> list[int]:
        return [int(100 * k / self.steps + 0.5) for k in range(1, self.steps + 1)]


@dataclass(frozen=True)
class StepSample:
    """One counted step, in seconds from the end of the previous step's hold (``holdUntil``)."""

    trial: int
    step: int
    status: float  # the plan's status showing the new step arrived (the operator decided and wrote it)
    first: float   # the first target showing the step's value arrived
    last: float    # the last one did: the step latency


@dataclass(frozen=True)
class Writes:
    """One ramp's writes to its targets (K targets, S steps)."""

    targets: int
    steps: int
    changes: int      # MODIFIED events of the target ConfigMaps: writes that changed something
    transitions: int  # of those, the ones that changed the key's value
    requests: int     # write requests on ConfigMaps the API server answered (apply, patch, update)
    reads: int        # GET requests on ConfigMaps the API server answered
    step_reads: int = 0  # of those, the ones from step 2 on (step 1 and before: pre-flight, first reads)

    @property
    def expected(self) -> int:
        return self.targets * self.steps

    @property
    def repeats(self) -> int:
        """Write requests beyond the value changes: writes that repeated a value already shown."""
        return max(0, self.requests - self.transitions)

    def __add__(self, other: Writes) -> Writes:
        return Writes(self.targets, self.steps + other.steps, self.changes + other.changes,
                      self.transitions + other.transitions, self.requests + other.requests,
                      self.reads + other.reads, self.step_reads + other.step_reads)


@dataclass(frozen=True)
class Trial:
    steps: list[StepSample]
    baseline: list[float]  # deadline -> the last target showing the value, per counted step
    writes: Writes
    baseline_writes: Writes
    tick: dict[str, list[float]]  # the operator's decision path, piece by piece (see tick_profile)


@dataclass
class TrafficResult:
    shape: Shape
    trials: list[Trial] = field(default_factory=list)
    collections: Counter[str] = field(default_factory=Counter)
    """The operator's garbage collections over the counted ramps (see ``OperatorProcess.collections``)."""

    def full_collections(self) -> str:
        """The full (generation 2) collections during the counted ramps, for a report."""
        return env.full_collections(self.collections)

    def series(self, name: str) -> list[float]:
        """An operator series (``status``, ``first``, ``last``) over every counted step of every trial."""
        return [getattr(s, name) for t in self.trials for s in t.steps]

    @property
    def baseline(self) -> list[float]:
        return [x for t in self.trials for x in t.baseline]

    def tick(self, part: str) -> list[float]:
        """Seconds of one piece of the operator's tick (:func:`tick_profile`), every repetition of every trial."""
        return [x for t in self.trials for x in t.tick[part]]

    def writes(self, baseline: bool = False) -> Writes:
        parts = [t.baseline_writes if baseline else t.writes for t in self.trials]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total


@dataclass
class Namespaces:
    """``op`` (the plans) and ``ctl`` (the baseline), with ConfigMap watches on both and a plan watch on ``op``."""

    op: str
    ctl: str
    config_maps: dict[str, Recorder]
    plans: Recorder

    @classmethod
    async def create(cls, client: AsyncClient) -> Namespaces:
        op, ctl = await create_namespace(client, "traffic-op"), await create_namespace(client, "traffic-ctl")
        config_maps = {ns: await Recorder(client, ConfigMapDict, ns, clock=time.time).start() for ns in (op, ctl)}
        plans = await Recorder(client, RecoveryPlanResource, op, clock=time.time).start()
        return cls(op, ctl, config_maps, plans)

    async def stop(self) -> None:
        for recorder in (*self.config_maps.values(), self.plans):
            await recorder.stop()


def config_map(name: str) -> dict[str, Any]:
    """A target ConfigMap at weight 0."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {KEY: "0"}}


def target(name: str) -> dict[str, Any]:
    """The plan's target for ConfigMap ``name``: the key from 0 to 100, so the value is the weight."""
    return {"configMapKey": {"name": name, "key": KEY, "from": 0, "to": 100}}


def plan(name: str, service: str, names: list[str], weights: list[int], hold_ms: int) -> dict[str, Any]:
    """A plan with one gated service that ramps the ConfigMaps through ``weights``."""
    manifest = workload.plan(name, [workload.plan_service(service)])
    manifest["spec"]["traffic"] = {"steps": [{"weight": w, "hold": f"{hold_ms}ms"} for w in weights],
                                   "targets": [target(n) for n in names]}
    return manifest


def shows(name: str, value: int) -> Predicate:
    """Predicate on ConfigMap events: ConfigMap ``name`` shows ``value``."""
    def matches(_: str, obj: Any) -> bool:
        return bool(obj["metadata"]["name"] == name and (obj.get("data") or {}).get(KEY) == str(value))

    return matches


def traffic_state(name: str, state: model.TrafficState) -> Predicate:
    """Predicate on plan events: plan ``name``'s ramp is in ``state``."""
    def matches(_: str, obj: Any) -> bool:
        traffic = (obj.get("status") or {}).get("traffic") or {}
        return bool(obj["metadata"]["name"] == name and traffic.get("state") == state.value)

    return matches


def step_samples(trial: int, plan_events: Events, config_map_events: Events, names: list[str],
                 weights: list[int]) -> list[StepSample]:
    """The counted steps of one ramp, from the journals of its plan and its target ConfigMaps."""
    hold_end: dict[int, float] = {}
    status_at: dict[int, float] = {}
    reasons: list[str] = []
    for now, _, obj in plan_events:
        traffic = (obj.get("status") or {}).get("traffic") or {}
        step = traffic.get("step")
        if not step:
            continue
        status_at.setdefault(step, now)
        if traffic.get("state") == model.TrafficState.HOLDING.value and traffic.get("holdUntil"):
            hold_end.setdefault(step, parse_time(traffic["holdUntil"]).timestamp())
        reasons = [h.get("reason", "") for h in traffic.get("history") or []]
    if any(not STEP_REASON.fullmatch(r) for r in reasons):
        raise AssertionError(f"trial {trial}: the ramp did not go straight up (history reasons {reasons})")
    shown: dict[tuple[str, str | None], float] = {}
    for now, _, obj in config_map_events:
        shown.setdefault((obj["metadata"]["name"], (obj.get("data") or {}).get(KEY)), now)
    samples = []
    for step in range(2, len(weights) + 1):
        value = str(weights[step - 1])
        missing = [n for n in names if (n, value) not in shown]
        if step - 1 not in hold_end or step not in status_at or missing:
            raise AssertionError(f"trial {trial} step {step}: not seen (hold end of step {step - 1}: "
                                 f"{step - 1 in hold_end}, status: {step in status_at}, targets missing: {missing})")
        end = hold_end[step - 1]
        arrivals = [shown[(n, value)] for n in names]
        samples.append(StepSample(trial, step, status_at[step] - end, min(arrivals) - end, max(arrivals) - end))
    return samples


def count_writes(config_map_events: Events, names: list[str], steps: int, requests: Counter[str],
                 from_step_2: Counter[str] | None = None) -> Writes:
    """The writes of one ramp: changes and value changes as the watch saw them, requests as the API
    server counted (``from_step_2``: those counted from the second step on)."""
    changes = transitions = 0
    value: dict[str, str | None] = {}
    for _, kind, obj in config_map_events:
        name, now_shows = obj["metadata"]["name"], (obj.get("data") or {}).get(KEY)
        if kind == "MODIFIED":
            changes += 1
            transitions += now_shows != value.get(name)
        value[name] = now_shows
    return Writes(len(names), steps, changes, transitions, sum(requests[v] for v in WRITE_VERBS), requests["GET"],
                  (from_step_2 or Counter())["GET"])


#: The pieces of :func:`tick_profile`, in the order the operator runs them.
TICK_PARTS = ("pods", "service", "targets", "observe", "decide")
TICK_REPETITIONS = 5


async def tick_profile(client: AsyncClient, body: dict[str, Any], repetitions: int = TICK_REPETITIONS
                       ) -> dict[str, list[float]]:
    """Time the operator's own decision path at a hold's end, in this process, against a real mid-ramp plan.

    ``body`` is the plan as the watch saw it while holding. Read-only: the operator's functions for
    the namespace's pods and the service's endpoints, read from a cache view (the operator's kopf
    indexes hold the same projections; here they are filled by one listing, outside the timing),
    reading the targets (concurrently), then ``controller.observe`` as a whole and the pure decision
    (parse, validate, evaluate as of the hold's end: it decides the next step). The status write and
    the target writes are not repeated here; the baseline times the latter.
    """
    kube, objects = Kube(client), Objects(client)
    raw, status = controller.parse(body)
    meta = raw["metadata"]
    ns, name = meta["namespace"], meta["name"]
    spec = model.RecoveryPlanSpec.model_validate(raw["spec"])
    assert status is not None and status.traffic is not None and status.traffic.holdUntil
    at = parse_time(status.traffic.holdUntil) + timedelta(milliseconds=1)
    times: dict[str, list[float]] = {part: [] for part in TICK_PARTS}

    async def timed(part: str, work: Any) -> Any:
        start = time.perf_counter()
        result = await work
        times[part].append(time.perf_counter() - start)
        return result

    view = await cache_view(client, ns)

    async def read(work: Any) -> Any:
        return work

    memory = controller.PlanMemory(key=(ns, f"profile-{name}"))
    for _ in range(repetitions):
        pods = await timed("pods", read(view.namespace_pods(ns)))
        await timed("service", read(view.observe_service(ns, spec.services[0], pods)))
        await timed("targets", asyncio.gather(*(targets.observe(objects, ns, t, status.traffic.weight)
                                                for t in spec.traffic.targets)))
        observed = await timed("observe", controller.observe(kube, objects, view, ns, name, meta.get("uid", ""),
                                                             spec, status, meta, memory))
        memory.probed.clear()  # every repetition probes as the first evaluation after a restart would
        start = time.perf_counter()
        _, parsed = controller.parse(body)
        decision = evaluate(model.RecoveryPlanSpec.model_validate(raw["spec"]), meta.get("generation"), parsed,
                            observed, at)
        times["decide"].append(time.perf_counter() - start)
        if not decision.weights:
            raise AssertionError(f"{name}: the profiled decision wrote no weight (it should start the next step)")
    objects.unfollow(memory.key)  # the targets' watches this process opened, as the operator's loop would
    return times


async def cache_view(client: AsyncClient, namespace: str) -> cache.View:
    """A cache view of one namespace, as the operator's indexes would hold it, from one listing each."""
    pods = [cache.pod_projection(p.to_dict()) async for p in client.list(Pod, namespace=namespace)]
    slices: dict[tuple[str, str], list[cache.CachedSlice]] = {}
    async for eps in client.list(EndpointSlice, namespace=namespace):
        found = cache.slice_projection(eps.to_dict())
        if found.service:
            slices.setdefault((namespace, found.service), []).append(found)
    services = {(namespace, s.metadata.name): [True] async for s in client.list(Service, namespace=namespace)
                if s.metadata and s.metadata.name}
    return cache.View({namespace: pods}, slices, services, {})


def holding_body(plan_events: Events, steps: int) -> dict[str, Any]:
    """The plan as seen while holding at a step before the last (what the operator decides on at the hold's end)."""
    for _, _, obj in plan_events:
        traffic = (obj.get("status") or {}).get("traffic") or {}
        if traffic.get("state") == model.TrafficState.HOLDING.value and 0 < traffic.get("step", 0) < steps:
            return dict(obj)
    raise AssertionError("no Holding status before the last step was seen")


async def _baseline(client: AsyncClient, spaces: Namespaces, names: list[str], weights: list[int]
                    ) -> tuple[list[float], Writes]:
    """The benchmark writes every step at a deadline with the operator's own ``targets.apply``."""
    objects, ns, recorder = Objects(client), spaces.ctl, spaces.config_maps[spaces.ctl]
    journal = Journal(names)
    recorder.add(journal)
    specs = [model.Target.model_validate(target(n)) for n in names]
    before = after_step_1 = await apiserver_requests(client, "configmaps")
    samples = []
    try:
        for step, weight in enumerate(weights, start=1):
            shown = [recorder.first(shows(n, weight)) for n in names]
            deadline = time.time() + BASELINE_LEAD
            await asyncio.sleep(deadline - time.time())
            await asyncio.gather(*(targets.apply(objects, ns, spec, weight) for spec in specs))
            arrivals = await asyncio.wait_for(asyncio.gather(*shown), STEP_TIMEOUT)
            if step > 1:
                samples.append(max(arrivals) - deadline)
            else:
                after_step_1 = await apiserver_requests(client, "configmaps")
        end = await apiserver_requests(client, "configmaps")
        requests, from_step_2 = end - before, end - after_step_1
    finally:
        recorder.remove(journal)
    return samples, count_writes(journal.events, names, len(weights), requests, from_step_2)


def traffic_step(name: str, step: int) -> Predicate:
    """Predicate on plan events: plan ``name``'s status shows step ``step`` (or a later one)."""
    def matches(_: str, obj: Any) -> bool:
        traffic = (obj.get("status") or {}).get("traffic") or {}
        return bool(obj["metadata"]["name"] == name and (traffic.get("step") or 0) >= step)

    return matches


async def _requests_once(client: AsyncClient, seen: asyncio.Future[float]) -> Counter[str]:
    await seen
    return await apiserver_requests(client, "configmaps")


async def _operator(client: AsyncClient, spaces: Namespaces, index: int, names: list[str], weights: list[int],
                    shape: Shape, operator: OperatorProcess, timeout: float
                    ) -> tuple[list[StepSample], Writes, dict[str, list[float]]]:
    """The operator ramps the plan's targets; the journals of both watches give the steps and the writes."""
    ns, name, recorder = spaces.op, f"plan-{index}", spaces.config_maps[spaces.op]
    plan_journal, cm_journal = Journal([name]), Journal(names)
    spaces.plans.add(plan_journal)
    recorder.add(cm_journal)
    done = spaces.plans.first(traffic_state(name, model.TrafficState.DONE))
    # The counts once the status shows step 2: from then on the targets are followed by watches.
    at_step_2 = asyncio.create_task(_requests_once(client, spaces.plans.first(traffic_step(name, 2))))
    try:
        before = await apiserver_requests(client, "configmaps")
        await create_all(client, ns, [plan(name, f"svc-{index}", names, weights, shape.hold_ms)])
        deadline = time.monotonic() + timeout
        while not done.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"trial {index}: the ramp of {name} did not finish within {timeout:.0f}s")
            operator.check_alive()
            await asyncio.wait({done}, timeout=1)
        done.result()
        end = await apiserver_requests(client, "configmaps")
        requests, from_step_2 = end - before, end - await at_step_2
    finally:
        at_step_2.cancel()
        spaces.plans.remove(plan_journal)
        recorder.remove(cm_journal)
    samples = step_samples(index, plan_journal.events, cm_journal.events, names, weights)
    # After the ramp, so the profile's reads do not count as the operator's and do not slow its steps.
    tick = await tick_profile(client, holding_body(plan_journal.events, len(weights)))
    return samples, count_writes(cm_journal.events, names, len(weights), requests, from_step_2), tick


async def _setup(client: AsyncClient, spaces: Namespaces, index: int, names: list[str]) -> None:
    service = f"svc-{index}"
    await create_all(client, spaces.op, [*(config_map(n) for n in names), workload.service(service),
                                         workload.pod(service)])
    await create_all(client, spaces.ctl, [config_map(n) for n in names])
    await workload.wait_running(client, spaces.op, 1, STEP_TIMEOUT, labels={"app": service}, every=0.05)


async def _cleanup(client: AsyncClient, spaces: Namespaces, index: int, names: list[str]) -> None:
    """Delete the plan and wait until it is gone (its daemon stops), then the trial's objects."""
    name = f"plan-{index}"
    await delete_quietly(client, RecoveryPlanResource, name, spaces.op)

    async def gone() -> bool:
        try:
            await client.get(RecoveryPlanResource, name, namespace=spaces.op)
        except ApiError as err:
            return err.status.code == 404
        return False

    await poll(f"plan {name} deleted", gone, STEP_TIMEOUT, every=0.1)
    service = f"svc-{index}"
    await delete_quietly(client, workload.PodDict, service, spaces.op)
    await delete_quietly(client, Service, service, spaces.op)
    for ns in (spaces.op, spaces.ctl):
        for n in names:
            await delete_quietly(client, ConfigMapDict, n, ns)


async def trial(client: AsyncClient, spaces: Namespaces, index: int, shape: Shape, operator: OperatorProcess,
                timeout: float) -> Trial:
    """One trial: set up, the baseline ramp, then the operator's ramp; clean up."""
    names = [f"t{index}-target-{k}" for k in range(shape.targets)]
    weights = shape.weights
    await _setup(client, spaces, index, names)
    baseline, baseline_writes = await _baseline(client, spaces, names, weights)
    steps, writes, tick = await _operator(client, spaces, index, names, weights, shape, operator, timeout)
    await _cleanup(client, spaces, index, names)
    return Trial(steps, baseline, writes, baseline_writes, tick)


def _ms(values: list[float], pick: Callable[[list[float]], float]) -> str:
    return f"{pick(values) * 1000:.0f} ms"


async def run(client: AsyncClient, operator: OperatorProcess, shape: Shape, trials: int,
              startup_timeout: float) -> TrafficResult:
    """One warm-up ramp of two steps (it also waits for the operator to come up), then ``trials`` counted ramps."""
    spaces = await Namespaces.create(client)
    result = TrafficResult(shape)
    ramp_timeout = shape.steps * (shape.hold_ms / 1000 + 10) + STEP_TIMEOUT
    try:
        warm = await trial(client, spaces, 0, Shape(shape.targets, 2, shape.hold_ms), operator,
                           max(startup_timeout, ramp_timeout))
        print(f"  warm-up: step latency {_ms([s.last for s in warm.steps], max)} (not counted)", flush=True)
        before = await asyncio.to_thread(operator.collections)
        for index in range(1, trials + 1):
            result.trials.append(await trial(client, spaces, index, shape, operator, ramp_timeout))
            last = result.trials[-1]
            latencies = [s.last for s in last.steps]
            print(f"  trial {index}: step latency median {_ms(latencies, _median)}, max {_ms(latencies, max)}; "
                  f"baseline median {_ms(last.baseline, _median)}; writes {last.writes.changes}/"
                  f"{last.writes.expected} (requests {last.writes.requests})", flush=True)
        result.collections = await asyncio.to_thread(operator.collections)
        result.collections.subtract(before)
        print(f"  the operator's full garbage collections during the ramps: {result.full_collections()}", flush=True)
    finally:
        await spaces.stop()
    return result


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
