"""Evidence for the client library: lightkube's AsyncClient against the official ``kubernetes`` client and
``kubernetes_asyncio``, on import cost, memory and how each fits one asyncio event loop.

Every measurement runs in a fresh interpreter of its own, so one library's imports never warm another's:

* import: seconds to import the client package (median of ``--import-runs``), then resident memory (VmRSS)
  after importing it and building a client, against a bare interpreter;
* GETs: ``--gets`` GETs of one ConfigMap from one event loop, concurrently (``asyncio.gather``, for
  lightkube also with at most 20 in flight, httpx's keep-alive pool; the synchronous client through
  ``asyncio.to_thread``) and one after another (the synchronous client called straight from a coroutine,
  which is what it does without threads);
* watch: ``--watchers`` watches each replaying ``--events`` changes of one ConfigMap (lightkube's async
  iterator; ``kubernetes.watch.Watch().stream`` on a thread per watch; kubernetes_asyncio's async stream);
* open watches: one GET while ``--idle-watches`` watches are open, the synchronous client's watches held
  in the default executor as ``asyncio.to_thread`` holds them.

Each variant reports wall and process CPU time, new TLS connections, the peak thread count and the event
loop's longest stall, as medians over ``--rounds`` rounds that run the variants in a shuffled order (the
machine may be shared).

The kubernetes packages come from a scratch venv, never the project's; run from the repository root::

    .venv/bin/python -m venv /tmp/k8svenv && /tmp/k8svenv/bin/pip install kubernetes kubernetes_asyncio
    .venv/bin/reentry sandbox up && eval "$(.venv/bin/reentry sandbox env)"
    .venv/bin/python bench/clients.py --python-kubernetes /tmp/k8svenv/bin/python [--out clients.md]
    .venv/bin/reentry sandbox down

The script itself imports only the standard library: it is the driver and, with ``--worker``, each worker.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
NAMESPACE = "clients-bench"
TARGET = "target"  # the ConfigMap the GETs read
WATCHED = "watched"  # the ConfigMap whose changes the watches replay
# About 1.5 KiB of data: a small but not empty object, like the operator's ConfigMaps and Leases.
DATA = {f"key-{i:02}": "x" * 64 for i in range(16)}
LIBRARIES = ("lightkube", "kubernetes", "kubernetes_asyncio")
PACKAGES = {
    "lightkube": ["lightkube", "lightkube-models", "httpx2", "msgspec"],
    "kubernetes": ["kubernetes", "urllib3", "kubernetes_asyncio", "aiohttp"],
}
# httpx's default keep-alive pool (lightkube does not change it): connections beyond it close after use.
KEEPALIVE = 20
# What the default executor of asyncio.to_thread holds at most (ThreadPoolExecutor's own default).
DEFAULT_EXECUTOR_WORKERS = min(32, (os.cpu_count() or 1) + 4)

# ---- import cost: a bare ``python -I -c`` program per run, so nothing but the library is imported ----

# What an operator imports to make a request, and how it builds a client; the async ones inside a loop.
IMPORTS = {
    "bare interpreter": ("pass", "status = _status()"),
    "lightkube": (
        "from lightkube import AsyncClient\nfrom lightkube.resources.core_v1 import ConfigMap",
        "import asyncio\n"
        "async def _build():\n"
        "    client = AsyncClient()\n"
        "    status = _status()\n"
        "    await client.close()\n"
        "    return status\n"
        "status = asyncio.run(_build())",
    ),
    "kubernetes": (
        "from kubernetes import client, config",
        "config.load_kube_config()\napi = client.CoreV1Api()\nstatus = _status()",
    ),
    "kubernetes_asyncio": (
        "from kubernetes_asyncio import client, config",
        "import asyncio\n"
        "async def _build():\n"
        "    await config.load_kube_config()\n"
        "    api = client.CoreV1Api(client.ApiClient())\n"
        "    status = _status()\n"
        "    await api.api_client.close()\n"
        "    return status\n"
        "status = asyncio.run(_build())",
    ),
}
IMPORT_PROBE = """\
import sys, time
def _status():
    with open("/proc/self/status") as f:
        return f.read()
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{build}
t2 = time.perf_counter()
rss = next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
print(t1 - t0, t2 - t1, rss, len(sys.modules))
"""


def import_probe(python: str, library: str) -> dict[str, float]:
    """One fresh interpreter: import seconds, build seconds, VmRSS (KiB) after both, modules loaded."""
    imports, build = IMPORTS[library]
    code = IMPORT_PROBE.format(imports=imports, build=build)
    # -I: no user site or PYTHON* variables, so both interpreters start from the same clean state.
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    seconds, build_seconds, rss, modules = out.stdout.split()
    return {"import": float(seconds), "build": float(build_seconds), "rss": int(rss), "modules": int(modules)}


def import_costs(pythons: dict[str, str], runs: int) -> dict[str, list[dict[str, float]]]:
    """``runs`` probes per library, interleaved so that a burst of load from elsewhere hits all alike."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in pythons}
    for name, python in pythons.items():
        import_probe(python, name)  # discarded: brings the files into the page cache
    for _ in range(runs):
        for name in random.sample(list(pythons), len(pythons)):
            samples[name].append(import_probe(pythons[name], name))
    return samples


