"""The chart's RBAC, proven on the real API server (authorization mode RBAC).

The chart is rendered with helm; its ServiceAccount, ClusterRole and binding are applied; the
operator runs as `reentry <the Deployment's args>` with a kubeconfig holding only that
ServiceAccount's token (TokenRequest), never the admin's; a drill that touches every part of the
role (leases, a Job, patches, checks, pods' gates, traffic targets, events, status) runs to
Restored with no refused call in the operator's log; and calls outside the role are refused.

The namespace-scoped mode (watchNamespaces) is proven the same way: a drill in the one watched
namespace runs to Restored under its Role, with and without the small cluster-scoped ClusterRole;
in another namespace the same calls are refused (403) and a plan there is never touched.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ALL_NS, ApiError, Client
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.core_v1 import ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Pod, Secret, Service
from lightkube.resources.rbac_authorization_v1 import ClusterRoleBinding

from reentry.kube import RecoveryPlanResource
from reentry.model import READINESS_GATE
from reentry.sandbox.cluster import free_port
from tests.e2e.conftest import SOLO_PREFIX, Cluster, apply_docs, wait_for
from tests.e2e.story import (
    by_name,
    complete,
    events,
    gated_service,
    given_running_pods,
    jobs_of,
    plan_status,
    recovery_plan,
    released_count,
    service_entry,
    stays,
    wait_phase,
    wait_status,
)
from tests.unit.test_chart import RELEASE_NAMESPACE, of_kind, one, operators, render

PLAN = "chart-drill"
PAUSE = "registry.k8s.io/pause:3.10"
WEIGHT = "external-dns.alpha.kubernetes.io/aws-weight"
#: The drill's annotation target writes a Service: a kind beyond the built-in rules, granted the
#: way docs/install.md says to (rbac.extraRules), not by a wildcard.
EXTRA_RULES = [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "patch", "watch"]}]
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


@contextlib.contextmanager
def install(cluster: Cluster, values: dict[str, Any]) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chart rendered with ``values``; its ServiceAccount and RBAC applied in a fresh release namespace.

    Cluster-scoped objects get the release namespace in their names, so parallel sessions and the two
    modes never share one. Roles live in the watched namespaces and go with them.
    """
    release_ns = f"{RELEASE_NAMESPACE}-{uuid.uuid4().hex[:5]}"
    docs = render(values)
    for doc in docs:  # the chart renders for RELEASE_NAMESPACE; this test's copy gets its own
        if doc["metadata"].get("namespace") == RELEASE_NAMESPACE:
            doc["metadata"]["namespace"] = release_ns
        for subject in doc.get("subjects", []):
            subject["namespace"] = release_ns
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            doc["metadata"]["name"] += f"-{release_ns}"
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] += f"-{release_ns}"
        if doc["kind"] == "Deployment":  # the Lease lives in the release's namespace
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["args"] = [a.replace(f"={RELEASE_NAMESPACE}", f"={release_ns}") for a in container["args"]]
    cluster.client.create(Namespace(metadata=ObjectMeta(name=release_ns)))
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    try:
        yield docs, release_ns
    finally:
        for doc in of_kind(docs, "ClusterRoleBinding") + of_kind(docs, "ClusterRole"):
            cluster.kubectl("delete", doc["kind"].lower(), doc["metadata"]["name"], "--wait=false")
        cluster.client.delete(Namespace, release_ns)


@pytest.fixture
def installed(cluster: Cluster) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chart installed cluster-wide (the default values), with the drill's extra rule."""
    with install(cluster, {"rbac": {"extraRules": EXTRA_RULES}}) as release:
        yield release


def token_kubeconfig(cluster: Cluster, service_account: str, namespace: str, path: Path) -> Path:
    """A kubeconfig with the ServiceAccount's token from a TokenRequest, and nothing of the admin's."""
    token = cluster.kubectl("create", "token", service_account, "--duration=1h", namespace=namespace).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": server}],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "sandbox", "user": service_account}}],
        "current-context": "operator"}))
    path.chmod(0o600)
    return path


