"""The ``reentry`` command: run the operator, drive the sandbox, validate plans offline."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
import sys


def _run(args: argparse.Namespace) -> int:
    import kopf

    import reentry.controller
    import reentry.handlers  # (registers the handlers)
    from reentry import logs
    from reentry.engine import consent

    reentry.handlers.RESYNC_INTERVAL = args.resync
    reentry.handlers.QPS, reentry.handlers.BURST = args.qps, args.burst
    reentry.controller.CROSS_NAMESPACE = consent.Policy(args.cross_namespace_references)
    if args.leader_elect:
        reentry.handlers.LEADER_ELECTION = (args.leader_election_namespace or _pod_namespace(),
                                            args.leader_election_id, args.identity or _identity())

    kopf.configure(verbose=args.verbose, debug=args.debug)
    logs.use_format(args.log_format)
    if args.metrics_port:
        from reentry import metrics

        try:
            metrics.serve(args.metrics_port, args.metrics_address)
        except OSError as err:
            print(f"reentry run: cannot serve metrics on {args.metrics_address}:{args.metrics_port}: {err}",
                  file=sys.stderr)
            return 2
    clusterwide = args.all_namespaces or not args.namespace
    settings = kopf.OperatorSettings()
    # Exact namespace names need no scan of the cluster's namespaces and CRDs: a namespace-scoped
    # install (no cluster-wide list rights) then starts at once instead of after kopf's retries.
    settings.scanning.disabled = not clusterwide and not any(_is_pattern(ns) for ns in args.namespace)
    # The caches follow the same exact namespaces; for patterns they follow the whole cluster.
    reentry.handlers.WATCHED_NAMESPACES = tuple(args.namespace) if settings.scanning.disabled else None
    kopf.run(standalone=True, clusterwide=clusterwide, namespaces=[] if clusterwide else args.namespace,
             liveness_endpoint=args.liveness, settings=settings)
    return 0


def _is_pattern(namespace: str) -> bool:
    """kopf's namespace patterns (globs, negations, lists) need the namespace scan; plain names do not."""
    return any(c in namespace for c in "*?[!,")


def _sandbox(args: argparse.Namespace) -> int:
    from reentry.sandbox import binaries, cluster

    try:
        if args.action == "up":
            box = cluster.up()
            print(f"sandbox ready: {box.server} (kubeconfig {box.kubeconfig})", file=sys.stderr)
            print('use it with: eval "$(reentry sandbox env)"', file=sys.stderr)
        elif args.action == "down":
            stopped = cluster.down()
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"), file=sys.stderr)
        elif args.action == "env":
            print("\n".join(cluster.env_lines(cluster.Sandbox.load())))
        elif args.action == "status":
            print("\n".join(cluster.status_lines(cluster.Sandbox.load())))
        elif args.action == "build":
            for name, path in binaries.ensure().items():
                print(f"{name}: {path}")
        elif args.action == "gateway-api":
            from reentry.sandbox import gateway_api

            box = cluster.Sandbox.load()
            names = gateway_api.install(lambda *argv: cluster.kubectl(box, *argv))
            print(f"Gateway API {gateway_api.VERSION} ({gateway_api.CHANNEL}): {len(names)} CRDs Established",
                  file=sys.stderr)
    except (binaries.BinariesUnavailable, RuntimeError, TimeoutError) as err:
        print(f"reentry sandbox {args.action}: {err}", file=sys.stderr)
        return 1
    return 0


def _validate(args: argparse.Namespace) -> int:
    from reentry import validate

    report = validate.validate_bundle(args.files, strict=args.strict)
    if args.output == "json":
        print(report.as_json())
    else:
        for finding in report.findings:
            print(finding)
        print(f"{len(report.errors())} error(s), {len(report.warnings())} warning(s) in {report.plans} plan(s), "
              f"{len(report.files)} file(s)", file=sys.stderr)
    return 1 if report.errors() else 0


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reentry import simulate
    from reentry.engine import storm

    given = storm.Assumptions(demand=args.demand, capacity=args.capacity, backlog=args.backlog, drain=args.drain,
                              cold_factor=args.cold_factor, warmup=args.warmup, retry_factor=args.retry_factor)
    try:
        plan = simulate.load_plan(Path(args.file), args.plan)
        result = simulate.compare(plan, given)
    except simulate.SimulateError as err:
        print(f"reentry simulate: {err}", file=sys.stderr)
        return 1
    print(simulate.report(plan, result))
    if args.plot:
        Path(args.plot).write_text(simulate.svg(plan, result))
        print(f"chart written to {args.plot}", file=sys.stderr)
    return 0


def _seconds(text: str) -> float:
    """A command-line duration: seconds as a number, or a duration such as 90s or 2m."""
    from reentry.model import parse_duration

    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text).total_seconds()
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _demo(args: argparse.Namespace) -> int:
    from reentry import demo

    return demo.main()


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 (got {text})")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {text})")
    return value


