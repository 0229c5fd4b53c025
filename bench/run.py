"""Run every benchmark against a private sandbox and print (or write) the markdown report.

    PYTHONPATH=.:operator python bench/run.py [--pods 500] [--trials 20] [--out docs/benchmarks.md]

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

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from bench import env, latency, report, throughput
from reentry.sandbox.cluster import Sandbox

RECONCILE_INTERVAL = 0.2
OPERATOR_STARTUP_TIMEOUT = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description="reentry benchmarks against a private sandbox")
    p.add_argument("--pods", type=int, default=500, help="pods released in the throughput benchmark (500)")
    p.add_argument("--trials", type=int, default=20, help="counted trials of the latency benchmark (20)")
    p.add_argument("--out", type=Path, default=None, help="write the markdown report here (default: print only)")
    p.add_argument("--timeout", type=float, default=900, help="overall deadline in seconds (900)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the sandbox and the operator log here instead of a temporary directory")
    args = p.parse_args(argv)
    if args.pods < 1 or args.trials < 1:
        p.error("--pods and --trials must be at least 1")
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


async def measure(box: Sandbox, args: argparse.Namespace, directory: Path, deadline: float
                  ) -> tuple[throughput.ThroughputResult, latency.LatencyResult]:
    """Both benchmarks with one operator, started before either and stopped after both."""
    client = AsyncClient(KubeConfig.from_file(box.kubeconfig), field_manager="reentry-bench")
    log = directory / "operator.log"
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            with env.operator_process(box, log, RECONCILE_INTERVAL) as operator:
                try:
                    print(f"(b) reaction latency, {args.trials} trials", flush=True)
                    lat = await latency.run(client, operator, args.trials, OPERATOR_STARTUP_TIMEOUT)
                    print(f"(a) release throughput, {args.pods} pods", flush=True)
                    tput = await throughput.run(client, operator, args.pods, timeout=max(60.0, args.pods * 0.6))
                except BaseException:
                    print(f"operator log ({log}), last lines:\n{operator.log_tail()}", file=sys.stderr)
                    raise
    finally:
        await client.close()
    return tput, lat


def main(argv: list[str] | None = None) -> int:
    """Start a sandbox, measure, stop everything, report."""
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with workdir(args.workdir) as directory, env.sandbox(directory / "sandbox") as box:
        print(f"sandbox up at {box.server}", flush=True)
        env.install_crd(box)
        machine = report.Machine.here(env.server_version(box), RECONCILE_INTERVAL)
        tput, lat = asyncio.run(measure(box, args, directory, deadline))
    text = report.markdown(machine, tput, lat, args.trials)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
