"""``kubectl reentry report`` from a plan's status: a drill with a held stage, a step-back and an
approval, rendered as JSON, Markdown and HTML; the times are the status's own."""

from __future__ import annotations

import json
import re

from reentry.engine.observations import ApprovalNote, Controls, Observations, ServiceObservation, TargetObservation
from reentry.engine.reconcile import evaluate
from reentry.engine.timeutil import parse_time
from reentry.model import Phase
from reentry.plugin import report
from tests.unit.builders import Clock, failing, passing, plan, pods

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}
ERRORS = {"name": "error-rate", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "m", "path": ".data.e",
                                             "max": 0.02}}
ROUTE = {"httpRoute": {"name": "checkout", "restoredBackend": "primary", "fallbackBackend": "dr"}}


def _drill() -> dict:
    """A plan held in state reconciliation for 30 s, stepped back once, approved, Restored."""
    clock, shows = Clock(), {"httpRoute/checkout": 0}
    spec = plan({"name": "auth"}, restorationBudget="10m", state={"checks": [LAG]},
                traffic={"steps": [{"weight": 10, "hold": "5s"}, {"weight": 50, "hold": "5s"}, {"weight": 100}],
                         "targets": [ROUTE], "analysis": [ERRORS], "coolDown": "10s"},
                validation={"approval": {"required": True}})
    status = None

    def step(seconds: float, checks: dict, controls: Controls | None = None) -> None:
        nonlocal status
        weight = status.traffic.weight if status and status.traffic else 0
        targets = {label: TargetObservation(found=True, in_place=shown == weight, effective=True)
                   for label, shown in shows.items()}
        obs = Observations(services={"auth": ServiceObservation(pods("auth", 1, released=[0]), ready_endpoints=1)},
                           controls=controls or Controls(), checks=checks, targets=targets)
        decision = evaluate(spec, 1, status, obs, clock.tick(seconds))
        status = decision.status
        for write in decision.weights:
            shows.update(dict.fromkeys(write.targets, write.weight))

    ok = {"replica-lag": passing("0"), "error-rate": passing("0.001")}
    step(1, {"replica-lag": failing("7", "max 1")})
    step(30, {"replica-lag": failing("3", "max 1")})
    for seconds in (1, 1, 1, 5, 1):
        step(seconds, ok)
    step(1, {**ok, "error-rate": failing("0.09", "max 0.02")})  # at 50 %: step back to 10 %
    for seconds in (1, 10, 1, 5, 1, 5, 1, 5, 1, 1):
        step(seconds, ok)
    step(1, ok, Controls(approval=ApprovalNote(by="alice@example.com", comment="dashboards clean")))
    assert status is not None and status.phase == Phase.RESTORED, status and status.message
    return {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": {"name": "checkout-failback", "namespace": "shop", "creationTimestamp": "2026-11-23T13:59:00Z"},
            "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "status": status.model_dump(mode="json", exclude_none=True)}


PLAN = _drill()
NOW = parse_time("2026-11-23T15:00:00Z")


def test_the_report_holds_the_status_times_and_what_held_each_stage():
    built = report.build(PLAN, NOW)
    status = PLAN["status"]
    by_name = {s.name: s for s in built.stages}
    for stage in status["stages"]:
        span = by_name[stage["name"]]
        assert (span.start, span.end) == (stage["startedAt"], stage["finishedAt"])
        assert span.seconds == (parse_time(stage["finishedAt"]) - parse_time(stage["startedAt"])).total_seconds()
    assert by_name["state"].seconds >= 30
    assert any("CheckFailed" in why and "replica-lag" in why for why in by_name["state"].held_by)
    assert any("TrafficStepBack" in why for why in by_name["traffic"].held_by)
    assert by_name["identity"].held_by == [] and by_name["validation"].held_by == []
    assert built.step_backs == 1
    assert [w.weight for w in built.weights] == [h["weight"] for h in status["traffic"]["history"]]
    assert built.technical_recovery == status["technicalRecoveryAt"]
    assert built.operational_restoration == status["operationallyRestoredAt"]
    assert built.restoration_seconds == (parse_time(status["operationallyRestoredAt"])
                                         - parse_time(status["technicalRecoveryAt"])).total_seconds()
    assert built.approval["by"] == "alice@example.com"


def test_json_and_markdown_say_the_same():
    data = json.loads(report.render(PLAN, "json", NOW))
    assert data["phase"] == "Restored" and data["step_backs"] == 1
    assert [e["reason"] for e in data["timeline"]] == [e["reason"] for e in PLAN["status"]["timeline"]]
    text = report.render(PLAN, "md", NOW)
    assert text.startswith("# Re-entry of shop/checkout-failback")
    assert "from technical recovery to operational restoration (budget 10m: met)" in text
    assert re.search(r"\| state \| Passed \| .* \| 3\d\.\ds \| .*CheckFailed", text)
    assert "| approved | by alice@example.com at " in text


def test_the_html_page_is_self_contained_and_draws_the_timeline():
    page = report.render(PLAN, "html", NOW)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    for outside in ("<script", "src=", "href=", "http://", "https://", "@import", "url("):
        assert outside not in page
    assert page.count('class="bar"') == len(PLAN["status"]["stages"]) + len(PLAN["status"]["services"])
    assert page.count('class="step-back"') == 1
    assert page.count('<polyline class="curve"') == 1
    assert page.count('class="milestone"') == 3  # technical recovery, operational restoration, approval


def test_a_plan_under_way_is_reported_up_to_now():
    running = json.loads(json.dumps(PLAN))
    status = running["status"]
    del status["operationallyRestoredAt"]
    status["phase"] = "TrafficReentry"
    status["stages"][3].pop("finishedAt")
    status["stages"][3]["state"] = "Running"
    built = report.build(running, NOW)
    traffic = next(s for s in built.stages if s.name == "traffic")
    assert traffic.seconds == (NOW - parse_time(traffic.start)).total_seconds()
    assert "not restored yet" in report.render(running, "md", NOW)
    assert 'class="bar"' in report.render(running, "html", NOW)


def test_a_hostile_message_is_escaped():
    hostile = json.loads(json.dumps(PLAN))
    hostile["status"]["timeline"][0]["message"] = "<img src=x onerror=alert(1)> | pipe"
    page = report.render(hostile, "html", NOW)
    assert "<img" not in page and "&lt;img src=x" in page
    assert "\\| pipe" in report.render(hostile, "md", NOW)
