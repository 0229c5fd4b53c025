"""End-to-end fixtures: one real control plane per test session, a namespace per test, the operator.

By default the session starts its own sandbox (``reentry sandbox``) in a private state directory
and stops it at the end. Set ``REENTRY_KUBECONFIG`` to run against an existing cluster instead
(for example one made by ``kind create cluster --config kind-config.yaml``); nothing is started
or stopped then, and ``kubectl`` is taken from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from lightkube import ApiError, Client
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from reentry import crd
from tests.e2e.gateway_fixtures import gateway_api  # noqa: F401  (a session fixture, registered here)
from tests.e2e.prometheus_fixtures import prometheus  # noqa: F401  (a session fixture: a real Prometheus)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last seen: {last!r})")


@dataclass
class Cluster:
    """A reachable API server: its kubeconfig, a lightkube client and a kubectl runner."""

    kubeconfig: Path
    kubectl_bin: str
    client: Client

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, namespace: str | None = None, check: bool = True,
                stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against the cluster."""
        argv = [self.kubectl_bin, *(["-n", namespace] if namespace else []), *args]
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env(), input=stdin, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result


def with_crd(kubeconfig: Path, kubectl_bin: str) -> Cluster:
    """A handle on the control plane at ``kubeconfig``, with the RecoveryPlan CRD installed from crds/."""
    client = Client(config=KubeConfig.from_file(kubeconfig), field_manager="reentry-tests")
    handle = Cluster(kubeconfig, kubectl_bin, client)
    handle.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / crd.CRD_FILE))
    # `kubectl wait` errors out when asked before the CRD has any status; poll instead.
    wait_for("the RecoveryPlan CRD to be Established", lambda: "True" in handle.kubectl(
        "get", "crd/recoveryplans.reentry.dev", "-o",
        "jsonpath={.status.conditions[?(@.type=='Established')].status}", check=False).stdout)
    return handle


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's control plane, with the RecoveryPlan CRD installed from crds/."""
    external = os.environ.get("REENTRY_KUBECONFIG")
    box_dir = None
    if external:
        kubeconfig, kubectl_bin = Path(external), shutil.which("kubectl") or "kubectl"
    else:
        from reentry.sandbox import cluster as sandbox

        box_dir = Path(os.environ.get("REENTRY_TEST_SANDBOX_DIR") or tmp_path_factory.mktemp("sandbox"))
        started = time.monotonic()
        box = sandbox.up(box_dir)
        print(f"\nsandbox up in {time.monotonic() - started:.1f}s at {box.server}", file=sys.stderr)
        kubeconfig, kubectl_bin = box.kubeconfig, str(box.bin_dir / "kubectl")
    try:
        yield with_crd(kubeconfig, kubectl_bin)
    finally:
        if box_dir is not None:
            from reentry.sandbox import cluster as sandbox

            sandbox.down(box_dir)


@dataclass
class Operator:
    """The operator under test, as a real `reentry run` process."""

    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


# The session's operator leaves `solo-*` namespaces alone: tests that kill and restart an operator
# run their own there.
SOLO_PREFIX = "solo-"
SESSION_NAMESPACES = f"*,!{SOLO_PREFIX}*"


def start_operator(cluster: Cluster, log: Path, namespace: str = SESSION_NAMESPACES,
                   metrics_port: int = 0, extra_args: tuple[str, ...] = ()) -> Operator:
    """Start `reentry run --namespace PATTERN [EXTRA_ARGS]` against the cluster, logging to ``log``.

    Metrics are off unless a port is given: parallel sessions must not race for the default one.
    """
    env = cluster.env()
    argv = [sys.executable, "-m", "reentry.cli", "run", "--namespace", namespace,
            "--metrics-port", str(metrics_port), "--metrics-address", "127.0.0.1", *extra_args]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Operator(proc, log)


def stop_operator(operator: Operator) -> None:
    if operator.process.poll() is None:
        operator.process.terminate()
        try:
            operator.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            operator.process.kill()
            operator.process.wait()


@pytest.fixture(scope="session")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """One operator for the session, watching every namespace but the solo ones."""
    running = start_operator(cluster, tmp_path_factory.mktemp("operator") / "operator.log")
    try:
        yield running
    finally:
        stop_operator(running)
        if running.process.returncode not in (0, -15):
            print(running.logs()[-5000:], file=sys.stderr)


def fresh_namespace(cluster: Cluster, request: pytest.FixtureRequest, prefix: str = "") -> Iterator[str]:
    """A namespace named after the test (``prefix`` first), deleted afterwards (without waiting)."""
    base = request.node.name.lower().replace("_", "-").removeprefix("test-")[:40].strip("-")
    name = f"{prefix}{base}-{uuid.uuid4().hex[:5]}"
    cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    try:
        cluster.client.delete(Namespace, name)
    except ApiError as err:
        if err.status.code != 404:  # a test may have deleted it itself
            raise


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, watched by the session's operator, deleted afterwards (without waiting)."""
    yield from fresh_namespace(cluster, request)


@pytest.fixture
def solo_namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace the session's operator ignores, for a test that runs its own."""
    yield from fresh_namespace(cluster, request, SOLO_PREFIX)


def load_example(name: str) -> list[dict[str, Any]]:
    """The documents of one file in examples/ (the same files the demo and docs use)."""
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def apply_docs(cluster: Cluster, namespace: str, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """kubectl apply the given documents into the namespace."""
    return cluster.kubectl("apply", "-f", "-", namespace=namespace, stdin=yaml.safe_dump_all(docs))
