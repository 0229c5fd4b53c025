"""What `kubectl reentry status` and `list` print, from statuses the engine itself produced."""

from __future__ import annotations

import io
from typing import Any

from reentry.engine.observations import ApprovalNote, Controls, ServiceObservation
from reentry.engine.reconcile import evaluate
from reentry.model import Phase, TargetStatus, TrafficState, TrafficStatus
from reentry.plugin import render
from tests.unit.builders import failing, observed, passing, plan, pods

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}
ESC = "\x1b["


def as_object(spec, status, name="checkout-failback", namespace="shop", created="2026-11-23T13:58:00Z") -> dict:
    """The plan as the API server returns it (what the plugin reads)."""
    return {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "status": status.model_dump(mode="json", exclude_none=True) if status else None}


def drill(spec, clock, rounds: list[dict[str, Any]]):
    """Evaluate the plan once per round of observations, 5 s apart; the last status."""
    status = None
    for seen in rounds:
        status = evaluate(spec, 1, status, observed(**seen), clock.tick(5)).status
    return status


def held_in_state(clock):
    spec = plan({"name": "auth"}, {"name": "orders", "dependsOn": ["auth"]}, restorationBudget="45m",
                state={"checks": [LAG]}, validation={"approval": {"required": True}})
    services = {"auth": ServiceObservation(pods("auth", 2)), "orders": ServiceObservation(pods("orders", 3))}
    status = drill(spec, clock, [dict(services), dict(services, checks={"replica-lag": failing("3.2", "max 1")})])
    return spec, status


def test_a_running_plan_shows_stages_checks_services_budget_and_exits_2(clock):
    spec, status = held_in_state(clock)
    assert status.phase == Phase.STATE_RECONCILIATION
    plan_object = as_object(spec, status)
    text = render.render_status(plan_object, clock.now)
    lines = text.splitlines()
    assert lines[0] == "RecoveryPlan shop/checkout-failback  owner payments"
    assert lines[1].startswith("Phase    StateReconciliation  state: waiting for replica-lag (Fail: 3.2 vs max 1)")
    assert lines[2] == "Elapsed  5s of 45m restoration budget (deadline 14:45:05Z)"
    assert "├─ Stages" in lines
    assert any(line.split() == ["│", "├─", "identity", "Passed", "0s"] for line in lines)
    assert any(line.split() == ["│", "├─", "state", "Running", "5s", "so", "far"] for line in lines)
    assert any(line.split() == ["│", "└─", "state/replica-lag", "Fail", "3.2", "vs", "max", "1", "ThresholdMissed"]
               for line in lines)
    assert any(line.split() == ["│", "├─", "auth", "Held", "0/2", "pods", "released", "0", "ready", "endpoints"]
               for line in lines)
    assert any("orders" in line and "waiting for auth" in line for line in lines)
    assert lines[-1] == "└─ Approval  required from payments, not given yet (kubectl reentry approve --comment ...)"
    assert ESC not in text
    assert render.exit_code(status.phase) == render.EXIT_RUNNING


def test_a_restored_plan_shows_who_approved_and_exits_0(clock):
    from reentry.engine.controls import approval_from
    from reentry.plugin.controls import approval_value

    spec = plan({"name": "auth"}, validation={"approval": {"required": True}})
    attached = {"auth": ServiceObservation(pods("auth", 1, released=[0]), ready_endpoints=1)}
    waiting = drill(spec, clock, [dict(attached)] * 2)
    assert waiting.phase == Phase.VALIDATING
    # The annotation the plugin writes is what the engine reads the approver from.
    approval: ApprovalNote = approval_from(approval_value("alice@example.com", "dashboards clean"), [])
    status = evaluate(spec, 1, waiting, observed(controls=Controls(approval=approval), **attached), clock.tick()).status
    assert status.phase == Phase.RESTORED
    text = render.render_status(as_object(spec, status), clock.now)
    assert "Phase    Restored  operationally restored: every stage passed" in text
    assert text.splitlines()[-1] == "└─ Approval  approved by alice@example.com at 14:00:11Z: dashboards clean"
    assert "Elapsed  6s since technical recovery (no budget set)" in text
    assert render.exit_code(status.phase) == render.EXIT_RESTORED


