"""GitOps conventions on the sandbox: what `kubectl wait`, kstatus, Flux and Argo CD make of a plan.

Each reader is the real one: kstatus (sigs.k8s.io/cli-utils) and Flux's healthCheckExprs evaluator
(github.com/fluxcd/pkg/runtime/cel) are built from tests/e2e/readers with Go, as the sandbox builds
its binaries; the Argo CD check is deploy/argocd/health.lua on a real Lua 5.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from tests.e2e.conftest import Cluster, Operator, apply_docs
from tests.e2e.story import gated_service, given_running_pods, recovery_plan, service_entry
from tests.e2e.test_stages import lag_check, set_lag

#: The conditions kstatus readers and `kubectl wait` look at.
KSTATUS = ("Ready", "Progressing", "Stalled")
ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "deploy" / "argocd" / "health.lua"
READERS_SOURCE = Path(__file__).resolve().parent / "readers"


@pytest.fixture(scope="session")
def readers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The readers command, built once per session (seconds once Go's build cache holds its packages)."""
    go = shutil.which("go")
    assert go, "Go is needed to build the GitOps readers (it also builds the sandbox)"
    binary = tmp_path_factory.mktemp("readers") / "readers"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    built = subprocess.run([go, "build", "-trimpath", "-o", str(binary), "."], cwd=READERS_SOURCE, env=env,
                           capture_output=True, text=True, timeout=540, check=False)
    assert built.returncode == 0, built.stderr
    yield binary


def flux_expressions() -> tuple[str, str]:
    """The RecoveryPlan's healthCheckExprs (current, failed) exactly as docs/gitops.md gives them."""
    doc = (ROOT / "docs" / "gitops.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL):
        body = yaml.safe_load(block)
        if body.get("kind") == "Kustomization":
            exprs = next(e for e in body["spec"]["healthCheckExprs"] if e["kind"] == "RecoveryPlan")
            return exprs["current"], exprs["failed"]
    raise AssertionError("docs/gitops.md has no Kustomization with healthCheckExprs")


def judged(binary: Path, obj: dict[str, Any]) -> dict[str, str]:
    """What each GitOps reader makes of the object: kstatus, Flux's expressions and Argo CD's health check."""
    def run(*args: str) -> str:
        ran = subprocess.run([str(binary), *args], input=json.dumps(obj), capture_output=True, text=True,
                             check=True)
        return str(json.loads(ran.stdout)["status"])

    return {"kstatus": run("kstatus"), "flux": run("flux", *flux_expressions()), "argocd": argocd_health(obj)}


def plan_object(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """The plan exactly as a GitOps controller reads it from the API server."""
    body: dict[str, Any] = json.loads(cluster.kubectl("get", f"rplan/{name}", "-o", "json", namespace=namespace).stdout)
    return body


def argocd_health(obj: dict[str, Any]) -> str:
    """What Argo CD would show for the object, from the health check in deploy/argocd (Lua 5.1)."""
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    return str(lua.execute(HEALTH_LUA.read_text())["status"])


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


@pytest.mark.timeout(600)  # the first build of the readers compiles the Kubernetes client libraries
def test_kubectl_wait_for_ready_returns_once_the_plan_is_restored(cluster: Cluster, operator: Operator,
                                                                  namespace: str, readers: Path):
    # Given a restored service held back by its readiness gate, and a replica still lagging
    given_running_pods(cluster, namespace, gated_service("auth"), 1)
    set_lag(cluster, namespace, "5")
    # When a pipeline applies the plan
    apply_docs(cluster, namespace, [recovery_plan("gitops", [service_entry("auth")], state={"checks": [lag_check()]})])
    # Then while it waits for the replica every reader sees it in progress
    waited = cluster.kubectl("wait", "--for=condition=Progressing", "rplan/gitops", "--timeout=60s",
                             namespace=namespace, check=False)
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "gitops")
    assert obj["status"]["phase"] == "StateReconciliation"
    assert judged(readers, obj) == {"kstatus": "InProgress", "flux": "InProgress", "argocd": "Progressing"}
    # Before the operator's first status only plain kstatus calls the plan done (docs/gitops.md)
    unseen = {k: v for k, v in obj.items() if k != "status"}
    assert judged(readers, unseen) == {"kstatus": "Current", "flux": "Error", "argocd": "Progressing"}

    # When the replica catches up, `kubectl wait --for=condition=Ready` returns
    set_lag(cluster, namespace, "0")
    waited = cluster.kubectl("wait", "--for=condition=Ready", "rplan/gitops", "--timeout=90s",
                             namespace=namespace, check=False)
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "gitops")
    generation = obj["metadata"]["generation"]
    assert obj["status"]["phase"] == "Restored"
    assert obj["status"]["observedGeneration"] == generation
    found = conditions(obj)
    assert {t: found[t]["status"] for t in KSTATUS} == {"Ready": "True", "Progressing": "False", "Stalled": "False"}
    assert {t: found[t]["observedGeneration"] for t in KSTATUS} == dict.fromkeys(KSTATUS, generation)
    assert judged(readers, obj) == {"kstatus": "Current", "flux": "Current", "argocd": "Healthy"}
    # An edit not yet evaluated puts every reader back to in progress
    edited = {**obj, "metadata": {**obj["metadata"], "generation": generation + 1}}
    assert judged(readers, edited) == {"kstatus": "InProgress", "flux": "InProgress", "argocd": "Progressing"}

    # When the spec changes, the generation moves and the conditions follow it
    cluster.kubectl("patch", "rplan/gitops", "--type=merge", "-p", '{"spec": {"restorationBudget": "1h"}}',
                    namespace=namespace)
    waited = cluster.kubectl("wait", f"--for=jsonpath={{.status.observedGeneration}}={generation + 1}",
                             "rplan/gitops", "--timeout=60s", namespace=namespace, check=False)
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "gitops")
    assert obj["metadata"]["generation"] == generation + 1
    found = conditions(obj)
    assert {t: found[t]["observedGeneration"] for t in KSTATUS} == dict.fromkeys(KSTATUS, generation + 1)
    assert judged(readers, obj) == {"kstatus": "Current", "flux": "Current", "argocd": "Healthy"}


@pytest.mark.timeout(600)
def test_a_plan_with_a_cycle_is_stalled(cluster: Cluster, operator: Operator, namespace: str, readers: Path):
    # Given a plan whose services depend on each other in a circle
    services = [service_entry("auth", ("orders",)), service_entry("orders", ("auth",))]
    # When it is applied
    apply_docs(cluster, namespace, [recovery_plan("circular", services)])
    # Then kstatus readers see Stalled=True with the cycle named, and every GitOps reader a failure
    waited = cluster.kubectl("wait", "--for=condition=Stalled", "rplan/circular", "--timeout=60s",
                             namespace=namespace, check=False)
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "circular")
    found = conditions(obj)
    assert found["Stalled"]["reason"] == "InvalidSpec"
    assert "dependsOn cycle" in found["Stalled"]["message"]
    assert found["Ready"]["status"] == "False"
    assert found["Stalled"]["observedGeneration"] == obj["metadata"]["generation"]
    assert judged(readers, obj) == {"kstatus": "Failed", "flux": "Failed", "argocd": "Degraded"}
    # And waiting for Ready on it fails rather than hanging a pipeline forever
    not_ready = cluster.kubectl("wait", "--for=condition=Ready", "rplan/circular", "--timeout=2s",
                                namespace=namespace, check=False)
    assert not_ready.returncode != 0
