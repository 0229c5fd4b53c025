"""The benchmark's environment: a private sandbox, kubectl, the operator process, deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lightkube import ApiError, AsyncClient, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from reentry import crd
from reentry.kube import http_client
from reentry.sandbox import cluster

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@contextmanager
def sandbox(directory: Path) -> Iterator[cluster.Sandbox]:
    """A sandbox of our own in ``directory``, stopped on the way out whatever happens."""
    box = cluster.up(directory)
    try:
        yield box
    finally:
        cluster.down(directory)


def kubectl(box: cluster.Sandbox, *args: str, timeout: float = 120) -> str:
    """Run the sandbox's kubectl (see :func:`reentry.sandbox.cluster.kubectl`)."""
    return cluster.kubectl(box, *args, timeout=timeout)


def install_crd(box: cluster.Sandbox) -> None:
    """Apply the RecoveryPlan CRD from crds/ and wait until it is served."""
    cluster.install_crd(box, ROOT / "crds" / crd.CRD_FILE, "recoveryplans.reentry.dev")


def server_version(box: cluster.Sandbox) -> str:
    """The API server's gitVersion, e.g. v1.34.4."""
    version: str = json.loads(kubectl(box, "version", "-o", "json"))["serverVersion"]["gitVersion"]
    return version


@dataclass
class OperatorProcess:
    """The operator as a real ``python -m reentry.cli run --all-namespaces`` process."""

    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def collections(self) -> Counter[str]:
        """The operator's own garbage-collection figures (``reentry_gc_pause_seconds``): per generation,
        ``<g>:count`` collections and ``<g>:sum`` seconds paused, since it started."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        figures: Counter[str] = Counter()
        for match in re.finditer(r'^reentry_gc_pause_seconds_(count|sum)\{generation="(\d)"\} (\S+)$', text, re.M):
            figures[f"{match[2]}:{match[1]}"] = float(match[3])  # type: ignore[assignment]
        return figures

    async def collections_during(self, run: Awaitable[T]) -> tuple[T, Counter[str]]:
        """``run``'s result, and the operator's garbage collections while it ran (as :meth:`collections`)."""
        before = await asyncio.to_thread(self.collections)
        result = await run
        after = await asyncio.to_thread(self.collections)
        after.subtract(before)
        return result, after

    def check_alive(self) -> None:
        """Raise, with the end of its log, if the operator has exited."""
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(f"the operator exited with code {code}; last lines of {self.log}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def full_collections(collections: Counter[str]) -> str:
    """The full (generation 2) collections in ``collections`` (as :meth:`OperatorProcess.collections`), for a report."""
    count, paused = int(collections["2:count"]), collections["2:sum"]
    return f"{count} ({paused * 1000 / count:.0f} ms each on average)" if count else "none"


@contextmanager
def operator_process(box: cluster.Sandbox, log: Path) -> Iterator[OperatorProcess]:
    """Start the operator, at its shipped defaults, against the sandbox; stop it (and only it, by its
    process group) on the way out."""
    env = {**os.environ, "KUBECONFIG": str(box.kubeconfig)}
    port = cluster.free_port()  # not the default 8383: it would collide with any other operator on the machine
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reentry.cli", "run", "--all-namespaces",
                                 "--metrics-port", str(port), "--metrics-address", "127.0.0.1"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    try:
        yield OperatorProcess(proc, log, port)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


async def create_namespace(client: AsyncClient, prefix: str) -> str:
    """A fresh namespace named ``prefix-xxxxx``."""
    name = f"{prefix}-{uuid.uuid4().hex[:5]}"
    await client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


async def create_all(client: AsyncClient, namespace: str, manifests: list[dict[str, Any]]) -> None:
    """Create each manifest in the namespace (typed or registered generic resources)."""
    for manifest in manifests:
        await client.create(codecs.from_dict(manifest), namespace=namespace)  # type: ignore[call-overload]


async def delete_quietly(client: AsyncClient, kind: Any, name: str, namespace: str) -> None:
    """Delete an object; one that is already gone is fine."""
    try:
        await client.delete(kind, name, namespace=namespace)
    except ApiError as err:
        if err.status.code != 404:
            raise


async def poll(what: str, probe: Callable[[], Awaitable[T | None]], timeout: float, every: float = 0.5) -> T:
    """Await ``probe`` until it returns something truthy; raise naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last seen: {last!r})")


_REQUEST_SAMPLE = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


async def apiserver_requests(client: AsyncClient, resource: str | None, group: str = "") -> Counter[str]:
    """Requests the API server has answered for ``resource`` since it started, by verb (``GET``,
    ``APPLY``, ``PATCH``...), read from its own ``/metrics`` (``apiserver_request_total``).

    Counts requests, not changes: a write that changed nothing is counted too. Subresources
    (``status``) are left out, so a plan's status writes do not count as writes of the plan.
    With ``resource`` None: every request to every resource, subresources included, by verb.
    """
    response = await http_client(client).get("metrics")
    response.raise_for_status()
    counts: Counter[str] = Counter()
    for line in response.text.splitlines():
        sample = _REQUEST_SAMPLE.match(line)
        if sample is None:
            continue
        labels = dict(_LABEL.findall(sample["labels"]))
        every = resource is None and bool(labels.get("resource"))
        if every or (labels.get("resource") == resource and labels.get("group", "") == group
                     and not labels.get("subresource")):
            counts[labels["verb"]] += int(float(sample["value"]))
    return counts


def process_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) a process has used so far, and its resident memory in bytes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24
    return cpu, rss


async def until_idle(pid: int, timeout: float, share: float = 0.05, window: float = 0.5) -> float:
    """Wait until process ``pid`` used less than ``share`` of a core over ``window`` seconds (it has
    caught up with whatever it was processing); return the seconds waited. Raises at ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before, _ = process_usage(pid)
        await asyncio.sleep(window)
        after, _ = process_usage(pid)
        if after - before < share * window:
            return time.monotonic() - started
    raise TimeoutError(f"process {pid} still busy after {timeout:.0f}s")