def as_operator(cluster: Cluster, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl with the operator's token."""
    return subprocess.run([cluster.kubectl_bin, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True,
                          check=False)


def wait_granted(cluster: Cluster, kubeconfig: Path, namespace: str) -> None:
    """Wait until the API server's RBAC cache has the new bindings: a fresh binding can refuse for a moment."""
    wait_for("the chart's RBAC to be in effect", lambda: as_operator(
        cluster, kubeconfig, "auth", "can-i", "patch", "pods", "--subresource=status", "-n", namespace).stdout.strip()
        == "yes")


def operator_args(docs: list[dict[str, Any]], health: int, metrics: int) -> list[str]:
    """The Deployment's container args, on free local ports instead of the pod's."""
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{health}") for a in args]
    return [f"--metrics-port={metrics}" if a.startswith("--metrics-port=") else a for a in args]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


#: How the operator is started: its arguments and the kubeconfig -> the command line.
Launcher = Callable[[list[str], Path], list[str]]


def from_source(args: list[str], kubeconfig: Path) -> list[str]:
    """`reentry ARGS` from this checkout (KUBECONFIG is set in the environment)."""
    return [sys.executable, "-m", "reentry.cli", *args]


@contextlib.contextmanager
def operator_as(cluster: Cluster, docs: list[dict[str, Any]], kubeconfig: Path, log: Path,
                launch: Launcher = from_source) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`reentry <the Deployment's args>` under the token's identity, up and live; stopped on exit.

    Yields the process and its liveness port. ``launch`` makes the command (the image's test runs it
    in a container).
    """
    health, metrics = free_port(), free_port()
    env = {**cluster.env(), "KUBECONFIG": str(kubeconfig)}
    with log.open("ab") as out:
        proc = subprocess.Popen(launch(operator_args(docs, health, metrics), kubeconfig),
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for("the operator's liveness endpoint", lambda: healthy(health) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, log.read_text()
        yield proc, health
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


REFUSALS = ("403", "Forbidden", "Not enough permissions")
#: A 403 that is no authorization decision: the namespace of another test's plan is being deleted,
#: and nothing may be created in it (the cluster-wide operator posts that plan's Events there).
NOT_RBAC = "NamespaceTerminating"


def refusals(log: Path) -> list[str]:
    """The operator's log lines about a call the API server refused (its RBAC, not a terminating namespace)."""
    return [line for line in log.read_text().splitlines()
            if any(word in line for word in REFUSALS) and NOT_RBAC not in line]


def assert_never_refused(log: Path) -> None:
    """The operator's log shows no call the API server refused."""
    assert not refusals(log), "the operator met a refusal:\n" + "\n".join(refusals(log)[:20])


def refused(call: Any) -> int:
    """The HTTP status with which the API server refuses ``call`` (which must fail)."""
    with pytest.raises(ApiError) as err:
        call()
    return int(err.value.status.code)


def run_the_job(cluster: Cluster, namespace: str, plan: str, action: str) -> None:
    """Wait for the plan's Job action to start, then play the Job controller's verdict: Complete."""
    wait_status(cluster, namespace, plan, f"the Job action {action} to start",
                lambda s: by_name(s.get("actions", [])).get(action, {}).get("state") == "Running")
    job = wait_for("the Job", lambda: jobs_of(cluster, namespace, action))[0]
    complete(cluster, namespace, job.metadata.name)


def given_a_restored_shop(cluster: Cluster, ns: str) -> None:
    """Held services a <- b, a Lease held by a pod that is gone, lag and routing ConfigMaps, a weighted Service."""
    given_running_pods(cluster, ns, gated_service("a", 2) + gated_service("b", 2), 4)
    config = {"db-lag": {"lag": "0"}, "routing": {"mode": "degraded"}, "retry-policy": {"budget": "0"}}
    for name, data in config.items():
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name=name), data=data), namespace=ns)
    apply_docs(cluster, ns, [
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader"},
         "spec": {"holderIdentity": "a-from-before-the-outage-0", "leaseDurationSeconds": 15}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "annotations": {WEIGHT: "0"}},
         "spec": {"selector": {"app": "b"}, "ports": [{"port": 80}]}}])


def the_drill() -> dict[str, Any]:
    lag = {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag", "path": ".data.lag", "max": 1}
    return recovery_plan(
        PLAN, [service_entry("a", release={"batch": 1, "interval": "1s"}), service_entry("b", ("a",))],
        restorationBudget="30m",
        technicalRecovery={"checks": [{"name": "db-up", "resource": lag}]},
        identity={"actions": [{"name": "drop-stale-leader", "releaseLeases": {"names": ["leader"]}}],
                  "checks": [{"name": "no-stale-leader", "leases": {"names": ["leader"]}, "onNoData": "Pass"}]},
        state={"actions": [
            {"name": "warm-cache", "job": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "warm", "image": PAUSE}]}}}}},
            {"name": "routing-restored", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "routing",
                                                  "patch": {"data": {"mode": "restored"}}}}],
            "checks": [{"name": "replica-lag", "resource": lag}]},
        traffic={"steps": [{"weight": 50}, {"weight": 100}], "targets": [
            {"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}},
            {"annotation": {"apiVersion": "v1", "kind": "Service", "name": "shop", "key": WEIGHT,
                            "from": 0, "to": 100}}]},
        validation={"checks": [
            {"name": "b-available", "workload": {"kind": "Deployment", "name": "b"}},
            {"name": "b-endpoints", "endpoints": {"service": "b", "minReady": 2}}]})


