"""`kubectl reentry` on a real drill: the on-call engineer's view and controls, and a pipeline's gate.

The plugin runs as kubectl runs it: `kubectl reentry ...` through the sandbox's kubectl, found by
kubectl's plugin discovery on PATH (the sandbox's bin/ holds `kubectl-reentry`).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from reentry.kube import RecoveryPlanResource
from tests.e2e.conftest import Cluster, Operator, apply_docs, wait_for
from tests.e2e.story import gated_service, given_running_pods, plan_status, recovery_plan, service_entry, wait_phase

RUNNING, RESTORED, FAILED = 2, 0, 1
LAG_CHECK = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag",
                                                 "path": ".data.lag", "max": 1}}


def plugin_env(cluster: Cluster) -> dict[str, str]:
    """The cluster's env with the sandbox's bin/ (kubectl, kubectl-reentry) and this venv first on PATH."""
    dirs = [str(Path(cluster.kubectl_bin).parent), str(Path(sys.executable).parent)]
    return {**cluster.env(), "PATH": os.pathsep.join([*dirs, os.environ.get("PATH", "")])}


def kubectl_reentry(cluster: Cluster, namespace: str, *args: str,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`kubectl reentry ARGS -n NAMESPACE`, piped (so: no colours), as a pipeline would run it."""
    return subprocess.run([cluster.kubectl_bin, "reentry", *args, "-n", namespace], capture_output=True, text=True,
                          env=plugin_env(cluster), timeout=timeout, check=False)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def set_lag(cluster: Cluster, namespace: str, lag: str) -> None:
    cluster.client.patch(ConfigMap, "db-lag", {"data": {"lag": lag}}, namespace=namespace, patch_type=PatchType.MERGE)


def whoami(cluster: Cluster) -> str:
    """The user name the API server gives the sandbox's admin credentials (asked through kubectl)."""
    return cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout.strip()


def line_with(text: str, *words: str) -> str:
    """The one line of the tree that holds all ``words``."""
    found = [line for line in text.splitlines() if all(w in line for w in words)]
    assert found, f"no line with {words} in:\n{text}"
    return found[0]