def test_failed_and_aborted_plans_exit_1(clock):
    cyclic = plan({"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]})
    failed = evaluate(cyclic, 1, None, observed(), clock.tick()).status
    assert failed.phase == Phase.FAILED
    text = render.render_status(as_object(cyclic, failed), clock.now)
    assert "Phase    Failed  dependsOn cycle: a -> b -> a" in text
    assert render.exit_code(failed.phase) == render.EXIT_FAILED

    spec, running = held_in_state(clock)
    aborted = evaluate(spec, 1, running, observed(controls=Controls(abort_reason="rollback")), clock.tick()).status
    assert aborted.phase == Phase.ABORTED
    assert "Phase    Aborted  aborted: rollback" in render.render_status(as_object(spec, aborted), clock.now)
    assert render.exit_code(aborted.phase) == render.EXIT_FAILED
    assert render.exit_code(None) == render.EXIT_RUNNING  # no status yet: the operator has not seen it


def test_traffic_shows_step_weight_bar_state_hold_and_targets(clock):
    spec, status = held_in_state(clock)
    traffic = TrafficStatus(step=2, steps=4, weight=25, state=TrafficState.HOLDING, holdUntil="2026-11-23T14:05:00Z",
                            targets=[TargetStatus(name="httpRoute/checkout", weight=25, inPlace=True, effective=True,
                                                  shows="checkout-primary=25 checkout-dr=75")])
    text = render.render_status(as_object(spec, status.model_copy(update={"traffic": traffic})), clock.now)
    head = next(line for line in text.splitlines() if "Traffic" in line)
    assert head == "├─ Traffic  step 2/4  [" + "█" * 5 + "░" * 15 + "]  25%  Holding until 14:05:00Z"
    assert any(line.split() == ["│", "└─", "httpRoute/checkout", "weight", "25", "effective",
                                "checkout-primary=25", "checkout-dr=75"] for line in text.splitlines())
    ascii_text = render.render_status(as_object(spec, status.model_copy(update={"traffic": traffic})), clock.now,
                                      render.Style(unicode=False))
    assert "[#####...............]" in ascii_text
    assert not any(ch in ascii_text for ch in "├└│█░")


def test_colour_only_for_a_terminal_and_never_with_no_color(clock):
    spec, status = held_in_state(clock)
    coloured = render.render_status(as_object(spec, status), clock.now, render.Style(colour=True))
    assert f"{ESC}32mPassed" in coloured and f"{ESC}31mFail" in coloured and f"{ESC}1mRecoveryPlan" in coloured

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert render.wants_colour(Terminal(), environ={}) is True
    assert render.wants_colour(Terminal(), environ={"NO_COLOR": "1"}) is False
    assert render.wants_colour(io.StringIO(), environ={}) is False  # piped


def test_list_shows_phase_stage_weight_age_and_owner(clock):
    spec, status = held_in_state(clock)
    restored_spec = plan({"name": "auth"})
    restored = drill(restored_spec, clock, [{"auth": ServiceObservation(pods("auth", 1, released=[0]),
                                                                        ready_endpoints=1)}] * 2)
    restored = restored.model_copy(update={"traffic": TrafficStatus(weight=100)})
    text = render.render_list([as_object(spec, status, namespace="shop"),
                               as_object(restored_spec, restored, name="auth-failback", namespace="identity"),
                               as_object(spec, None, name="fresh", namespace="shop")], clock.now)
    assert [line.split() for line in text.splitlines()] == [
        ["NAME", "NAMESPACE", "PHASE", "STAGE", "WEIGHT", "AGE", "OWNER"],
        ["auth-failback", "identity", "Restored", "-", "100%", "2m", "payments"],
        ["checkout-failback", "shop", "StateReconciliation", "state", "-", "2m", "payments"],
        ["fresh", "shop", "-", "-", "-", "2m", "payments"],
    ]
    assert render.render_list([], clock.now) == "No recovery plans found.\n"


def test_checks_not_yet_evaluated_and_overridden_say_so(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG, {**LAG, "name": "queue-order"}]},
                overrides=[{"check": "queue-order", "reason": "metric broken, verified by hand"}])
    status = drill(spec, clock, [{"auth": ServiceObservation(pods("auth", 1))},
                                 {"auth": ServiceObservation(pods("auth", 1)),
                                  "checks": {"queue-order": failing("9", "max 1"), "replica-lag": passing("0")}}])
    text = render.render_status(as_object(spec, status), clock.now)
    assert any(line.split()[2:] == ["state/queue-order", "Fail", "9", "vs", "max", "1", "ThresholdMissed",
                                    "overridden:", "metric", "broken,", "verified", "by", "hand"]
               for line in text.splitlines())
    fresh = drill(spec, clock, [{"auth": ServiceObservation(pods("auth", 1))}])
    assert "state/replica-lag  Pending  not evaluated yet" in render.render_status(as_object(spec, fresh), clock.now)