def test_a_drill_runs_green_under_the_charts_rbac(cluster: Cluster, namespace: str, installed: Any, tmp_path: Path):
    docs, release_ns = installed
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    kubeconfig = token_kubeconfig(cluster, account, release_ns, tmp_path / "operator.kubeconfig")

    # The token is the ServiceAccount's, and the API server authorizes it with RBAC
    whoami = as_operator(cluster, kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == f"system:serviceaccount:{release_ns}:{account}", whoami.stderr
    print("\n" + as_operator(cluster, kubeconfig, "auth", "can-i", "--list", "-n", namespace).stdout, file=sys.stderr)

    # Given a restored shop held back by its gates, and the operator running as the chart runs it
    given_a_restored_shop(cluster, namespace)
    log = tmp_path / "operator.log"
    wait_granted(cluster, kubeconfig, namespace)
    with operator_as(cluster, docs, kubeconfig, log) as (_, health):
        # When the drill runs (the test plays the Job controller's verdict)
        apply_docs(cluster, namespace, [the_drill()])
        run_the_job(cluster, namespace, PLAN, "warm-cache")
        final = wait_phase(cluster, namespace, PLAN, "Restored", timeout=120)

        # Then every part of the role was used, and worked
        assert released_count(cluster, namespace) == 4
        assert final["traffic"]["weight"] == 100
        assert not list(cluster.client.list(Lease, namespace=namespace))
        assert cluster.client.get(ConfigMap, "routing", namespace=namespace).data == {"mode": "restored"}
        assert cluster.client.get(ConfigMap, "retry-policy", namespace=namespace).data == {"budget": "20"}
        annotations = cluster.client.get(Service, "shop", namespace=namespace).metadata.annotations
        assert annotations is not None and annotations[WEIGHT] == "100"
        assert "Restored" in {reason for reason, _ in events(cluster, namespace, PLAN)}
        assert healthy(health)
        assert_never_refused(log)


def test_a_target_the_role_may_read_but_not_watch_is_read_by_asking(cluster: Cluster, namespace: str,
                                                                     tmp_path: Path):
    # Given a rule for an annotation target on ServiceAccounts that grants get and patch, not watch
    rules = [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "patch"]}]
    given_running_pods(cluster, namespace, gated_service("a", 1), 1)
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "edge", "annotations": {WEIGHT: "0"}}}])
    ramp = {"steps": [{"weight": 50, "hold": "1s"}, {"weight": 100}], "targets": [{"annotation": {
        "apiVersion": "v1", "kind": "ServiceAccount", "name": "edge", "key": WEIGHT, "from": 0, "to": 100}}]}
    with install(cluster, {"rbac": {"extraRules": rules}}) as (docs, release_ns):
        account = one(docs, "ServiceAccount")["metadata"]["name"]
        kubeconfig = token_kubeconfig(cluster, account, release_ns, tmp_path / "operator.kubeconfig")
        wait_granted(cluster, kubeconfig, namespace)
        log = tmp_path / "operator.log"
        with operator_as(cluster, docs, kubeconfig, log):
            # When the ramp runs
            apply_docs(cluster, namespace, [recovery_plan(PLAN, [service_entry("a")], traffic=ramp)])
            # Then it completes all the same, the target read by asking, and the refusal logged once
            final = wait_phase(cluster, namespace, PLAN, "Restored", timeout=60)
    assert [h["weight"] for h in final["traffic"]["history"]] == [50, 100]
    edge = as_dict(cluster.kubectl("get", "serviceaccount", "edge", "-o", "json", namespace=namespace).stdout)
    assert edge["metadata"]["annotations"][WEIGHT] == "100"
    warnings = [line for line in log.read_text().splitlines() if "following ServiceAccount edge" in line]
    assert len(warnings) == 1 and "403" in warnings[0], warnings


