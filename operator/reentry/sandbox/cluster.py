"""Start, inspect and stop the sandbox: etcd, kube-apiserver, kube-controller-manager, simulated kubelet.

Everything listens on loopback at free ports, each process in its own process group, logs under
the state directory. ``state.json`` records the process ids that ``up`` started so that ``down``
stops exactly those and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reentry.sandbox import binaries, certs

SERVICE_CIDR = "10.0.0.0/24"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
NODES = 3
CONTROLLERS = [
    "deployment-controller", "replicaset-controller", "statefulset-controller", "job-controller",
    "endpointslice-controller", "endpoints-controller", "namespace-controller",
    "serviceaccount-controller", "serviceaccount-token-controller", "garbage-collector-controller",
    "root-ca-certificate-publisher-controller", "ttl-after-finished-controller",
    "clusterrole-aggregation-controller",
]
# Order matters: each process needs the ones before it.
PROCESS_ORDER = ["etcd", "kube-apiserver", "kube-controller-manager", "kubelet"]


def state_dir() -> Path:
    """``$REENTRY_SANDBOX_DIR`` or ``~/.local/state/reentry/sandbox``."""
    override = os.environ.get("REENTRY_SANDBOX_DIR")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "reentry" / "sandbox"


@dataclass
class Sandbox:
    """What a running sandbox is: its directory, ports and the process ids ``up`` started."""

    directory: Path
    api_port: int = 0
    etcd_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    """How each process was started, so one can be stopped and started again (fault drills)."""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    """Handles of the processes this ``up`` started (not persisted: ``down`` may run elsewhere)."""

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def bin_dir(self) -> Path:
        return self.directory / "bin"

    @property
    def certs(self) -> certs.CertPaths:
        return certs.CertPaths(self.directory / "certs")

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def log(self, name: str) -> Path:
        return self.directory / "logs" / f"{name}.log"

    def save(self) -> None:
        data = {"api_port": self.api_port, "etcd_port": self.etcd_port, "pids": self.pids,
                "commands": self.commands}
        self.state_file.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, directory: Path | None = None) -> Sandbox:
        box = cls(directory or state_dir())
        if box.state_file.exists():
            data = json.loads(box.state_file.read_text())
            box.api_port, box.etcd_port, box.pids = data["api_port"], data["etcd_port"], data["pids"]
            box.commands = data.get("commands", {})
        return box


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alive(pid: int, expect: str) -> bool:
    """True if ``pid`` runs and is the process we started (its command line names ``expect``)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
    return expect in cmdline and not zombie


def _expected_command(name: str) -> str:
    return "reentry.sandbox.kubelet" if name == "kubelet" else name


def running(box: Sandbox) -> dict[str, bool]:
    """Which of the recorded processes still run."""
    return {name: _alive(pid, _expected_command(name)) for name, pid in box.pids.items()}


def _ssl_context(box: Sandbox) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(box.certs.ca_cert))
    ctx.load_cert_chain(str(box.certs.admin_cert), str(box.certs.admin_key))
    return ctx