# ---- the workers' measuring harness ----

# TLS handshakes so far in this worker: a new connection costs far more CPU than a request on an open one.
HANDSHAKES = itertools.count()


def count_handshakes() -> None:
    """Count every TLS handshake, by the socket kind urllib3 uses and the in-memory kind asyncio uses."""
    import ssl

    for cls in (ssl.SSLSocket, ssl.SSLObject):
        cls.do_handshake = counted(cls.do_handshake)  # type: ignore[method-assign]


def counted(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, counting in :data:`HANDSHAKES` the calls that complete a handshake (asyncio calls it
    again and again until the peer has answered, each unfinished call raising SSLWantReadError)."""

    @functools.wraps(original)
    def handshake(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        next(HANDSHAKES)  # atomic in CPython: the synchronous client's threads count here too
        return result

    return handshake


def handshakes() -> int:
    """How many handshakes :data:`HANDSHAKES` has counted (reading it counts one more, hence the minus one)."""
    return next(HANDSHAKES)


def proc_status(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1])


class Probe:
    """Ticks on the event loop while a variant runs: the longest stall, and the peak thread counts."""

    PERIOD = 0.005

    def __init__(self) -> None:
        self.done = False
        self.stall = 0.0
        self.threads = 0
        self.os_threads = 0

    def sample(self) -> None:
        self.threads = max(self.threads, threading.active_count())
        # The kernel's count also sees threads that Python does not know of (none expected, but checked).
        self.os_threads = max(self.os_threads, len(os.listdir("/proc/self/task")))

    async def run(self) -> None:
        while not self.done:
            before = time.perf_counter()
            await asyncio.sleep(self.PERIOD)
            self.stall = max(self.stall, time.perf_counter() - before - self.PERIOD)
            self.sample()


async def measure(burst: Callable[[], Awaitable[dict[str, Any] | None]]) -> dict[str, Any]:
    """Run ``burst`` twice, the first time unmeasured (connections, executor threads, caches: the steady
    state an operator runs in), the second under the clock and the :class:`Probe`."""
    await burst()
    probe = Probe()
    ticker = asyncio.create_task(probe.run())
    await asyncio.sleep(0)  # arm the first tick, so a burst that blocks the loop shows as one long stall
    shaken = handshakes()
    wall, cpu = time.perf_counter(), time.process_time()
    extra = await burst()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    shaken = handshakes() - shaken - 1
    probe.done = True
    await ticker  # its last tick records a stall that lasted until the burst returned
    return {"wall": wall, "cpu": cpu, "threads": probe.threads, "os_threads": probe.os_threads,
            "stall": probe.stall, "handshakes": shaken, "rss_peak": proc_status("VmHWM"), **(extra or {})}


# ---- GETs ----


async def lightkube_gets(spec: dict[str, Any], concurrent: bool, limit: int | None = None) -> dict[str, Any]:
    """``spec["gets"]`` GETs through one AsyncClient: all at once (at most ``limit`` in flight), or awaited
    one by one."""
    from lightkube import AsyncClient
    from lightkube.resources.core_v1 import ConfigMap

    client = AsyncClient()
    in_flight = asyncio.Semaphore(limit or spec["gets"])

    async def get() -> None:
        async with in_flight:
            await client.get(ConfigMap, TARGET, namespace=spec["namespace"])

    try:
        return await measure(functools.partial(burst, get, spec["gets"], concurrent))
    finally:
        await client.close()


async def burst(get: Callable[[], Awaitable[None]], n: int, concurrent: bool) -> None:
    """``n`` calls of ``get``: gathered, or one after another."""
    if concurrent:
        await asyncio.gather(*(get() for _ in range(n)))
    else:
        for _ in range(n):
            await get()


async def kubernetes_gets(spec: dict[str, Any], threaded: bool) -> dict[str, Any]:
    """``spec["gets"]`` GETs through the synchronous client: gathered ``asyncio.to_thread`` calls (the
    default executor), or plain calls from a coroutine, which block the loop for every request."""
    from kubernetes import client, config

    config.load_kube_config()
    api = client.CoreV1Api()

    def get() -> None:
        api.read_namespaced_config_map(TARGET, spec["namespace"])

    async def threaded_get() -> None:
        await asyncio.to_thread(get)

    async def blocking_get() -> None:
        get()

    try:
        return await measure(functools.partial(burst, threaded_get if threaded else blocking_get, spec["gets"],
                                               threaded))
    finally:
        api.api_client.close()


async def kubernetes_asyncio_gets(spec: dict[str, Any], concurrent: bool) -> dict[str, Any]:
    """``spec["gets"]`` GETs through kubernetes_asyncio: all at once, or awaited one by one."""
    from kubernetes_asyncio import client, config

    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        api = client.CoreV1Api(api_client)

        async def get() -> None:
            await api.read_namespaced_config_map(TARGET, spec["namespace"])

        return await measure(functools.partial(burst, get, spec["gets"], concurrent))


# ---- watches that replay the changes made since spec["rv"] ----


async def lightkube_watch(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec["watchers"]`` async iterators, each until it has seen ``spec["events"]`` events."""
    from lightkube import AsyncClient
    from lightkube.resources.core_v1 import ConfigMap

    client = AsyncClient()

    async def follow() -> None:
        stream = client.watch(ConfigMap, namespace=spec["namespace"], fields={"metadata.name": WATCHED},
                              resource_version=spec["rv"])
        seen = 0
        async with aclosing(stream):
            async for _event in stream:
                seen += 1
                if seen >= spec["events"]:
                    return

    async def watches() -> None:
        await asyncio.gather(*(follow() for _ in range(spec["watchers"])))

    try:
        return await measure(watches)
    finally:
        await client.close()


async def kubernetes_watch(spec: dict[str, Any]) -> dict[str, Any]:
    """``Watch().stream`` blocks its thread for the watch's whole life, so each watch gets a thread of
    its own (in the default executor a few long watches would starve every other ``to_thread`` call:
    see :func:`kubernetes_open_watches`); the thread hands each event to the loop, where an operator's
    logic runs."""
    from kubernetes import client, config, watch

    config.load_kube_config()
    api = client.CoreV1Api()
    loop = asyncio.get_running_loop()

    def pump(events: asyncio.Queue[Any]) -> None:
        stream = watch.Watch().stream(api.list_namespaced_config_map, spec["namespace"], timeout_seconds=60,
                                      field_selector=f"metadata.name={WATCHED}", resource_version=spec["rv"])
        for seen, event in enumerate(stream, 1):
            loop.call_soon_threadsafe(events.put_nowait, event)
            if seen >= spec["events"]:
                break  # closes the generator, which closes the response

    async def follow() -> None:
        events: asyncio.Queue[Any] = asyncio.Queue()
        thread = threading.Thread(target=pump, args=(events,), daemon=True)
        thread.start()
        for _ in range(spec["events"]):
            await events.get()

    async def watches() -> None:
        await asyncio.gather(*(follow() for _ in range(spec["watchers"])))

    try:
        return await measure(watches)
    finally:
        api.api_client.close()


async def kubernetes_asyncio_watch(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec["watchers"]`` kubernetes_asyncio streams, each until it has seen ``spec["events"]`` events."""
    from kubernetes_asyncio import client, config, watch

    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        api = client.CoreV1Api(api_client)

        async def follow() -> None:
            seen = 0
            async with watch.Watch() as w:
                async for _event in w.stream(api.list_namespaced_config_map, spec["namespace"], timeout_seconds=60,
                                             field_selector=f"metadata.name={WATCHED}",
                                             resource_version=spec["rv"]):
                    seen += 1
                    if seen >= spec["events"]:
                        return

        async def watches() -> None:
            await asyncio.gather(*(follow() for _ in range(spec["watchers"])))

        return await measure(watches)


# ---- one GET while spec["idle_watches"] watches (of an object nobody changes) are open ----


async def timed(get: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """The seconds one ``get`` takes."""
    start = time.perf_counter()
    await get()
    return {"latency": time.perf_counter() - start}


async def with_open_watches(watches: list[asyncio.Future[Any]], get: Callable[[], Awaitable[None]],
                            cancel: bool) -> dict[str, Any]:
    """Time one ``get`` while ``watches`` are open, then cancel them (async ones) or let them time out."""
    await asyncio.sleep(0.5)  # let the watches reach the server first
    probe = Probe()
    ticker = asyncio.create_task(probe.run())
    result = await timed(get)
    probe.done = True
    await ticker
    for task in watches if cancel else []:
        task.cancel()
    await asyncio.gather(*watches, return_exceptions=True)
    return {**result, "threads": probe.threads, "os_threads": probe.os_threads}


async def lightkube_open_watches(spec: dict[str, Any]) -> dict[str, Any]:
    from lightkube import AsyncClient
    from lightkube.resources.core_v1 import ConfigMap

    client = AsyncClient()

    async def get() -> None:
        await client.get(ConfigMap, TARGET, namespace=spec["namespace"])

    async def idle() -> None:
        async for _event in client.watch(ConfigMap, namespace=spec["namespace"], fields={"metadata.name": TARGET},
                                         server_timeout=spec["idle_timeout"]):
            pass

    await get()  # the connection pool is warm, as in a running operator
    try:
        return await with_open_watches([asyncio.ensure_future(idle()) for _ in range(spec["idle_watches"])], get,
                                       cancel=True)
    finally:
        await client.close()


async def kubernetes_open_watches(spec: dict[str, Any]) -> dict[str, Any]:
    """The synchronous client's watches in ``asyncio.to_thread``: the default executor has
    ``DEFAULT_EXECUTOR_WORKERS`` threads, each held by a watch until the server ends it."""
    from kubernetes import client, config, watch

    config.load_kube_config()
    api = client.CoreV1Api()

    def idle() -> None:
        for _event in watch.Watch().stream(api.list_namespaced_config_map, spec["namespace"],
                                           field_selector=f"metadata.name={TARGET}",
                                           timeout_seconds=spec["idle_timeout"]):
            pass

    async def get() -> None:
        await asyncio.to_thread(api.read_namespaced_config_map, TARGET, spec["namespace"])

    await get()
    try:
        # Not cancellable: a to_thread call runs to its end, so these wait for the server's timeout.
        return await with_open_watches([asyncio.ensure_future(asyncio.to_thread(idle))
                                        for _ in range(spec["idle_watches"])], get, cancel=False)
    finally:
        api.api_client.close()


async def kubernetes_asyncio_open_watches(spec: dict[str, Any]) -> dict[str, Any]:
    from kubernetes_asyncio import client, config, watch

    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        api = client.CoreV1Api(api_client)

        async def get() -> None:
            await api.read_namespaced_config_map(TARGET, spec["namespace"])

        async def idle() -> None:
            async with watch.Watch() as w:
                async for _event in w.stream(api.list_namespaced_config_map, spec["namespace"],
                                             field_selector=f"metadata.name={TARGET}",
                                             timeout_seconds=spec["idle_timeout"]):
                    pass

        await get()
        return await with_open_watches([asyncio.ensure_future(idle()) for _ in range(spec["idle_watches"])], get,
                                       cancel=True)


# ---- housekeeping workers (lightkube's interpreter, except where a package is asked for) ----


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    """The namespace and the two ConfigMaps, created or reset."""
    from lightkube import ApiError, Client
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap, Namespace

    client = Client()
    try:
        client.create(Namespace(metadata=ObjectMeta(name=spec["namespace"])))
    except ApiError as err:
        if err.status.code != 409:
            raise
    for name in (TARGET, WATCHED):
        client.apply(ConfigMap(metadata=ObjectMeta(name=name, namespace=spec["namespace"]), data=DATA),
                     field_manager="bench-clients", force=True)
    return {}


def churn(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec["events"]`` changes of the watched ConfigMap; the resourceVersion to replay them from."""
    from lightkube import Client
    from lightkube.resources.core_v1 import ConfigMap

    client = Client()
    rv = client.get(ConfigMap, WATCHED, namespace=spec["namespace"]).metadata.resourceVersion
    for i in range(spec["events"]):
        client.patch(ConfigMap, WATCHED, {"data": {"seq": f"{spec['round']}-{i}"}}, namespace=spec["namespace"])
    return {"rv": rv}


def teardown(spec: dict[str, Any]) -> dict[str, Any]:
    from lightkube import Client
    from lightkube.resources.core_v1 import Namespace

    Client().delete(Namespace, spec["namespace"])
    return {}


def versions(spec: dict[str, Any]) -> dict[str, Any]:
    """This interpreter's Python and package versions (None for a package that is not installed), and the
    API server's version when ``kubernetes`` is here to ask it."""
    from importlib import metadata

    found: dict[str, Any] = {"python": sys.version.split()[0]}
    for package in spec["packages"]:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    if found.get("kubernetes"):
        from kubernetes import client, config

        config.load_kube_config()
        found["server"] = client.VersionApi().get_code().git_version
    return found


WORKERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "setup": setup,
    "churn": churn,
    "teardown": teardown,
    "versions": versions,
    "get/lightkube/gather": functools.partial(lightkube_gets, concurrent=True),
    "get/lightkube/bounded": functools.partial(lightkube_gets, concurrent=True, limit=KEEPALIVE),
    "get/lightkube/sequential": functools.partial(lightkube_gets, concurrent=False),
    "get/kubernetes/to_thread": functools.partial(kubernetes_gets, threaded=True),
    "get/kubernetes/sequential": functools.partial(kubernetes_gets, threaded=False),
    "get/kubernetes_asyncio/gather": functools.partial(kubernetes_asyncio_gets, concurrent=True),
    "get/kubernetes_asyncio/sequential": functools.partial(kubernetes_asyncio_gets, concurrent=False),
    "watch/lightkube": lightkube_watch,
    "watch/kubernetes": kubernetes_watch,
    "watch/kubernetes_asyncio": kubernetes_asyncio_watch,
    "open/lightkube": lightkube_open_watches,
    "open/kubernetes": kubernetes_open_watches,
    "open/kubernetes_asyncio": kubernetes_asyncio_open_watches,
}

# How each measured worker is described in the tables.
LABELS = {
    "get/lightkube/gather": "lightkube AsyncClient, `gather`",
    "get/lightkube/bounded": "lightkube AsyncClient, `gather`, at most 20 in flight",
    "get/lightkube/sequential": "lightkube AsyncClient, awaited one by one",
    "get/kubernetes/to_thread": "kubernetes, `to_thread` (default executor) + `gather`",
    "get/kubernetes/sequential": "kubernetes, plain calls in a coroutine (sequential)",
    "get/kubernetes_asyncio/gather": "kubernetes_asyncio, `gather`",
    "get/kubernetes_asyncio/sequential": "kubernetes_asyncio, awaited one by one",
    "watch/lightkube": "lightkube, `async for` over `watch()`",
    "watch/kubernetes": "kubernetes, `Watch().stream` on a thread per watch",
    "watch/kubernetes_asyncio": "kubernetes_asyncio, `async for` over `Watch().stream`",
    "open/lightkube": "lightkube, watches as tasks",
    "open/kubernetes": "kubernetes, watches and GET in `to_thread` (default executor)",
    "open/kubernetes_asyncio": "kubernetes_asyncio, watches as tasks",
}


def run_worker(name: str, spec: dict[str, Any]) -> int:
    """The ``--worker`` side: run one worker, print its result as one JSON line."""
    count_handshakes()
    result = WORKERS[name](spec)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    print(json.dumps(result))
    return 0


# ---- the driver ----


def call(python: str, name: str, spec: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run worker ``name`` in a fresh ``python``; its result, or ``{"error": ...}``."""
    command = [python, "-I", str(SCRIPT), "--worker", name, "--spec", json.dumps(spec)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def must(python: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """:func:`call` for the housekeeping workers, whose failure ends the run."""
    result = call(python, name, spec)
    if "error" in result:
        raise SystemExit(f"bench/clients.py: worker {name} failed: {result['error']}")
    return result


def interpreter(name: str, args: argparse.Namespace) -> str:
    """Which interpreter runs worker ``name``: lightkube's, or the scratch venv with the kubernetes packages."""
    return args.python_lightkube if "lightkube" in name or "/" not in name else args.python_kubernetes


def rounds(args: argparse.Namespace, variants: list[str], watchers: list[int]) -> dict[str, list[dict[str, Any]]]:
    """``args.rounds`` rounds, each: fresh changes to replay, then every variant once in a shuffled order."""
    samples: dict[str, list[dict[str, Any]]] = {}
    base = {"namespace": args.namespace, "gets": args.gets, "events": args.events,
            "idle_watches": args.idle_watches, "idle_timeout": args.idle_timeout}
    for number in range(args.rounds):
        # Replayed from the API server's watch cache, which keeps recent history (75 s and more): one
        # round is well inside that.
        rv = must(args.python_lightkube, "churn", {**base, "round": number})["rv"]
        jobs = [(v, w) for v in variants if v.startswith("watch/") for w in watchers]
        jobs += [(v, 0) for v in variants if not v.startswith("watch/")]
        for variant, count in random.sample(jobs, len(jobs)):
            key = f"{variant}#{count}" if count else variant
            result = call(interpreter(variant, args), variant, {**base, "rv": rv, "watchers": count})
            samples.setdefault(key, []).append(result)
            print(f"round {number + 1}/{args.rounds} {key}: {result}", file=sys.stderr)
    return samples


def med(samples: list[dict[str, Any]], field: str, scale: float = 1.0) -> float:
    return statistics.median(s[field] for s in samples) * scale


def spread(samples: list[dict[str, Any]], field: str, scale: float = 1.0) -> str:
    """``median (min-max)`` of one field."""
    values = [s[field] * scale for s in samples]
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def import_table(samples: dict[str, list[dict[str, float]]]) -> list[str]:
    base = statistics.median(s["rss"] for s in samples["bare interpreter"]) / 1024
    lines = ["| package | import, ms (min-max) | build client, ms | import + build, ms | modules loaded "
             "| VmRSS after, MiB | over bare, MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, runs in samples.items():
        rss = med(runs, "rss") / 1024
        # The sum per run, not the sum of medians: kubernetes defers most of its imports to the first client.
        total = statistics.median(r["import"] + r["build"] for r in runs) * 1000
        lines.append(f"| {name} | {spread(runs, 'import', 1000)} | {med(runs, 'build', 1000):.0f} | {total:.0f} "
                     f"| {med(runs, 'modules'):.0f} | {rss:.1f} | {rss - base:+.1f} |")
    return lines


def ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if "error" not in r]


def failed_row(label: str, runs: list[dict[str, Any]], columns: int) -> str:
    return f"| {label} | failed: {runs[0]['error'] if runs else 'not run'} |" + " |" * (columns - 2)


def get_table(samples: dict[str, list[dict[str, Any]]], gets: int) -> list[str]:
    lines = ["| variant | wall, ms (min-max) | CPU, ms | CPU per GET, us | new TLS connections | peak threads "
             "(Python/OS) | longest loop stall, ms | peak RSS, MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in (k for k in LABELS if k.startswith("get/")):
        runs = ok(samples.get(key, []))
        if not runs:
            lines.append(failed_row(LABELS[key], samples.get(key, []), 8))
            continue
        lines.append(f"| {LABELS[key]} | {spread(runs, 'wall', 1000)} | {med(runs, 'cpu', 1000):.0f} "
                     f"| {med(runs, 'cpu', 1e6 / gets):.0f} | {med(runs, 'handshakes'):.0f} "
                     f"| {max(r['threads'] for r in runs)}"
                     f"/{max(r['os_threads'] for r in runs)} | {med(runs, 'stall', 1000):.1f} "
                     f"| {med(runs, 'rss_peak', 1 / 1024):.1f} |")
    return lines


def watch_table(samples: dict[str, list[dict[str, Any]]], events: int, watchers: list[int]) -> list[str]:
    lines = ["| variant | watches | wall, ms (min-max) | CPU, ms | CPU per event, us | new TLS connections "
             "| peak threads (Python/OS) | longest loop stall, ms |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for count in watchers:
        for key in (k for k in LABELS if k.startswith("watch/")):
            runs = ok(samples.get(f"{key}#{count}", []))
            if not runs:
                lines.append(failed_row(LABELS[key], samples.get(f"{key}#{count}", []), 8))
                continue
            lines.append(f"| {LABELS[key]} | {count} | {spread(runs, 'wall', 1000)} | {med(runs, 'cpu', 1000):.0f} "
                         f"| {med(runs, 'cpu', 1e6 / (events * count)):.0f} | {med(runs, 'handshakes'):.0f} "
                         f"| {max(r['threads'] for r in runs)}"
                         f"/{max(r['os_threads'] for r in runs)} | {med(runs, 'stall', 1000):.1f} |")
    return lines


def open_table(samples: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = ["| variant | GET latency, ms (min-max) | peak threads (Python/OS) |", "|---|---:|---:|"]
    for key in (k for k in LABELS if k.startswith("open/")):
        runs = ok(samples.get(key, []))
        if not runs:
            lines.append(failed_row(LABELS[key], samples.get(key, []), 3))
            continue
        lines.append(f"| {LABELS[key]} | {spread(runs, 'latency', 1000)} | {max(r['threads'] for r in runs)}"
                     f"/{max(r['os_threads'] for r in runs)} |")
    return lines


def report(args: argparse.Namespace, found: dict[str, dict[str, Any]], imports: dict[str, Any],
           samples: dict[str, list[dict[str, Any]]], watchers: list[int], load: list[tuple[float, ...]]) -> str:
    """The Markdown report."""
    pkgs = ", ".join(f"{p} {v}" for side in found.values() for p, v in side.items()
                     if p not in ("python", "server") and v)
    head = [
        "# Kubernetes clients: lightkube vs kubernetes vs kubernetes_asyncio",
        "",
        f"Python {found['lightkube']['python']}; {pkgs}; API server {found['kubernetes'].get('server')} "
        f"(the project's sandbox, loopback, TLS with a client certificate).",
        f"Machine: {os.cpu_count()} CPUs, load average {load[0][0]:.2f} at the start and {load[1][0]:.2f} at the end "
        "(1 min; other work was running). Medians of "
        f"{args.import_runs} fresh interpreters for imports and of {args.rounds} rounds (variants in shuffled "
        "order, each a fresh interpreter, measuring its second burst) for the rest. `to_thread`'s default "
        f"executor has {DEFAULT_EXECUTOR_WORKERS} threads here.",
        "",
        "## Import and memory",
        "",
        "Import of what a request needs; the client built (kubeconfig loaded) inside an event loop for the "
        "async libraries; VmRSS after both.",
        "",
        *import_table(imports),
        "",
        f"## {args.gets} GETs of one ConfigMap from one event loop",
        "",
        "CPU is the whole process's (all threads). New TLS connections are handshakes during the measured "
        "burst. The stall is how late a 5 ms timer on the loop fired at "
        "worst: a blocked loop serves nothing else.",
        "",
        *get_table(samples, args.gets),
        "",
        f"## Watches replaying {args.events} changes of one ConfigMap",
        "",
        "Each watch starts from the resourceVersion before the changes and stops at the last one; events come "
        "from the API server's watch cache, so this is the client's cost of reading a watch.",
        "",
        *watch_table(samples, args.events, watchers),
        "",
        f"## One GET while {args.idle_watches} watches are open",
        "",
        f"The watches follow an object nobody changes and end after {args.idle_timeout} s (server side); the GET "
        "is issued 0.5 s after they start.",
        "",
        *open_table(samples),
        "",
    ]
    return "\n".join(head)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/clients.py", description=__doc__.splitlines()[0])
    p.add_argument("--python-lightkube", default="/work/main/.venv/bin/python",
                   help="an interpreter with lightkube (the project's venv)")
    p.add_argument("--python-kubernetes", help="an interpreter with kubernetes and kubernetes_asyncio")
    p.add_argument("--namespace", default=NAMESPACE)
    p.add_argument("--import-runs", type=int, default=7)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--gets", type=int, default=200)
    p.add_argument("--events", type=int, default=300, help="changes each watch replays")
    p.add_argument("--watchers", default="1,10", help="watch counts, separated by commas")
    p.add_argument("--idle-watches", type=int, default=8)
    p.add_argument("--idle-timeout", type=int, default=3, help="seconds the open watches last")
    p.add_argument("--out", type=Path, help="also write the report here")
    p.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--spec", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.worker and not args.python_kubernetes:
        p.error("--python-kubernetes is required (a venv with kubernetes and kubernetes_asyncio)")
    if not args.worker and not os.environ.get("KUBECONFIG"):
        p.error('KUBECONFIG is not set: eval "$(.venv/bin/reentry sandbox env)" first')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.worker, json.loads(args.spec))
    load = [os.getloadavg()]
    found = {side: must(getattr(args, f"python_{side}"), "versions", {"packages": packages})
             for side, packages in PACKAGES.items()}
    # kubernetes_asyncio is optional: without it its variants are left out.
    libraries = [lib for lib in LIBRARIES if found["lightkube" if lib == "lightkube" else "kubernetes"].get(lib)]
    pythons = {"bare interpreter": args.python_lightkube}
    pythons |= {lib: interpreter(lib + "/", args) for lib in libraries}
    imports = import_costs(pythons, args.import_runs)
    must(args.python_lightkube, "setup", {"namespace": args.namespace})
    variants = [v for v in LABELS if v.split("/")[1] in libraries]
    watchers = [int(w) for w in args.watchers.split(",")]
    try:
        samples = rounds(args, variants, watchers)
    finally:
        call(args.python_lightkube, "teardown", {"namespace": args.namespace})
    load.append(os.getloadavg())
    text = report(args, found, imports, samples, watchers, load)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
