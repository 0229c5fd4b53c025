"""Statistics and the markdown report."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.latency import LatencyResult
from bench.rest import RestSample
from bench.throughput import ThroughputResult
from bench.traffic import TrafficResult

REPRODUCE = "PYTHONPATH=.:operator python bench/run.py --pods {pods} --trials {trials} --out docs/benchmarks.md"
REPRODUCE_TRAFFIC = ("PYTHONPATH=.:operator python bench/run.py --only traffic --traffic-trials {trials} "
                     "--traffic-targets {targets} --traffic-steps {steps} --traffic-hold-ms {hold} "
                     "--out docs/benchmarks.md")
REPRODUCE_REST = ("PYTHONPATH=.:operator python bench/run.py --only {only} --rest-plans {plans} --rest-pods {pods} "
                  "--rest-window {window} --out docs/benchmarks.md")
#: Where the at-rest report goes, next to the main report.
REST_SUFFIX = "-rest"
#: The goal at rest: API requests per plan per minute beyond the watches.
REST_GOAL = 2.0
#: Where the traffic report goes, next to the main report (``docs/benchmarks.md`` -> ``docs/benchmarks-traffic.md``).
TRAFFIC_SUFFIX = "-traffic"
THROUGHPUT_GOAL = 0.95
LATENCY_GOAL = 1.0
STEP_LATENCY_GOAL = 0.2
#: Step latency p99 with many plans resting, as a multiple of the p99 with one plan.
LOADED_STEP_GOAL = 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated linearly between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Machine:
    """Where and when the numbers were measured."""

    date: str
    cpus: int
    load: str
    python: str
    system: str
    kubernetes: str

    @classmethod
    def here(cls, kubernetes: str) -> Machine:
        load = _load()
        return cls(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), cpus=os.cpu_count() or 0, load=load,
                   python=platform.python_version(), system=f"{platform.system()} {platform.machine()}",
                   kubernetes=kubernetes)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def machine_table(m: Machine, pods: int, trials: int) -> list[str]:
    return [*_machine_rows(m), f"| N (pods) | {pods} |", f"| trials | {trials} (after one warm-up trial) |"]


def _machine_rows(m: Machine) -> list[str]:
    return [
        "| | |", "|---|---|",
        f"| date | {m.date} |",
        f"| machine | {m.cpus} CPUs (nproc), {m.system}, load average at start {m.load} |",
        f"| Python | {m.python} |",
        f"| Kubernetes | {m.kubernetes} (the sandbox: kube-apiserver, etcd, kube-controller-manager, "
        "simulated kubelet) |",
        "| operator | `python -m reentry.cli run --all-namespaces` at its shipped defaults (resync 300 s; "
        "checks every 10 s) |",
    ]


def throughput_table(rounds: Sequence[ThroughputResult]) -> list[str]:
    """Each round's figures, then the median round's ratio against the goal."""
    r = rounds[0]
    ratios = sorted(x.ratio for x in rounds)
    median = percentile(ratios, 50)
    lines = [
        f"{len(rounds)} round(s), each in two fresh namespaces of {r.pods} gated pods (the earlier rounds' pods "
        f"stay, Running). Release concurrency {r.concurrency} in both runs of a round. Seconds, each run until "
        "the watch saw the last gate open; the baseline from its first patch (its last response in brackets), "
        "the operator from the plan's creation (its reaction: the first gate open).", "",
        "| round | setup (baseline, operator) | baseline | operator | operator reaction | ratio | "
        "without the reaction | full collections of the operator (baseline run, its own) |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for index, x in enumerate(rounds, 1):
        during = x.full_collections()
        lines.append(f"| {index} | {x.setup_seconds[0]:.1f}s, {x.setup_seconds[1]:.1f}s | {x.raw_observed_seconds:.2f} "
                     f"({x.raw_seconds:.2f}) | {x.operator_seconds:.2f} | {x.operator_reaction:.2f} | {x.ratio:.2f} | "
                     f"{x.release_phase_ratio:.2f} | {during[0]}; {during[1]} |")
    lines += [
        "",
        f"**Ratio operator / raw throughput, median of {len(rounds)} round(s): {median:.2f}** "
        f"(goal >= {THROUGHPUT_GOAL}: {_verdict(median >= THROUGHPUT_GOAL)}; lowest {ratios[0]:.2f}, highest "
        f"{ratios[-1]:.2f}): throughput until the watch saw the last gate open, the operator's reaction included. "
        "Full collections: `reentry_gc_pause_seconds`, generation 2, see `reentry.heap`.",
    ]
    return lines


def latency_table(r: LatencyResult) -> list[str]:
    rows = [("operator: `base` endpoint ready -> `dep` gate open", "reaction"),
            ("ideal watch-driven reaction (the benchmark patches on the event)", "ideal"),
            ("chain: gate patched -> endpoint ready (API server, kubelet, EndpointSlice controller)", "chain")]
    lines = ["| | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|"]
    for label, name in rows:
        values = r.series(name)
        cells = " | ".join(_ms(percentile(values, q)) for q in (50, 90, 99, 100))
        lines.append(f"| {label} | {cells} |")
    p99 = percentile(r.series("reaction"), 99)
    lines += ["", f"**Operator p99: {_ms(p99)}** (goal < {_ms(LATENCY_GOAL)}: {_verdict(p99 < LATENCY_GOAL)})."]
    return lines


def markdown(m: Machine, throughput: Sequence[ThroughputResult], latency: LatencyResult, trials: int) -> str:
    """The whole report, as written to ``--out``."""
    lines = [
        "# Benchmarks", "",
        "Generated by `bench/run.py` (see its docstring and `bench/__init__.py` for the method). Every number "
        "below was measured in one run against the same API server, so the ratios compare like with like; "
        "absolute numbers depend on the machine.", "",
        *machine_table(m, throughput[0].pods, trials), "",
        "## (a) Release throughput", "",
        *throughput_table(throughput), "",
        "## (b) Reaction latency", "",
        f"{len(latency.trials)} trials; a watch stamps each event on arrival. `base` is released by the operator "
        "and the simulated kubelet makes it ready within tens of milliseconds; the EndpointSlice change wakes "
        "the plan's loop.", "",
        *latency_table(latency), "",
        "## (c) Traffic steps", "",
        "Step latency (hold expiry to every target patched) and API writes per step are reported in "
        "[benchmarks-traffic.md](benchmarks-traffic.md): written by the same run, or refreshed alone with "
        "`--only traffic` (about 3 minutes) without touching this file.", "",
        "## (d) At rest", "",
        "API requests, CPU and memory with 10 and 200 plans resting (Armed, Paused, Validating, Observing, "
        "Restored; 25 gated pods each), and the traffic step latency with 200 plans resting, are reported in "
        "[benchmarks-rest.md](benchmarks-rest.md) (`--only traffic,rest`, about 25 minutes).", "",
        "## How to reproduce", "",
        f"`{REPRODUCE.format(pods=throughput[0].pods, trials=trials)}` from the repository root "
        "(starts and stops a private sandbox; about 6 minutes on 2 CPUs, plus about 3 for (c)).", "",
    ]
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _quantiles(values: Sequence[float]) -> str:
    return " | ".join(_ms(percentile(values, q)) for q in (50, 95, 99, 100))


def traffic_tables(r: TrafficResult) -> list[str]:
    """Step latency against its baseline, the split of the operator's step, and the writes per step."""
    latency, base = r.series("last"), r.baseline
    p99, base_p99 = percentile(latency, 99), percentile(base, 99)
    ops, ctl = r.writes(), r.writes(baseline=True)
    lines = [
        f"{len(latency)} counted steps (steps 2..{r.shape.steps} of {len(r.trials)} ramps) and as many baseline "
        "steps.", "",
        "| | samples | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|---:|",
        f"| operator: holdUntil -> the last target showing the next step (**step latency**) | {len(latency)} | "
        f"{_quantiles(latency)} |",
        f"| baseline: deadline -> the last target showing the value, written by `targets.apply` | {len(base)} | "
        f"{_quantiles(base)} |",
        "", "Where the operator's step latency goes (each from holdUntil, as the watches saw it):", "",
        "| | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|",
        f"| the plan's status showing the next step (woke, observed, decided, wrote status) | "
        f"{_quantiles(r.series('status'))} |",
        f"| the first target showing the next step | {_quantiles(r.series('first'))} |",
        f"| the last target showing it | {_quantiles(latency)} |",
        "",
        "The operator's work between waking and writing the status, timed piece by piece in the benchmark "
        "process with the operator's own functions against each ramp's plan as it was while holding "
        f"(read-only, after the ramp, {sum(len(t.tick['observe']) for t in r.trials)} repetitions). "
        "`controller.observe` reads the pods and the targets concurrently, then the service:", "",
        "| | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|",
        f"| the namespace's pods, from the cache (`View.namespace_pods`) | {_quantiles(r.tick('pods'))} |",
        f"| the service's pods and endpoints, from the cache | {_quantiles(r.tick('service'))} |",
        f"| read the {r.shape.targets} targets (concurrently) | {_quantiles(r.tick('targets'))} |",
        f"| `controller.observe` as a whole | {_quantiles(r.tick('observe'))} |",
        f"| decide: parse, validate, `evaluate` (CPU only) | {_quantiles(r.tick('decide'))} |",
        "",
        f"**Step latency p99: {_ms(p99)}** (goal < {_ms(STEP_LATENCY_GOAL)}: {_verdict(p99 < STEP_LATENCY_GOAL)}). "
        f"**Ratio operator / baseline: p50 {percentile(latency, 50) / percentile(base, 50):.1f}, "
        f"p99 {p99 / base_p99:.1f}.**",
        "", "Writes to the targets over whole ramps (all steps, step 1 included):", "",
        "| | expected (K x S) | changes seen by the watch | value changes | write requests (API server) | "
        "per target per step | repeats | target reads (GET) per ramp | of them per step from step 2 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    later_steps = len(r.trials) * (r.shape.steps - 1)
    for label, w in (("operator", ops), ("baseline", ctl)):
        lines.append(f"| {label} | {w.expected} | {w.changes} | {w.transitions} | {w.requests} | "
                     f"{w.requests / w.expected:.2f} | {w.repeats} | {w.reads / len(r.trials):.1f} | "
                     f"{w.step_reads / later_steps:.1f} |")
    exact = ops.requests == ops.expected == ops.changes and ops.repeats == 0
    lines += ["", f"**Operator writes per target per step: {ops.requests / ops.expected:.2f}, repeats {ops.repeats}** "
                  f"(goal exactly 1.00, none repeated: {_verdict(exact)}). **Target reads per step from step 2: "
                  f"{ops.step_reads / later_steps:.1f}** (goal 0, the targets read from their watches: "
                  f"{_verdict(ops.step_reads == 0)}). The operator's reads before that are its pre-flight (every "
                  "object the plan names, read once per evaluation until the plan starts) and each watch's "
                  "first read when the ramp begins; the baseline reads every target before each write."]
    return lines


def traffic_reading(m: Machine, r: TrafficResult) -> list[str]:
    """What the numbers say, in words, from the numbers of this run."""
    def p(values: Sequence[float], q: float = 50) -> float:
        return percentile(values, q)

    status, last, base = r.series("status"), r.series("last"), r.baseline
    lines = [
        f"Reading the medians: the plan's status shows the next step {_ms(p(status))} after the hold's end. "
        "In that time the operator wakes, runs `controller.observe` "
        f"({_ms(p(r.tick('observe')))} in the profile: the pods and the {r.shape.targets} targets concurrently, "
        f"then the service), decides ({_ms(p(r.tick('decide')))}) and writes the status. The target "
        "writes come only after the status write (by design: a crash between the two can delay a step, never "
        "skip one), a GET and a server-side apply per target, as in the baseline: "
        f"{_ms(p(last) - p(status))} more until the last target shows the value, against the baseline's "
        f"{_ms(p(base))} for the same writes.",
    ]
    if p(last, 99) >= STEP_LATENCY_GOAL:
        lines += ["", f"The goal is missed: the operator's p99 is {_ms(p(last, 99))}. The baseline alone, the same "
                      f"writes with nothing before them, has a p99 of {_ms(p(base, 99))} on this machine (load "
                      f"average {m.load} at the start, on {m.cpus} CPUs shared with other work), and the operator "
                      "puts its observation and its status write, each a few API round trips, in front of the "
                      "writes: a slow answer anywhere on that path lands in the tail."]
    return lines


def traffic_markdown(m: Machine, r: TrafficResult) -> str:
    """The traffic report, as written next to the main one."""
    s = r.shape
    lines = [
        "# Benchmarks: traffic steps", "",
        "Generated by `bench/run.py` (`--only traffic` runs this one alone; method: the docstring of "
        "`bench/traffic.py`). Operator and baseline were measured in one run against the same API server; "
        "absolute numbers depend on the machine. "
        "The other benchmarks are in [benchmarks.md](benchmarks.md).", "",
        *_machine_rows(m),
        f"| ramp | K = {s.targets} `configMapKey` targets (one ConfigMap each, 0 -> 100), S = {s.steps} steps "
        f"({', '.join(map(str, s.weights))}), each held {s.hold_ms} ms |",
        f"| trials | {len(r.trials)} ramps, one plan at a time (after one warm-up ramp of two steps) |",
        "",
        "The step latency runs from the end of step j-1's hold, `status.traffic.holdUntil` as the operator wrote "
        "it (its wall clock, milliseconds), to the arrival at the benchmark's watch (stamped with the same "
        "machine's wall clock) of the last target ConfigMap showing step j's value. The baseline is the "
        "benchmark itself writing the same K targets with the operator's own `reentry.targets.apply` "
        "(a GET and a server-side apply each, concurrently) at a wall-clock deadline it slept until.", "",
        *traffic_tables(r), "",
        *traffic_reading(m, r), "",
        "## How to reproduce", "",
        f"`{REPRODUCE_TRAFFIC.format(trials=len(r.trials), targets=s.targets, steps=s.steps, hold=s.hold_ms)}` "
        "from the repository root: `--out` names the main report, this one is written beside it as "
        "`benchmarks-traffic.md` and the main one is left alone (starts and stops a private sandbox; about 3 "
        f"minutes on 2 CPUs). Load average when this report was written: {_load()}.", "",
    ]
    return "\n".join(lines)


#: What the same measurement showed before the operator watched (issue 10, polling every 0.5 s).
_POLLING = {10: (58, 347, 0.09, 92), 40: (216, 324, 0.36, 117)}


def rest_table(samples: Sequence[RestSample]) -> list[str]:
    rows = ["| plans at rest | gated pods | requests/s from the operator | per plan per minute | goal (<= 2) "
            "| CPU (of a core) | RSS | by verb over the window | all resting after |",
            "|---:|---:|---:|---:|---|---:|---:|---|---:|"]
    for r in samples:
        verbs = ", ".join(f"{v} {n}" for v, n in r.by_verb().items()) or "none"
        rows.append(f"| {r.plans} | {r.plans * r.pods_per_plan} | {r.per_second:.2f} | {r.per_plan_per_minute:.2f} | "
                    f"{_verdict(r.per_plan_per_minute <= REST_GOAL)} | {r.cpu_share:.1%} | "
                    f"{r.rss_bytes / 2**20:.0f} MiB | {verbs} | {r.restored_after:.0f} s |")
    return rows


def loaded_table(alone: TrafficResult, loaded: TrafficResult, plans: int, pods: int) -> list[str]:
    """Step latency with ``plans`` plans (and ``pods`` gated pods) resting, against the traffic run's lone plan."""
    def row(label: str, r: TrafficResult) -> str:
        last = r.series("last")
        p50, p99, baseline = (percentile(last, 50) * 1000, percentile(last, 99) * 1000,
                              percentile(r.baseline, 99) * 1000)
        return f"| {label} | {len(last)} | {p50:.0f} ms | {p99:.0f} ms | {baseline:.0f} ms |"
    ratio = percentile(loaded.series("last"), 99) / percentile(alone.series("last"), 99)
    return ["| step latency (holdUntil -> last target) | steps | p50 | p99 | baseline p99 |",
            "|---|---:|---:|---:|---:|",
            row("one plan ramping, nothing else (the traffic benchmark)", alone),
            row(f"one plan ramping, {plans} plans resting over {pods} gated pods", loaded), "",
            f"**Step latency p99 with {plans} plans resting / with one plan: {ratio:.2f}** "
            f"(goal <= {LOADED_STEP_GOAL:.0f}: {_verdict(ratio <= LOADED_STEP_GOAL)}).", "",
            f"The operator's full garbage collections from the first counted ramp to the last "
            f"(`reentry_gc_pause_seconds`, generation 2; heap settles between the ramps "
            f"included, see `reentry.heap`): {alone.full_collections()} with one plan, "
            f"{loaded.full_collections()} with {plans} plans resting."]


def rest_markdown(m: Machine, samples: Sequence[RestSample], alone: TrafficResult | None = None,
                  loaded: TrafficResult | None = None) -> str:
    """The at-rest report, as written next to the main one."""
    window = samples[0].window if samples else 0
    quiet = samples[0].quiet_window or window if samples else 0
    pods = samples[0].pods_per_plan if samples else 2
    phases = samples[-1].phases if samples else {}
    before = [f"| {n} | {rps} | {ppm} | {cpu:.0%} | {rss} MB |" for n, (rps, ppm, cpu, rss) in _POLLING.items()]
    largest = samples[-1] if samples else None
    reproduce = REPRODUCE_REST.format(only="traffic,rest" if loaded else "rest", window=int(window), pods=pods,
                                      plans=",".join(str(r.plans) for r in samples))
    lines = [
        "# Benchmarks: the operator at rest", "",
        "Generated by `bench/run.py` (`--only rest` runs this one alone; method: the docstring of "
        "`bench/rest.py`). Each plan has one service of gated pods, in a namespace of its own, and rests in one "
        "of the five phases a plan can wait in (one in five each; at the largest N: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(phases.items())) or 'none'}). "
        "Requests are counted by the API server itself (`apiserver_request_total`, WATCH left out) over "
        f"{window:.0f} s with the operator running, minus the rate over {quiet:.0f} s with it stopped. "
        "The other benchmarks are in [benchmarks.md](benchmarks.md).", "",
        *_machine_rows(m), "",
        *rest_table(samples), "",
        "A negative count by verb means the stopped window's rate, scaled to the running window, was the higher: "
        "the other clients' noise (the controller manager, the simulated kubelet), not the operator's.", "",
        *([f"The window ({window:.0f} s) is shorter than the resync (300 s), so it may hold no resync: "
           "the figures leave out the safety net's reads (an Armed plan reads the objects its plan names, one GET "
           "each, at every resync).", ""] if window < 300 else
          [f"The window ({window:.0f} s) is longer than the resync (300 s): every plan's safety-net evaluation "
           "is inside it (an Armed plan's pre-flight reads the objects its plan names then, one GET each).", ""]),
        *(["## Step latency under load", "",
           "After the window at the largest N, with those plans still resting and the same operator serving them, "
           "the traffic benchmark's ramps run again (same shape and method as in "
           "[benchmarks-traffic.md](benchmarks-traffic.md)):", "",
           *loaded_table(alone, loaded, largest.plans, largest.plans * largest.pods_per_plan), ""]
          if alone is not None and loaded is not None and largest is not None else []),
        "Before the event-driven core, the same measurement (issue 10, Restored plans only; every plan listed its "
        "namespace's pods and EndpointSlices and read its Services twice a second) gave:", "",
        "| plans at rest | requests/s | per plan per minute | CPU | RSS |", "|---:|---:|---:|---:|---:|",
        *before, "",
        "## How to reproduce", "",
        f"`{reproduce}` "
        f"from the repository root. Load average when this report was written: {_load()}.", "",
    ]
    return "\n".join(lines)