def api_ready(box: Sandbox) -> bool:
    """True when the API server answers ``/readyz`` with ok."""
    if not box.api_port or not box.certs.complete():
        return False
    try:
        with urllib.request.urlopen(f"{box.server}/readyz", context=_ssl_context(box), timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def _wait(what: str, predicate: object, timeout: float, box: Sandbox, log_name: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        # The handle, not /proc: right after fork the child's command line is still Python's.
        proc = box.procs.get(log_name)
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = box.log(log_name).read_text(errors="replace").splitlines()[-15:] if box.log(log_name).exists() else []
    raise RuntimeError(f"sandbox: {what} did not become ready; last lines of {box.log(log_name)}:\n"
                       + "\n".join(tail))


def _spawn(box: Sandbox, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    box.log(name).parent.mkdir(parents=True, exist_ok=True)
    with box.log(name).open("ab") as out:
        # start_new_session: a process group of its own, so `down` can end it with its children.
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    box.pids[name] = proc.pid
    box.procs[name] = proc
    box.commands[name] = argv
    box.save()


def _etcd_healthy(box: Sandbox) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{box.etcd_port}/health", timeout=2) as resp:
            return b'"true"' in resp.read()
    except (urllib.error.URLError, OSError):
        return False


def write_kubeconfig(box: Sandbox) -> None:
    """An admin kubeconfig with the certificates embedded by path."""
    c = box.certs
    box.kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: reentry-sandbox\n  cluster:\n    server: {box.server}\n"
        f"    certificate-authority: {c.ca_cert}\n"
        f"users:\n- name: reentry-admin\n  user:\n    client-certificate: {c.admin_cert}\n"
        f"    client-key: {c.admin_key}\n"
        "contexts:\n- name: reentry-sandbox\n  context:\n    cluster: reentry-sandbox\n"
        "    user: reentry-admin\n    namespace: default\n"
        "current-context: reentry-sandbox\n"
    )
    box.kubeconfig.chmod(0o600)


def _link_tools(box: Sandbox, paths: dict[str, Path]) -> None:
    """Put kubectl, helm and kubectl-reentry in ``bin/`` so ``sandbox env`` can prepend one directory to PATH."""
    box.bin_dir.mkdir(parents=True, exist_ok=True)
    links = {"kubectl": paths["kubectl"]}
    helm = binaries.locate("helm")  # linked when built (``reentry sandbox build``); never built on start
    if helm:
        links["helm"] = helm
    plugin = Path(sys.executable).parent / "kubectl-reentry"
    if plugin.exists():
        links["kubectl-reentry"] = plugin
    for name, target in links.items():
        link = box.bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)


def _apiserver_args(box: Sandbox, binary: Path) -> list[str]:
    c = box.certs
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{box.etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={box.api_port}",
        f"--cert-dir={box.directory / 'apiserver-certs'}",
        f"--tls-cert-file={c.serving_cert}",
        f"--tls-private-key-file={c.serving_key}",
        f"--client-ca-file={c.ca_cert}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={c.sa_pub}",
        f"--service-account-signing-key-file={c.sa_key}",
        "--endpoint-reconciler-type=none",
        # Simulated nodes need no taints; and without the ServiceAccount admission plugin a pod created
        # in a brand-new namespace is not refused while the controller is still creating `default`.
        "--disable-admission-plugins=TaintNodesByCondition,ServiceAccount",
        "--allow-privileged=true",
        "--profiling=false",
        "--enable-priority-and-fairness=false",
        "--v=1",
    ]


def _controller_manager_args(box: Sandbox, binary: Path) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={box.kubeconfig}",
        "--leader-elect=false",
        "--secure-port=0",
        f"--service-account-private-key-file={box.certs.sa_key}",
        f"--root-ca-file={box.certs.ca_cert}",
        f"--controllers={','.join(CONTROLLERS)}",
        "--concurrent-deployment-syncs=10",
        "--concurrent-replicaset-syncs=10",
        "--concurrent-service-endpoint-syncs=10",
        "--endpointslice-updates-batch-period=0s",
        "--v=1",
    ]


def _kubectl_ok(box: Sandbox, kubectl: Path, *args: str) -> bool:
    out = subprocess.run([str(kubectl), f"--kubeconfig={box.kubeconfig}", *args], capture_output=True, check=False)
    return out.returncode == 0


def _nodes_registered(box: Sandbox, kubectl: Path, count: int) -> bool:
    out = subprocess.run([str(kubectl), f"--kubeconfig={box.kubeconfig}", "get", "nodes", "-o", "name"],
                         capture_output=True, text=True, check=False)
    return out.returncode == 0 and len(out.stdout.split()) >= count


def up(directory: Path | None = None, nodes: int = NODES) -> Sandbox:
    """Start the sandbox, or return the running one; returns once ``/readyz`` answers and nodes exist.

    A start that fails half-way stops what it started, so no stray process outlives the error.
    """
    box = Sandbox.load(directory)
    alive = running(box)
    if alive and all(alive.values()) and set(alive) == set(PROCESS_ORDER) and api_ready(box):
        return box
    if box.pids:
        down(box.directory)
        box = Sandbox(box.directory)

    paths = binaries.ensure(binaries.CONTROL_PLANE)
    box.directory.mkdir(parents=True, exist_ok=True)
    try:
        _start(box, paths, nodes)
    except BaseException:
        down(box.directory)
        raise
    return box


def _start(box: Sandbox, paths: dict[str, Path], nodes: int) -> None:
    if not box.certs.complete():
        certs.generate(box.certs)
    box.etcd_port, box.api_port = free_port(), free_port()
    peer_port = free_port()
    write_kubeconfig(box)
    _link_tools(box, paths)

    _spawn(box, "etcd", [
        str(paths["etcd"]), f"--data-dir={box.directory / 'etcd-data'}",
        f"--listen-client-urls=http://127.0.0.1:{box.etcd_port}",
        f"--advertise-client-urls=http://127.0.0.1:{box.etcd_port}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
        "--unsafe-no-fsync", "--log-level=warn",
    ])
    _wait("etcd", lambda: _etcd_healthy(box), 60, box, "etcd")
    _spawn(box, "kube-apiserver", _apiserver_args(box, paths["kube-apiserver"]))
    _wait("kube-apiserver /readyz", lambda: api_ready(box), 120, box, "kube-apiserver")
    _spawn(box, "kube-controller-manager", _controller_manager_args(box, paths["kube-controller-manager"]))
    _spawn(box, "kubelet", [sys.executable, "-m", "reentry.sandbox.kubelet", "--kubeconfig",
                            str(box.kubeconfig), "--nodes", str(nodes)],
           env={**os.environ, "PYTHONPATH": _package_root()})
    _wait("simulated kubelet nodes", lambda: _nodes_registered(box, paths["kubectl"], nodes), 60, box, "kubelet")
    # The default ServiceAccount appears once kube-controller-manager's controllers run.
    _wait("kube-controller-manager", lambda: _kubectl_ok(box, paths["kubectl"], "get", "serviceaccount", "default"),
          60, box, "kube-controller-manager")


