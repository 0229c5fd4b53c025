"""A real Prometheus for the tests, scraping an exporter the tests control.

``prometheus`` (session-scoped) starts Debian's ``prometheus`` binary (or ``$REENTRY_PROMETHEUS``)
on a free loopback port with a 1 s scrape interval, scraping a ``prometheus_client`` exporter on
another free port. Tests set any gauge or counter by name and labels, then wait until Prometheus
has scraped the value before they rely on it::

    prometheus.exporter.set("replica_lag_seconds", 5, replica="db-1")
    prometheus.wait_value('replica_lag_seconds{replica="db-1"}', 5)

Metric names are shared across the session: a test picks names or label values of its own
(:func:`unique`). Registered through ``pytest_plugins`` in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

SCRAPE_INTERVAL = "1s"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique(prefix: str) -> str:
    """A metric name (or label value) no other test of the session uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@dataclass
class Exporter:
    """A ``/metrics`` endpoint whose gauges and counters tests set by name and labels."""

    registry: CollectorRegistry
    port: int
    _metrics: dict[str, Gauge | Counter] = field(default_factory=dict)

    def _metric(self, kind: type[Gauge] | type[Counter], name: str, labels: dict[str, str]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            metric = kind(name, f"set by the tests: {name}", labelnames=sorted(labels), registry=self.registry)
            self._metrics[name] = metric
        if not isinstance(metric, kind):
            raise TypeError(f"{name} is a {type(metric).__name__}, not a {kind.__name__}")
        return metric.labels(**labels) if labels else metric

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set the gauge ``name{labels}`` (created on first use; a name keeps its label names)."""
        self._metric(Gauge, name, labels).set(value)

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add to the counter ``name{labels}``; Prometheus sees it as ``name_total``."""
        self._metric(Counter, name, labels).inc(amount)

    def remove(self, name: str, **labels: str) -> None:
        """Stop exporting ``name{labels}``: after the next scrape Prometheus marks the series stale."""
        metric = self._metrics[name]
        if labels:
            metric.remove(*[labels[k] for k in sorted(labels)])
        else:
            self.registry.unregister(metric)
            del self._metrics[name]


@dataclass
class Prometheus:
    """A running Prometheus and its exporter."""

    url: str
    exporter: Exporter
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> dict[str, Any]:
        """The ``data`` of an instant query (raises on an error answer)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    def values(self, promql: str) -> list[float]:
        """The values of an instant-vector query, one per series."""
        return [float(s["value"][1]) for s in self.query(promql)["result"]]

    def wait_value(self, promql: str, value: float, timeout: float = 30) -> None:
        """Wait until the query returns exactly one series with ``value`` (scraped and queryable)."""
        self._wait(f"{promql} == {value}", lambda: (v := self.values(promql)) == [value] or (
            len(v) == 1 and math.isclose(v[0], value)), timeout)

    def wait_absent(self, promql: str, timeout: float = 30) -> None:
        """Wait until the query returns no series (the exporter stopped exporting them, marked stale)."""
        self._wait(f"{promql} absent", lambda: not self.values(promql), timeout)

    def _wait(self, what: str, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text()[-2000:]
                raise AssertionError(f"Prometheus exited with {self.process.returncode}: {tail}")
            if done():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} in Prometheus")


def prometheus_binary() -> str:
    """``$REENTRY_PROMETHEUS``, else ``prometheus`` on PATH (Debian's package installs /usr/bin/prometheus)."""
    found = os.environ.get("REENTRY_PROMETHEUS") or shutil.which("prometheus")
    if not found:
        raise RuntimeError("no prometheus binary: apt-get install prometheus (or set REENTRY_PROMETHEUS)")
    return found


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for Prometheus' basic_auth_users (cost 4: the tests need speed, not strength)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


def start_prometheus(workdir: Path, targets: list[str], web_config: dict[str, Any] | None = None,
                     ) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start Prometheus scraping ``targets`` every second; return the process, its URL and its log file."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
              "scrape_configs": [{"job_name": "tests", "static_configs": [{"targets": targets}]}] if targets else []}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [prometheus_binary(), f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn"]
    if web_config is not None:
        (workdir / "web.yml").write_text(yaml.safe_dump(web_config))
        argv.append(f"--web.config.file={workdir / 'web.yml'}")
    log = workdir / "prometheus.log"
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    scheme = "https" if web_config and "tls_server_config" in web_config else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prometheus exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            # /-/ready answers 401 behind basic auth and needs the CA with TLS: any answer means it listens.
            httpx.get(f"{url}/-/ready", timeout=1, verify=False)
            return process, url, log
        except httpx.TransportError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"Prometheus did not listen on {url} within 30s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process the fixtures started and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus scraping the session's exporter every second; stopped at the end of the session."""
    registry = CollectorRegistry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    exporter = Exporter(registry, port)
    process, url, log = start_prometheus(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{port}"])
    handle = Prometheus(url, exporter, process, log)
    try:
        # `up` turns 1 after the first scrape: from then on values set by tests show within a scrape.
        handle.wait_value('up{job="tests"}', 1)
        yield handle
    finally:
        stop(process)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