def as_dict(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_calls_outside_the_role_are_refused(cluster: Cluster, namespace: str, installed: Any, tmp_path: Path):
    docs, release_ns = installed
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    kubeconfig = token_kubeconfig(cluster, account, release_ns, tmp_path / "operator.kubeconfig")
    apply_docs(cluster, namespace, gated_service("victim"))
    cluster.client.create(Secret(metadata=ObjectMeta(name="db-password"), stringData={"password": "s3cret"}),
                          namespace=namespace)
    client = Client(config=KubeConfig.from_file(kubeconfig), field_manager="outsider")

    # What the operator never does is refused by the API server with 403
    assert refused(lambda: client.delete(Deployment, "victim", namespace=namespace)) == 403
    assert refused(lambda: list(client.list(Secret, namespace="kube-system"))) == 403
    assert refused(lambda: list(client.list(Secret, namespace=namespace))) == 403
    assert refused(lambda: client.create(ClusterRoleBinding.from_dict({
        "metadata": {"name": f"escalate-{release_ns}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": release_ns}]}))) == 403
    assert refused(lambda: client.delete(Service, "victim", namespace=namespace)) == 403
    assert refused(lambda: client.create(ConfigMap(metadata=ObjectMeta(name="planted")), namespace=namespace)) == 403

    # kubectl auth can-i agrees, for the same calls and the ones the role does grant
    def can(*args: str) -> str:
        return as_operator(cluster, kubeconfig, "auth", "can-i", *args).stdout.strip()

    assert can("delete", "deployments", "-n", namespace) == "no"
    assert can("list", "secrets", "-n", "kube-system") == "no"
    assert can("create", "pods", "-n", namespace) == "no"
    assert can("delete", "pods", "-n", namespace) == "no"
    assert can("patch", "pods", "-n", namespace) == "no"
    assert can("update", "recoveryplans.reentry.dev", "-n", namespace) == "no"
    assert can("patch", "pods", "--subresource=status", "-n", namespace) == "yes"
    assert can("get", "secrets", "-n", namespace) == "yes"  # by name only: listing was refused above
    assert can("delete", "leases.coordination.k8s.io", "-n", namespace) == "yes"


# ---- namespace-scoped mode (watchNamespaces) ------------------------------------------------------

SMALL_PLAN = "scoped-drill"


@pytest.fixture
def elsewhere(cluster: Cluster) -> Iterator[str]:
    """Namespace B: one the chart does not watch. Solo-prefixed, so no session operator acts there either."""
    name = f"{SOLO_PREFIX}elsewhere-{uuid.uuid4().hex[:5]}"
    cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    cluster.client.delete(Namespace, name)


