"""Run the benchmarks against a private sandbox and print (or write) the markdown reports.

    PYTHONPATH=.:operator python bench/run.py [--only throughput,latency,traffic] [--pods 500] [--trials 20]
        [--traffic-trials 7] [--out docs/benchmarks.md]

``--out FILE`` writes (a) and (b) to FILE and (c) to FILE's sibling ``<stem>-traffic.md``
(``docs/benchmarks-traffic.md``): (c) runs alone in about 3 minutes, so it can be refreshed
without re-running the others, and a run of only some benchmarks never drops the others' numbers.

See ``bench/__init__.py`` for what is measured and why it is measured that way.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable, so `bench` and `reentry` resolve.
    ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from bench import env, latency, report, rest, throughput, traffic
from reentry.kube import http_client, keep_alive
from reentry.sandbox.cluster import Sandbox

OPERATOR_STARTUP_TIMEOUT = 120.0
BENCHMARKS = ("throughput", "latency", "traffic", "rest")


def _selection(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [c for c in chosen if c not in BENCHMARKS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BENCHMARKS)} (got {text!r})")
    return chosen


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"plan counts are integers separated by commas (got {text!r})") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"plan counts must be at least 1 (got {text!r})")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description="reentry benchmarks against a private sandbox")
    p.add_argument("--pods", type=int, default=500, help="pods released in the throughput benchmark (500)")
    p.add_argument("--throughput-rounds", type=int, default=3,
                   help="rounds of the throughput benchmark, each baseline then operator; the median counts (3)")
    p.add_argument("--trials", type=int, default=20, help="counted trials of the latency benchmark (20)")
    p.add_argument("--only", type=_selection, default=BENCHMARKS, metavar="NAMES",
                   help=f"comma-separated benchmarks to run, of {', '.join(BENCHMARKS)} (default: all)")
    p.add_argument("--traffic-trials", type=int, default=7, help="counted ramps of the traffic benchmark (7)")
    p.add_argument("--traffic-targets", type=int, default=5, help="ConfigMap targets per ramp (5)")
    p.add_argument("--traffic-steps", type=int, default=10, help="steps per ramp, up to 100%% (10)")
    p.add_argument("--traffic-hold-ms", type=int, default=1000, help="hold of every step in milliseconds (1000)")
    p.add_argument("--rest-plans", type=_counts, default=[10, 200], metavar="N,N",
                   help="plans at rest, measured one after the other (10,200)")
    p.add_argument("--rest-pods", type=int, default=25, help="gated pods of each plan at rest (25)")
    p.add_argument("--rest-window", type=float, default=330.0,
                   help="seconds each at-rest window lasts, the operator running (330: past the 300 s resync)")
    p.add_argument("--rest-quiet-window", type=float, default=60.0,
                   help="seconds each at-rest window lasts with the operator stopped, for the rate of the others (60)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the (a)+(b) report here and (c) to <stem>-traffic.md beside it (default: print only)")
    p.add_argument("--timeout", type=float, default=900, help="overall deadline in seconds (900)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the sandbox and the operator log here instead of a temporary directory")
    args = p.parse_args(argv)
    if min(args.pods, args.throughput_rounds, args.trials, args.traffic_trials, args.traffic_targets,
           args.traffic_hold_ms) < 1:
        p.error("--pods, --throughput-rounds, --trials and the --traffic-* numbers must be at least 1")
    if not 2 <= args.traffic_steps <= 30:
        p.error("--traffic-steps must be 2..30 (step 1 is not counted; status keeps the last 30 weights)")
    if args.out is not None and ("throughput" in args.only) != ("latency" in args.only):
        p.error("--out rewrites the (a)+(b) report as a whole: run both throughput and latency, or neither")
    return args


@contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    """``keep`` (created, left in place) or a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    directory = Path(tempfile.mkdtemp(prefix="reentry-bench-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Results:
    throughput: list[throughput.ThroughputResult] | None = None
    latency: latency.LatencyResult | None = None
    traffic: traffic.TrafficResult | None = None
    rest: list[rest.RestSample] | None = None
    loaded_traffic: traffic.TrafficResult | None = None


async def measure(box: Sandbox, args: argparse.Namespace, directory: Path, deadline: float) -> Results:
    """The chosen benchmarks with one operator, started before the first and stopped after the last.

    Throughput runs last of those: its Restored plan stays, and its 500 pods would weigh on the others.
    The at-rest benchmark runs after them all, with operators of its own; when the traffic benchmark
    ran too, its ramps run again at the largest N, for the step latency under load.
    """
    client = AsyncClient(KubeConfig.from_file(box.kubeconfig), field_manager="reentry-bench")
    keep_alive(http_client(client)._transport)  # the baselines' connections, kept as the operator keeps its own
    log = directory / "operator.log"
    results = Results()
    startup = OPERATOR_STARTUP_TIMEOUT
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            if set(args.only) - {"rest"}:
                with env.operator_process(box, log) as operator:
                    try:
                        if "latency" in args.only:
                            print(f"(b) reaction latency, {args.trials} trials", flush=True)
                            results.latency = await latency.run(client, operator, args.trials, startup)
                        if "traffic" in args.only:
                            shape = traffic.Shape(args.traffic_targets, args.traffic_steps, args.traffic_hold_ms)
                            print(f"(c) traffic steps, {args.traffic_trials} ramps of {shape.steps} steps x "
                                  f"{shape.targets} targets", flush=True)
                            results.traffic = await traffic.run(client, operator, shape, args.traffic_trials, startup)
                        if "throughput" in args.only:
                            print(f"(a) release throughput, {args.pods} pods, {args.throughput_rounds} round(s)",
                                  flush=True)
                            results.throughput = await throughput.run(client, operator, args.pods,
                                                                      timeout=max(60.0, args.pods * 0.6),
                                                                      rounds=args.throughput_rounds)
                    except BaseException:
                        print(f"operator log ({log}), last lines:\n{operator.log_tail()}", file=sys.stderr)
                        raise
            if "rest" in args.only:
                # Last and with operators of its own: its plans stay, and each N needs a fresh process.
                print(f"(d) at rest, {', '.join(map(str, args.rest_plans))} plans", flush=True)
                loaded = None
                if "traffic" in args.only:  # the traffic ramps again, with the largest N resting
                    shape = traffic.Shape(args.traffic_targets, args.traffic_steps, args.traffic_hold_ms)

                    async def loaded(operator: env.OperatorProcess) -> traffic.TrafficResult:
                        return await traffic.run(client, operator, shape, args.traffic_trials, startup)

                results.rest, results.loaded_traffic = await rest.run(
                    client, box, directory, args.rest_plans, args.rest_window, startup, args.rest_pods,
                    args.rest_quiet_window, loaded)
    finally:
        await client.close()
    return results


def traffic_path(out: Path) -> Path:
    """``docs/benchmarks.md`` -> ``docs/benchmarks-traffic.md``."""
    return out.with_name(f"{out.stem}{report.TRAFFIC_SUFFIX}{out.suffix}")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"written to {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Start a sandbox, measure, stop everything, report."""
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with workdir(args.workdir) as directory, env.sandbox(directory / "sandbox") as box:
        print(f"sandbox up at {box.server}", flush=True)
        env.install_crd(box)
        machine = report.Machine.here(env.server_version(box))
        results = asyncio.run(measure(box, args, directory, deadline))
    if results.throughput is not None and results.latency is not None:
        text = report.markdown(machine, results.throughput, results.latency, args.trials)
        print(text)
        if args.out is not None:
            _write(args.out, text)
    elif results.throughput is not None:  # one of the two alone: its table, printed only (see parse_args)
        print("\n".join(report.throughput_table(results.throughput)))
    elif results.latency is not None:
        print("\n".join(report.latency_table(results.latency)))
    if results.traffic is not None:
        text = report.traffic_markdown(machine, results.traffic)
        print(text)
        if args.out is not None:
            _write(traffic_path(args.out), text)
    if results.rest is not None:
        text = report.rest_markdown(machine, results.rest, results.traffic, results.loaded_traffic)
        print(text)
        if args.out is not None:
            _write(args.out.with_name(f"{args.out.stem}{report.REST_SUFFIX}{args.out.suffix}"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