def _package_root() -> str:
    """The directory that holds the ``reentry`` package, for the kubelet subprocess."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root


def _stop(name: str, pid: int, timeout: float) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``timeout`` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid, _expected_command(name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid, _expected_command(name)):
        os.killpg(pid, signal.SIGKILL)


def stop_process(box: Sandbox, name: str, timeout: float = 20) -> None:
    """Stop one process of a running sandbox (a fault drill: the API server or etcd gone a while)."""
    pid = box.pids.get(name)
    if pid is None or not _alive(pid, _expected_command(name)):
        raise RuntimeError(f"{name} is not running in the sandbox at {box.directory}")
    _stop(name, pid, timeout)
    if name in box.procs:
        box.procs.pop(name).wait(timeout=5)


def start_process(box: Sandbox, name: str, timeout: float = 120) -> None:
    """Start again, as it was started, one process :func:`stop_process` stopped; return once it serves."""
    if name not in box.commands:
        raise RuntimeError(f"the sandbox at {box.directory} has no record of how {name} was started")
    _spawn(box, name, box.commands[name],
           env={**os.environ, "PYTHONPATH": _package_root()} if name == "kubelet" else None)
    if name == "etcd":
        _wait("etcd", lambda: _etcd_healthy(box), timeout, box, "etcd")
    elif name == "kube-apiserver":
        _wait("kube-apiserver /readyz", lambda: api_ready(box), timeout, box, "kube-apiserver")


def compact_etcd(box: Sandbox) -> int:
    """Drop etcd's history up to its current revision (a fault drill), and return that revision.

    A watch served from etcd and asked from an older resourceVersion is then answered 410 Gone, as
    after an operator was cut off longer than the cluster keeps history. The API server serves
    Events' watches from etcd (they have no watch cache); other kinds' from its watch cache, whose
    window this does not change."""
    def call(path: str, body: dict[str, object]) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{box.etcd_port}/v3/kv/{path}",
                                         data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer

    revision = int(call("range", {"key": "AA=="})["header"]["revision"])
    call("compaction", {"revision": str(revision), "physical": True})
    return revision


def down(directory: Path | None = None, timeout: float = 20) -> list[str]:
    """Stop exactly the processes ``up`` recorded, newest first; return what was stopped."""
    box = Sandbox.load(directory)
    stopped = []
    for name in reversed(PROCESS_ORDER):
        pid = box.pids.get(name)
        if pid is None or not _alive(pid, _expected_command(name)):
            continue
        _stop(name, pid, timeout)
        stopped.append(f"{name} (pid {pid})")
    box.state_file.unlink(missing_ok=True)
    # The sandbox is disposable: a fresh etcd on every `up` keeps runs independent.
    data = box.directory / "etcd-data"
    if data.exists():
        subprocess.run(["rm", "-rf", str(data)], check=False)
    return stopped


def kubectl(box: Sandbox, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    """Run the sandbox's kubectl; raise with its stderr on failure."""
    argv = [str(box.bin_dir / "kubectl"), f"--kubeconfig={box.kubeconfig}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def install_crd(box: Sandbox, path: Path, name: str, timeout: float = 60) -> None:
    """Apply a CRD and wait until it is Established.

    Polled, from JSON: `kubectl wait` and jsonpath filters error out while a new CRD has no conditions.
    """
    kubectl(box, "apply", "--server-side", "-f", str(path))

    def established() -> bool:
        found = json.loads(kubectl(box, "get", f"crd/{name}", "-o", "json"))
        conditions = (found.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    deadline = time.monotonic() + timeout
    while not established():
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} was not Established within {timeout:.0f}s")
        time.sleep(0.2)


def env_lines(box: Sandbox) -> list[str]:
    """Shell ``export`` lines: KUBECONFIG and a PATH with the sandbox's kubectl first."""
    return [f"export KUBECONFIG={box.kubeconfig}", f'export PATH="{box.bin_dir}:$PATH"']


def status_lines(box: Sandbox) -> list[str]:
    """One line per recorded process and one for the API."""
    if not box.pids:
        return [f"sandbox: not running (state in {box.directory})"]
    lines = [f"{name}: {'running' if ok else 'stopped'} (pid {box.pids[name]})" for name, ok in running(box).items()]
    lines.append(f"api: {box.server} {'ready' if api_ready(box) else 'not ready'}")
    lines.append(f"kubeconfig: {box.kubeconfig}")
    return lines