def test_on_call_follows_starts_and_approves_a_drill_and_the_pipeline_waits_for_restored(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    # Given a restored shop held back, a lagging replica, and a Manual plan that needs the owner's approval
    given_running_pods(cluster, namespace, gated_service("auth") + gated_service("orders"), count=2)
    apply_docs(cluster, namespace, [configmap("db-lag", lag="5"), recovery_plan(
        "failback", [service_entry("auth"), service_entry("orders", ("auth",))], start="Manual",
        restorationBudget="30m", state={"checks": [LAG_CHECK]}, validation={"approval": {"required": True}})])
    wait_phase(cluster, namespace, "failback", "Armed")

    # The plugin is found by kubectl's own plugin discovery
    plugins = subprocess.run([cluster.kubectl_bin, "plugin", "list"], capture_output=True, text=True,
                             env=plugin_env(cluster), check=False).stdout
    assert f"{Path(cluster.kubectl_bin).parent}/kubectl-reentry" in plugins

    armed = kubectl_reentry(cluster, namespace, "status", "failback")
    assert armed.returncode == RUNNING, armed.stderr
    assert "Phase    Armed  armed: waiting for the reentry.dev/start annotation" in armed.stdout

    # When on-call starts it, the tree shows where it is held and why
    started = kubectl_reentry(cluster, namespace, "start", "failback")
    assert started.returncode == 0, started.stderr
    assert "start requested (was Armed)" in started.stdout
    held = wait_phase(cluster, namespace, "failback", "StateReconciliation")
    wait_for("the lag check's first result", lambda: any(
        c.get("result") == "Fail" for c in plan_status(cluster, namespace, "failback").get("checks", [])))
    running = kubectl_reentry(cluster, namespace, "status", "failback")
    assert running.returncode == RUNNING, running.stderr
    tree = running.stdout
    print(tree)
    assert "\x1b[" not in tree  # piped: plain text
    assert f"RecoveryPlan {namespace}/failback  owner payments" in tree
    assert line_with(tree, "identity", "Passed")
    assert line_with(tree, "state", "Running", "so far")
    assert line_with(tree, "state/replica-lag", "Fail", "5", "max 1", "ThresholdMissed")
    assert line_with(tree, "auth", "Held", "0/1 pods released", "0 ready endpoints")
    assert line_with(tree, "orders", "Held", "waiting for auth")
    assert line_with(tree, "Elapsed", "of 30m restoration budget")
    assert "Approval  required from payments, not given yet" in tree
    assert held["technicalRecoveryAt"]

    listing = kubectl_reentry(cluster, namespace, "list")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[1].split()[:4] == ["failback", namespace, "StateReconciliation", "state"]

    # A watcher redraws as the plan moves and ends with the plan
    watcher = subprocess.Popen([cluster.kubectl_bin, "reentry", "status", "failback", "-w", "--timeout", "90s",
                                "-n", namespace], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=plugin_env(cluster))
    first_render = []
    try:
        assert watcher.stdout is not None
        # The watcher has drawn the held plan before anything moves (pytest's timeout bounds this read).
        while not first_render or not first_render[-1].startswith("Phase"):
            first_render.append(watcher.stdout.readline())
        assert first_render[-1].startswith("Phase    StateReconciliation")
        # Then the replica catches up, and the plan waits at the finish line for the owner
        set_lag(cluster, namespace, "0")
        wait_for("the finish line", lambda: "waiting for approval" in (
            plan_status(cluster, namespace, "failback").get("message") or ""))
        approved = kubectl_reentry(cluster, namespace, "approve", "failback", "--comment", "dashboards clean")
        assert approved.returncode == 0, approved.stderr
        user = whoami(cluster)
        assert user and f"approved by {user}" in approved.stdout

        # The pipeline's gate: --wait exits 0 at Restored
        gate = kubectl_reentry(cluster, namespace, "status", "failback", "--wait", "--timeout", "90s")
        assert gate.returncode == RESTORED, gate.stdout + gate.stderr
        assert "Phase    Restored" in gate.stdout
        assert f"Approval  approved by {user} at " in gate.stdout and gate.stdout.rstrip().endswith(
            ": dashboards clean")
        watched, _ = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == RESTORED
    watched = "".join(first_render) + watched
    assert watched.count("RecoveryPlan ") >= 3  # held, ..., at the finish line, restored
    assert "Phase    Validating  validation: waiting for approval" in watched
    assert watched.rstrip().splitlines()[-1].startswith("└─ Approval  approved by")

    # The approver recorded in status is the identity the API server reported, not a typed-in name
    approval = plan_status(cluster, namespace, "failback")["approval"]
    assert approval["by"] == user
    assert approval["comment"] == "dashboards clean"


def test_failed_and_aborted_plans_exit_1_and_a_wait_that_times_out_exits_2(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    given_running_pods(cluster, namespace, gated_service("auth"), count=1)
    apply_docs(cluster, namespace, [
        recovery_plan("cyclic", [service_entry("auth", ("auth",))]),
        recovery_plan("held", [service_entry("auth")], start="Manual"),
    ])
    failed = kubectl_reentry(cluster, namespace, "status", "cyclic", "--wait", "--timeout", "60s")
    assert failed.returncode == FAILED, failed.stdout + failed.stderr
    assert "Phase    Failed  dependsOn cycle: auth -> auth" in failed.stdout

    wait_phase(cluster, namespace, "held", "Armed")
    timed_out = kubectl_reentry(cluster, namespace, "status", "held", "--wait", "--timeout", "2s")
    assert timed_out.returncode == RUNNING
    assert "held: timed out after 2s in phase Armed" in timed_out.stderr

    aborted = kubectl_reentry(cluster, namespace, "abort", "held", "--reason", "rolled back to DR")
    assert aborted.returncode == 0, aborted.stderr
    gate = kubectl_reentry(cluster, namespace, "status", "held", "--wait", "--timeout", "60s")
    assert gate.returncode == FAILED, gate.stdout + gate.stderr
    assert "Phase    Aborted  aborted: rolled back to DR" in gate.stdout

    missing = kubectl_reentry(cluster, namespace, "status", "nope")
    assert missing.returncode == 3
    assert f'recoveryplan "nope" not found in namespace {namespace}' in missing.stderr


def test_pause_resume_and_an_override_on_record(cluster: Cluster, namespace: str, operator: Operator) -> None:
    given_running_pods(cluster, namespace, gated_service("auth"), count=1)
    apply_docs(cluster, namespace, [configmap("db-lag", lag="7"), recovery_plan(
        "failback", [service_entry("auth")], state={"checks": [LAG_CHECK]})])
    wait_phase(cluster, namespace, "failback", "StateReconciliation")

    assert kubectl_reentry(cluster, namespace, "pause", "failback").returncode == 0
    paused = wait_phase(cluster, namespace, "failback", "Paused")
    assert paused["pausedFrom"] == "StateReconciliation"
    resumed = kubectl_reentry(cluster, namespace, "resume", "failback")
    assert resumed.returncode == 0 and "pause annotation removed" in resumed.stdout
    wait_phase(cluster, namespace, "failback", "StateReconciliation")

    reason = "lag metric broken since the restore, verified by hand"
    first = kubectl_reentry(cluster, namespace, "override", "failback", "replica-lag", "--reason", reason)
    assert first.returncode == 0, first.stderr
    again = kubectl_reentry(cluster, namespace, "override", "failback", "replica-lag", "--reason", "twice")
    assert again.returncode == 0 and "already overridden; unchanged" in again.stdout
    unknown = kubectl_reentry(cluster, namespace, "override", "failback", "replica-lagg", "--reason", "typo")
    assert unknown.returncode == 3 and "plan has no check 'replica-lagg' (checks: replica-lag)" in unknown.stderr
    spec = cluster.client.get(RecoveryPlanResource, "failback", namespace=namespace).spec
    assert spec["overrides"] == [{"check": "replica-lag", "reason": reason}]

    gate = kubectl_reentry(cluster, namespace, "status", "failback", "--wait", "--timeout", "60s")
    assert gate.returncode == RESTORED, gate.stdout + gate.stderr
    assert line_with(gate.stdout, "state/replica-lag", "Fail", "overridden: " + reason)


def test_the_plugin_reads_kubeconfig_as_kubectl_does_lists_contexts_and_exec_plugins(
        cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    apply_docs(cluster, namespace, [recovery_plan("seen", [service_entry("api")])])
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    admin_context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster_entry = next(c for c in admin["clusters"] if c["name"] == admin_context["context"]["cluster"])

    # A KUBECONFIG list, as kubectl merges it: the first file holds only an on-call context (the
    # current one) naming this namespace; the second is the admin config, its certificates given by
    # paths relative to that second file.
    second_dir = tmp_path / "admin"
    second_dir.mkdir()
    relative = copy.deepcopy(admin)
    for section, key, fields in (("clusters", "cluster", ("certificate-authority",)),
                                 ("users", "user", ("client-certificate", "client-key"))):
        for entry in relative[section]:
            for field in fields:
                if field in entry[key]:
                    source = Path(entry[key][field])
                    shutil.copy(source, second_dir / source.name)
                    entry[key][field] = source.name
    (second_dir / "config").write_text(yaml.safe_dump(relative))
    first = tmp_path / "on-call"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "on-call", "contexts": [
        {"name": "on-call", "context": {**admin_context["context"], "namespace": namespace}}]}))
    env = {**plugin_env(cluster), "KUBECONFIG": os.pathsep.join([str(tmp_path / "absent"), str(first),
                                                                  str(second_dir / "config")])}

    def plugin(*args: str, environ: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cluster.kubectl_bin, "reentry", *args], capture_output=True, text=True, env=environ,
                              timeout=60, check=False, cwd=tmp_path)

    merged = plugin("list")
    assert merged.returncode == 0, merged.stderr
    assert "seen" in merged.stdout  # the namespace of the first file's context, the credentials of the second
    # --context picks a context of the second file (its namespace, default, has no plan)
    other = plugin("list", "--context", admin_context["name"])
    assert other.returncode == 0 and "seen" not in other.stdout, other.stdout + other.stderr

    # An exec credential plugin of client.authentication.k8s.io/v1 gives a ServiceAccount's token;
    # its first answer is a token the API server refuses, so the plugin must ask again on the 401.
    apply_docs(cluster, namespace, [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "viewer"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "plan-viewer"},
         "rules": [{"apiGroups": ["reentry.dev"], "resources": ["recoveryplans"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "plan-viewer"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "plan-viewer"},
         "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": namespace}]}])
    token = cluster.kubectl("create", "token", "viewer", namespace=namespace).stdout.strip()
    (tmp_path / "token").write_text(token)
    login = tmp_path / "bin" / "login"
    login.parent.mkdir()
    login.write_text(f"#!{sys.executable}\nimport json, os, pathlib\n"
                     f"here = pathlib.Path({str(tmp_path)!r})\n"
                     "runs = here / 'runs'\nn = int(runs.read_text()) + 1 if runs.exists() else 1\n"
                     "runs.write_text(str(n))\n"
                     "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
                     "assert info['spec']['interactive'] is False\n"
                     "token = (here / 'token').read_text() if n > 1 else 'not-a-token'\n"
                     "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',"
                     " 'status': {'token': token}}))\n")
    login.chmod(0o755)
    sso = tmp_path / "sso"
    sso.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sso", "clusters": [cluster_entry],
        "users": [{"name": "sso", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                    "command": "./bin/login", "interactiveMode": "Never"}}}],
        "contexts": [{"name": "sso", "context": {"cluster": cluster_entry["name"], "user": "sso",
                                                 "namespace": namespace}}]}))
    as_viewer = plugin("status", "seen", environ={**env, "KUBECONFIG": str(sso)})
    assert as_viewer.returncode == RUNNING, as_viewer.stderr  # a plan without status yet: still to run
    assert "seen" in as_viewer.stdout and (tmp_path / "runs").read_text() == "2"
    # The same user may not patch the plan: the API server says so, as kubectl would
    refused = plugin("pause", "seen", environ={**env, "KUBECONFIG": str(sso)})
    assert refused.returncode == 3 and "forbidden" in refused.stderr.lower(), refused.stderr