def a_small_drill(name: str) -> dict[str, Any]:
    """One gated service, a check, a Job, a configMapKey traffic target: enough to use every namespaced rule kind."""
    lag = {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag", "path": ".data.lag", "max": 1}
    return recovery_plan(
        name, [service_entry("a", release={"batch": 1, "interval": "1s"})],
        restorationBudget="30m",
        technicalRecovery={"checks": [{"name": "db-up", "resource": lag}]},
        state={"actions": [{"name": "warm-cache", "job": {"spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "warm", "image": PAUSE}]}}}}}]},
        traffic={"steps": [{"weight": 50}, {"weight": 100}], "targets": [
            {"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}}]},
        validation={"checks": [{"name": "a-available", "workload": {"kind": "Deployment", "name": "a"}}]})


def given_a_small_shop(cluster: Cluster, ns: str) -> None:
    """Service a (two pods held by their gate), its lag and retry-policy ConfigMaps."""
    given_running_pods(cluster, ns, gated_service("a", 2), 2)
    for name, data in {"db-lag": {"lag": "0"}, "retry-policy": {"budget": "0"}}.items():
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name=name), data=data), namespace=ns)


def untouched(cluster: Cluster, ns: str, plan: str) -> bool:
    """No status, no finalizer and no annotation of the operator's on the plan; no pod released."""
    meta = cluster.client.get(RecoveryPlanResource, plan, namespace=ns).metadata
    assert meta is not None
    annotations = meta.annotations or {}
    return (not plan_status(cluster, ns, plan) and not meta.finalizers
            and not any("reentry.dev" in key or "kopf" in key for key in annotations)
            and released_count(cluster, ns) == 0)


@pytest.mark.parametrize("cluster_scoped_calls", [True, False], ids=["with-cluster-scoped-calls", "namespaced-only"])
def test_namespace_scoped_mode_runs_a_drill_in_its_namespace_and_nothing_beyond(
        cluster: Cluster, solo_namespace: str, elsewhere: str, tmp_path: Path, cluster_scoped_calls: bool) -> None:
    watched = solo_namespace
    # Given the chart installed to watch only `watched`: a Role there (and the small ClusterRole, by default)
    values = {"watchNamespaces": [watched], "rbac": {"clusterScopedCalls": cluster_scoped_calls}}
    with install(cluster, values) as (docs, release_ns):
        assert len(of_kind(operators(docs), "ClusterRole")) == int(cluster_scoped_calls)
        assert {(d["kind"], d["metadata"].get("namespace")) for d in operators(docs)
                if d["kind"] in ("Role", "RoleBinding")} == {("Role", watched), ("RoleBinding", watched)}
        args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--namespace={watched}" in args and not any(a in ("-A", "--all-namespaces") for a in args)
        account = one(docs, "ServiceAccount")["metadata"]["name"]
        kubeconfig = token_kubeconfig(cluster, account, release_ns, tmp_path / "operator.kubeconfig")
        print("\n" + as_operator(cluster, kubeconfig, "auth", "can-i", "--list", "-n", watched).stdout,
              file=sys.stderr)

        # And the same shop, with a plan of its own, in a namespace the chart does not watch
        given_a_small_shop(cluster, watched)
        given_a_small_shop(cluster, elsewhere)
        apply_docs(cluster, elsewhere, [a_small_drill(SMALL_PLAN)])

        log = tmp_path / "operator.log"
        started = time.monotonic()
        wait_granted(cluster, kubeconfig, watched)
        with operator_as(cluster, docs, kubeconfig, log) as (_, health):
            # When a drill runs in the watched namespace
            apply_docs(cluster, watched, [a_small_drill(SMALL_PLAN)])
            run_the_job(cluster, watched, SMALL_PLAN, "warm-cache")
            final = wait_phase(cluster, watched, SMALL_PLAN, "Restored", timeout=120)
            print(f"\nnamespace-scoped drill (clusterScopedCalls={cluster_scoped_calls}) Restored "
                  f"{time.monotonic() - started:.1f}s after the operator started", file=sys.stderr)

            # Then it ran green under the namespaced role
            assert released_count(cluster, watched) == 2
            assert final["traffic"]["weight"] == 100
            assert cluster.client.get(ConfigMap, "retry-policy", namespace=watched).data == {"budget": "20"}
            assert "Restored" in {reason for reason, _ in events(cluster, watched, SMALL_PLAN)}

            # And the plan elsewhere, there since before the operator started, is never touched
            stays("the unwatched plan untouched", lambda: untouched(cluster, elsewhere, SMALL_PLAN), 3)
            assert cluster.client.get(ConfigMap, "retry-policy", namespace=elsewhere).data == {"budget": "0"}
            assert healthy(health)
            # With exact namespace names the operator does not scan namespaces and CRDs, so even without
            # the small ClusterRole nothing it asks for is refused.
            assert_never_refused(log)

        # And with the operator's own token, the calls it makes in `watched` are refused elsewhere (403)
        client = Client(config=KubeConfig.from_file(kubeconfig), field_manager="outsider")
        pod = str(next(iter(cluster.client.list(Pod, namespace=elsewhere))).metadata.name)  # type: ignore[union-attr]
        gate = {"status": {"conditions": [{"type": READINESS_GATE, "status": "True"}]}}
        assert refused(lambda: client.patch(Pod.Status, pod, gate, namespace=elsewhere)) == 403
        assert refused(lambda: list(client.list(Pod, namespace=elsewhere))) == 403
        assert refused(lambda: client.get(ConfigMap, "retry-policy", namespace=elsewhere)) == 403
        assert refused(lambda: client.patch(ConfigMap, "retry-policy", {"data": {"budget": "20"}},
                                            namespace=elsewhere)) == 403
        assert refused(lambda: client.create(Event(
            metadata=ObjectMeta(generateName="reentry-"), reason="Restored", message="not here",
            involvedObject=ObjectReference(kind="RecoveryPlan", name=SMALL_PLAN, namespace=elsewhere)),
            namespace=elsewhere)) == 403
        assert refused(lambda: list(client.list(RecoveryPlanResource, namespace=elsewhere))) == 403
        assert refused(lambda: client.patch(RecoveryPlanResource.Status, SMALL_PLAN, {"status": {"phase": "Restored"}},
                                            namespace=elsewhere)) == 403
        assert refused(lambda: list(client.list(Pod, namespace=ALL_NS))) == 403  # not cluster-wide either
        assert untouched(cluster, elsewhere, SMALL_PLAN)