#: Where the kubelet mounts the pod's namespace (in-cluster).
POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _pod_namespace() -> str:
    """The namespace of the pod this runs in (POD_NAMESPACE, else the mounted file), or ``default``."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        with open(POD_NAMESPACE_FILE) as file:
            return file.read().strip() or "default"
    except OSError:
        return "default"


def _identity() -> str:
    """POD_NAME (the chart sets it), else this host's name with a random suffix (two processes on one host differ)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{secrets.token_hex(3)}"


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    from reentry import throttle

    p = argparse.ArgumentParser(prog="reentry", description="Staged re-entry of a restored system.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator")
    run.add_argument("--namespace", "-n", action="append", default=[], help="watch this namespace (repeatable)")
    run.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (default)")
    run.add_argument("--resync", type=_positive, default=300.0, metavar="SECONDS",
                     help="evaluate each plan at least this often though nothing it watches changed (default 300)")
    run.add_argument("--qps", type=_positive, default=throttle.DEFAULT_QPS,
                     help="requests per second to the API server, on average (default %(default)s; watches aside)")
    run.add_argument("--burst", type=_positive_int, default=throttle.DEFAULT_BURST,
                     help="requests at once before --qps applies (default %(default)s)")
    run.add_argument("--cross-namespace-references", choices=("Granted", "Allowed"), default="Granted",
                     help="a plan naming an object in another namespace: Granted, only where that namespace "
                     "grants it (ConfigMap reentry-reference-grant, key from); Allowed, always (default Granted)")
    run.add_argument("--leader-elect", action="store_true",
                     help="run as one of several replicas: only the holder of a Lease acts, the others keep their "
                     "caches warm and take over within about 10 s (see docs/reliability.md)")
    run.add_argument("--leader-election-namespace", metavar="NAMESPACE",
                     help="where the Lease lives (default: the pod's namespace, else default)")
    run.add_argument("--leader-election-id", default="reentry", metavar="NAME",
                     help="the Lease's name (default reentry)")
    run.add_argument("--identity",
                     help="this replica's name in the Lease (default: the pod's name, else the host name and a "
                     "random suffix)")
    run.add_argument("--log-format", choices=("text", "json"), default="text",
                     help="text (kopf's) or json: one object per line with time, level, logger, message, and "
                     "namespace, plan and stage when the line is about a plan (default text)")
    run.add_argument("--verbose", action="store_true")
    run.add_argument("--debug", action="store_true")
    run.add_argument("--liveness", default=None, help="e.g. http://0.0.0.0:8080/healthz")
    # metrics.DEFAULT_PORT, written out so the command line starts without importing the metrics (a unit test
    # keeps the two equal).
    run.add_argument("--metrics-port", type=int, default=8383, help="serve Prometheus /metrics here (8383: not "
                     "Prometheus' own 9090); 0 disables it")
    run.add_argument("--metrics-address", default="0.0.0.0", help="the address /metrics listens on")
    run.set_defaults(func=_run)

    sandbox = sub.add_parser("sandbox", help="a real local control plane, no Docker needed")
    sandbox.add_argument("action", choices=["up", "down", "env", "status", "build", "gateway-api"])
    sandbox.set_defaults(func=_sandbox)

    validate = sub.add_parser("validate", help="check a bundle of manifests offline (for CI)")
    validate.add_argument("files", nargs="+", help="YAML files, directories (recursively), or - for stdin")
    validate.add_argument("--strict", action="store_true", help="a reference missing from the bundle is an error")
    validate.add_argument("--output", "-o", choices=["text", "json"], default="text")
    validate.set_defaults(func=_validate)

    simulate = sub.add_parser("simulate", help="the re-entry storm model: a plan's ramp vs a binary cutover",
                              description="Model the load the restored backend sees per traffic step against a "
                              "binary cutover (docs/simulate.md).")
    simulate.add_argument("file", help="a YAML file with a RecoveryPlan that has traffic steps or an adaptive ramp")
    simulate.add_argument("--plan", help="the plan's name, when the file holds several")
    simulate.add_argument("--demand", type=float, default=1000, help="steady demand, req/s (default 1000)")
    simulate.add_argument("--capacity", type=float, default=1500,
                          help="the restored backend's capacity with a warm cache, req/s (default 1500)")
    simulate.add_argument("--backlog", type=float, default=60000,
                          help="requests suppressed or queued during the outage (default 60000)")
    simulate.add_argument("--drain", type=_seconds, default=60.0,
                          help="how long a released share of the backlog takes to arrive (default 60s)")
    simulate.add_argument("--cold-factor", type=float, default=2.0,
                          help="cost of a request on a cold cache vs a warm one (default 2)")
    simulate.add_argument("--warmup", type=_seconds, default=120.0,
                          help="serving time until the cache is warm (default 2m)")
    simulate.add_argument("--retry-factor", type=float, default=0.5,
                          help="fraction of failed requests clients retry, below 1 (default 0.5)")
    simulate.add_argument("--plot", metavar="PATH", help="also write an SVG chart to PATH")
    simulate.set_defaults(func=_simulate)

    demo = sub.add_parser("demo", help="a failback drill on the sandbox")
    demo.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``reentry`` console script."""
    args = parser().parse_args(argv)
    if args.command != "run":  # kopf configures logging for the operator itself
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request drowns what matters; errors from the client still surface.
    for noisy in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
