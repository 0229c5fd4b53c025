"""The record of a drill: a stage held by a lagging replica, a traffic step-back on a failing error
rate, the owner's approval; then `kubectl reentry report` as the incident review would run it, its
times checked against status, and its HTML page opened in a real Chromium to see the timeline drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.e2e.browser import chromium
from tests.e2e.conftest import Cluster, Operator, apply_docs
from tests.e2e.story import gated_service, given_running_pods, recovery_plan, service_entry, wait_phase, wait_status
from tests.e2e.test_plugin import configmap, kubectl_reentry

PLAN = "failback"
LAG = {"name": "replica-lag", "interval": "1s",
       "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db", "path": ".data.lag", "max": 1}}
ERRORS = {"name": "error-rate", "interval": "1s",
          "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "edge", "path": ".data.errors", "max": 0.02}}
BUDGET = {"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 10}}


def set_data(cluster: Cluster, namespace: str, name: str, **data: str) -> None:
    cluster.client.patch(ConfigMap, name, {"data": data}, namespace=namespace, patch_type=PatchType.MERGE)


def history(status: dict) -> list[dict]:
    return (status.get("traffic") or {}).get("history") or []


def test_the_report_of_a_drill_shows_the_held_stage_the_step_back_and_the_approval(
        cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path) -> None:
    # Given a restored service held back, a lagging replica and a plan that ramps a retry budget
    given_running_pods(cluster, namespace, gated_service("auth"), count=1)
    apply_docs(cluster, namespace, [
        configmap("db", lag="5"), configmap("edge", errors="0.001"), configmap("retry-policy", budget="0"),
        recovery_plan(PLAN, [service_entry("auth")], restorationBudget="30m", state={"checks": [LAG]},
                      traffic={"steps": [{"weight": 30, "hold": "2s"}, {"weight": 60, "hold": "4s"},
                                         {"weight": 100}],
                               "targets": [BUDGET], "analysis": [ERRORS], "coolDown": "2s"},
                      validation={"approval": {"required": True}})])

    # When the replica catches up after a while, the error rate breaks out at 60 % and recovers,
    # and the owner approves
    wait_status(cluster, namespace, PLAN, "the lag check failing", lambda s: any(
        c.get("name") == "replica-lag" and c.get("result") == "Fail" for c in s.get("checks") or []))
    set_data(cluster, namespace, "db", lag="0")
    wait_status(cluster, namespace, PLAN, "the ramp at 60 %", lambda s: (s.get("traffic") or {}).get("weight") == 60)
    set_data(cluster, namespace, "edge", errors="0.09")
    wait_status(cluster, namespace, PLAN, "a step back", lambda s: any(
        h["reason"].startswith("step back") for h in history(s)))
    set_data(cluster, namespace, "edge", errors="0.001")
    wait_status(cluster, namespace, PLAN, "the finish line",
                lambda s: "waiting for approval" in (s.get("message") or ""), timeout=120)
    approved = kubectl_reentry(cluster, namespace, "approve", PLAN, "--comment", "error rate back to normal")
    assert approved.returncode == 0, approved.stderr
    status = wait_phase(cluster, namespace, PLAN, "Restored")

    # Then the report says what status says, stage by stage
    answer = kubectl_reentry(cluster, namespace, "report", PLAN, "-o", "json")
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    assert (report["technical_recovery"], report["operational_restoration"]) == (
        status["technicalRecoveryAt"], status["operationallyRestoredAt"])
    stages = {s["name"]: s for s in report["stages"]}
    for stage in status["stages"]:
        assert (stages[stage["name"]]["start"], stages[stage["name"]]["end"]) == (stage["startedAt"],
                                                                                stage["finishedAt"])
    assert any("CheckFailed" in why and "replica-lag" in why for why in stages["state"]["held_by"])
    assert any("TrafficStepBack" in why and "error-rate" in why for why in stages["traffic"]["held_by"])
    assert report["step_backs"] == 1
    assert [w["weight"] for w in report["weights"]] == [h["weight"] for h in history(status)]
    assert report["approval"]["comment"] == "error rate back to normal"
    reasons = [e["reason"] for e in report["timeline"]]
    assert reasons.index("StageStarted") < reasons.index("CheckFailed") < reasons.index("TrafficStepBack") \
        < reasons.index("Approved") < reasons.index("Restored")

    markdown = kubectl_reentry(cluster, namespace, "report", PLAN)
    assert markdown.returncode == 0, markdown.stderr
    assert f"# Re-entry of {namespace}/{PLAN}" in markdown.stdout
    assert "from technical recovery to operational restoration (budget 30m: met)" in markdown.stdout

    # And the HTML page, opened from a file in a real browser, draws the stages and the weight curve
    page = tmp_path / "report.html"
    written = kubectl_reentry(cluster, namespace, "report", PLAN, "-o", "html", "-f", str(page))
    assert written.returncode == 0, written.stderr
    with chromium() as browser:
        drawn = browser.evaluate(page.as_uri(), """JSON.stringify({
            bars: [...document.querySelectorAll('svg rect.bar')].map(r => r.getBBox().width),
            stepBacks: document.querySelectorAll('svg circle.step-back').length,
            curve: document.querySelector('svg polyline.curve').getBBox().width,
            title: document.title})""")
    seen = json.loads(drawn)
    assert seen["title"] == f"Re-entry of {namespace}/{PLAN}"
    assert len(seen["bars"]) == len(status["stages"]) + len(status["services"])
    assert all(width > 0 for width in seen["bars"])
    assert max(seen["bars"]) > 100  # the longest stage spans a good part of the chart
    assert seen["stepBacks"] == 1 and seen["curve"] > 100
