"""GitOps conventions on the sandbox: kstatus conditions that `kubectl wait` and the Argo CD health check read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lupa import lua51

from tests.e2e.conftest import Cluster, Operator, apply_docs
from tests.e2e.story import gated_service, given_running_pods, recovery_plan, service_entry

#: The conditions kstatus readers and `kubectl wait` look at.
KSTATUS = ("Ready", "Progressing", "Stalled")
HEALTH_LUA = Path(__file__).resolve().parents[2] / "deploy" / "argocd" / "health.lua"


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


def test_kubectl_wait_for_ready_returns_once_the_plan_is_restored(cluster: Cluster, operator: Operator,
                                                                  namespace: str):
    # Given a restored service held back by its readiness gate
    given_running_pods(cluster, namespace, gated_service("auth"), 1)
    # When a pipeline applies the plan and waits for Ready, as a kstatus reader does
    apply_docs(cluster, namespace, [recovery_plan("gitops", [service_entry("auth")])])
    waited = cluster.kubectl("wait", "--for=condition=Ready", "rplan/gitops", "--timeout=90s",
                             namespace=namespace, check=False)
    # Then the wait succeeds, with the conditions written for the current generation
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "gitops")
    generation = obj["metadata"]["generation"]
    assert obj["status"]["phase"] == "Restored"
    assert obj["status"]["observedGeneration"] == generation
    found = conditions(obj)
    assert {t: found[t]["status"] for t in KSTATUS} == {"Ready": "True", "Progressing": "False", "Stalled": "False"}
    assert {t: found[t]["observedGeneration"] for t in KSTATUS} == dict.fromkeys(KSTATUS, generation)
    assert argocd_health(obj) == "Healthy"

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
    assert argocd_health(obj) == "Healthy"


def test_a_plan_with_a_cycle_is_stalled(cluster: Cluster, operator: Operator, namespace: str):
    # Given a plan whose services depend on each other in a circle
    services = [service_entry("auth", ("orders",)), service_entry("orders", ("auth",))]
    # When it is applied
    apply_docs(cluster, namespace, [recovery_plan("circular", services)])
    # Then kstatus readers see Stalled=True with the cycle named, and Argo CD shows it Degraded
    waited = cluster.kubectl("wait", "--for=condition=Stalled", "rplan/circular", "--timeout=60s",
                             namespace=namespace, check=False)
    assert waited.returncode == 0, waited.stderr
    obj = plan_object(cluster, namespace, "circular")
    found = conditions(obj)
    assert found["Stalled"]["reason"] == "InvalidSpec"
    assert "dependsOn cycle" in found["Stalled"]["message"]
    assert found["Ready"]["status"] == "False"
    assert found["Stalled"]["observedGeneration"] == obj["metadata"]["generation"]
    assert argocd_health(obj) == "Degraded"
    # And waiting for Ready on it fails rather than hanging a pipeline forever
    not_ready = cluster.kubectl("wait", "--for=condition=Ready", "rplan/circular", "--timeout=2s",
                                namespace=namespace, check=False)
    assert not_ready.returncode != 0
