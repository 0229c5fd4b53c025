"""The Argo CD health check (deploy/argocd/health.lua) on a real Lua 5.1, against what the operator writes.

Argo CD runs health checks in gopher-lua, a Lua 5.1. The plan objects here carry statuses the
engine produced (``reconcile.evaluate`` fed with observations), dumped the way ``kube.py`` writes
them, so the check is tested against real status shapes, not hand-written ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from reentry.engine.observations import ApprovalNote, Controls
from reentry.model import API_VERSION, KIND, Phase, RecoveryPlanSpec, RecoveryPlanStatus
from tests.unit.builders import Drill, failing, passing, plan

ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "deploy" / "argocd" / "health.lua"
DOC = ROOT / "docs" / "gitops.md"
LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the health check on ``obj`` the way Argo CD does: ``obj`` is a global, the script returns a table."""
    lua = lua51.LuaRuntime()
    assert lua.eval("_VERSION") == "Lua 5.1"
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_LUA.read_text())
    return result["status"], result["message"]


def as_object(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None, generation: int = 1) -> dict[str, Any]:
    """The plan as the API server returns it, with the status serialised like kube.py writes it."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION, "kind": KIND,
        "metadata": {"name": "checkout", "namespace": "shop", "generation": generation},
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    if status is not None:
        body["status"] = status.model_dump(mode="json", exclude_none=True)
    return body


def written(drill: Drill, seconds: float = 1, **observe: Any) -> dict[str, Any]:
    """One more step of the drill; the plan object with the status the operator would write."""
    drill.step(seconds, **observe)
    return as_object(drill.spec, drill.status)


def test_a_plan_without_status_waits_for_the_operator():
    spec = plan({"name": "auth"})
    assert health(as_object(spec, None)) == ("Progressing", "Waiting for the reentry operator to evaluate the plan")


def test_pending_and_armed_are_progressing_with_the_operators_message():
    # Pending lasts only within one evaluation; its status is what for_phase derives for it.
    from reentry.engine import conditions

    spec = plan({"name": "auth"}, start="Manual")
    pending = RecoveryPlanStatus(observedGeneration=1, phase=Phase.PENDING, conditions=conditions.for_phase(
        [], Phase.PENDING, "Pending", 1, "2026-11-23T14:00:00Z"))
    assert health(as_object(spec, pending)) == ("Progressing", "Pending: Pending")

    armed = written(Drill(spec))
    assert armed["status"]["phase"] == "Armed"
    status, message = health(armed)
    assert status == "Progressing"
    assert message == "Armed: armed: waiting for the reentry.dev/start annotation (start: Manual)"


def test_a_running_stage_and_observing_are_progressing():
    drill = Drill(plan({"name": "auth"}, state={"checks": [LAG]}, validation={"observeFor": "10m"}))
    running = written(drill, checks={"replica-lag": failing("5", "max 1")})
    assert running["status"]["phase"] == "StateReconciliation"
    status, message = health(running)
    assert status == "Progressing"
    assert message.startswith("StateReconciliation: state: waiting for replica-lag (Fail: 5")

    observing = {}
    for _ in range(5):
        observing = written(drill, checks={"replica-lag": passing()})
    assert observing["status"]["phase"] == "Observing"
    status, message = health(observing)
    assert status == "Progressing"
    assert "observing until" in message


def test_restored_with_ready_true_is_healthy():
    drill = Drill(plan({"name": "auth"}))
    restored: dict[str, Any] = {}
    for _ in range(4):
        restored = written(drill)
    assert restored["status"]["phase"] == "Restored"
    assert health(restored) == ("Healthy", "operationally restored: every stage passed")

    # Restored without a Ready=True condition is not trusted (e.g. written by a partial update).
    restored["status"]["conditions"] = [c for c in restored["status"]["conditions"] if c["type"] != "Ready"]
    assert health(restored)[0] == "Progressing"


def test_a_status_for_an_older_generation_is_progressing():
    drill = Drill(plan({"name": "auth"}))
    restored: dict[str, Any] = {}
    for _ in range(4):
        restored = written(drill)
    assert health(restored)[0] == "Healthy"
    restored["metadata"]["generation"] = 2  # someone edited the spec; the operator has not seen it yet
    assert health(restored) == ("Progressing", "Waiting for the reentry operator to observe generation 2")

    # The plan's observedGeneration caught up but a stale Ready condition does not make it healthy.
    restored["status"]["observedGeneration"] = 2
    assert health(restored)[0] == "Progressing"


def test_paused_is_suspended():
    drill = Drill(plan({"name": "auth"}, state={"checks": [LAG]}))
    drill.step(checks={"replica-lag": failing()})
    paused = written(drill, controls=Controls(paused=True), checks={"replica-lag": failing()})
    assert paused["status"]["phase"] == "Paused"
    assert health(paused) == ("Suspended", "paused: paused by the reentry.dev/paused annotation")


@pytest.mark.parametrize("how", ["cycle", "timeout", "abort"])
def test_failed_aborted_and_stalled_are_degraded(how: str):
    if how == "cycle":
        spec = plan({"name": "auth", "dependsOn": ["orders"]}, {"name": "orders", "dependsOn": ["auth"]})
        obj = written(Drill(spec))
        phase, cause = "Failed", "dependsOn cycle"
    elif how == "timeout":
        drill = Drill(plan({"name": "auth"}, state={"checks": [{**LAG, "timeout": "30s", "onTimeout": "Fail"}]}))
        drill.step(checks={"replica-lag": failing()})
        obj = written(drill, 60, checks={"replica-lag": failing()})
        phase, cause = "Failed", "state check replica-lag timed out"
    else:
        drill = Drill(plan({"name": "auth"}, state={"checks": [LAG]}))
        drill.step(checks={"replica-lag": failing()})
        obj = written(drill, controls=Controls(abort_reason="primary corrupt"), checks={"replica-lag": failing()})
        phase, cause = "Aborted", "aborted: primary corrupt"
    assert obj["status"]["phase"] == phase
    stalled = next(c for c in obj["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True"
    status, message = health(obj)
    assert status == "Degraded"
    assert message.startswith(f"{phase}: ") and cause in message


def test_stalled_true_alone_is_degraded():
    """A Stalled=True condition wins over a phase the check would otherwise read as progressing."""
    drill = Drill(plan({"name": "auth"}, state={"checks": [LAG]}))
    obj = written(drill, checks={"replica-lag": failing()})
    for c in obj["status"]["conditions"]:
        if c["type"] == "Stalled":
            c.update(status="True", message="a newer operator's reason")
    assert health(obj) == ("Degraded", "StateReconciliation: a newer operator's reason")


def test_approval_pending_is_still_progressing():
    drill = Drill(plan({"name": "auth"}, validation={"approval": {"required": True}}))
    obj: dict[str, Any] = {}
    for _ in range(4):
        obj = written(drill)
    assert obj["status"]["phase"] == "Validating"
    assert health(obj)[0] == "Progressing"
    for _ in range(2):
        obj = written(drill, controls=Controls(approval=ApprovalNote(by="alice")))
    assert health(obj)[0] == "Healthy"


def test_the_docs_carry_the_health_check_verbatim():
    """docs/gitops.md shows the Lua and the argocd-cm entry; both must be the file the tests run."""
    doc = DOC.read_text()
    lua = HEALTH_LUA.read_text()
    blocks = re.findall(r"```lua\n(.*?)```", doc, re.DOTALL)
    assert blocks == [lua]
    configs = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)]
    argocd_cm = next(c for c in configs if c.get("kind") == "ConfigMap" and c["metadata"]["name"] == "argocd-cm")
    assert argocd_cm["data"]["resource.customizations.health.reentry.dev_RecoveryPlan"] == lua
