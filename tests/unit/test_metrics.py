"""Metrics derived from real engine decisions, in a fresh registry per test."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from reentry import cli, metrics
from reentry.engine.observations import (
    CheckResult,
    Controls,
    Observations,
    ServiceObservation,
    TargetObservation,
)
from reentry.engine.reconcile import Decision, evaluate
from reentry.model import Outcome, Phase, TrafficStatus
from tests.unit.builders import NAMESPACE, PLAN_NAME, Drill, failing, observed, passing, plan, pods

NS, PLAN = NAMESPACE, PLAN_NAME  # where a metered Drill records its plan
LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db", "path": ".data.lag",
                                           "max": 1}}


def test_a_drill_reports_phase_checks_pods_stages_and_restoration(clock):
    spec = plan({"name": "db"}, {"name": "api", "dependsOn": ["db"]}, state={"checks": [LAG]},
                restorationBudget="1m")
    drill = Drill(spec, clock, metered=True)
    db, api = pods("db", 2), pods("api", 3)

    drill.step(obs=observed(checks={"replica-lag": failing("7", "max 1")}, db=ServiceObservation(db),
                            api=ServiceObservation(api)))
    assert drill.phase_gauge() == Phase.STATE_RECONCILIATION
    base = {"namespace": NS, "plan": PLAN, "stage": "state", "check": "replica-lag"}
    assert drill.value("reentry_check_result", **base, result="Fail") == 1
    assert drill.value("reentry_check_result", **base, result="Pass") == 0
    assert drill.value("reentry_check_observed_value", **base) == 7
    assert drill.value("reentry_stage_duration_seconds_count", stage="identity") == 1  # passed at once
    assert drill.value("reentry_restoration_budget_exceeded", namespace=NS, plan=PLAN) == 0

    drill.step(9, obs=observed(checks={"replica-lag": passing("0")}, db=ServiceObservation(db),
                               api=ServiceObservation(api)))
    assert drill.value("reentry_check_result", **base, result="Pass") == 1
    assert drill.value("reentry_check_observed_value", **base) == 0
    # state ran 9 s; the db's two pods were released in the same evaluation that reached dependencies
    assert drill.value("reentry_stage_duration_seconds_sum", stage="state") == pytest.approx(9)
    assert drill.value("reentry_pods_released_total", namespace=NS, plan=PLAN, service="db") == 2
    assert drill.phase_gauge() == Phase.DEPENDENCY_CONVERGENCE

    drill.step(obs=observed(db=ServiceObservation(pods("db", 2, released=[0, 1]), ready_endpoints=2),
                            api=ServiceObservation(api)))
    assert drill.value("reentry_pods_released_total", namespace=NS, plan=PLAN, service="api") == 3
    decision = drill.step(obs=observed(db=ServiceObservation(pods("db", 2, released=[0, 1]), ready_endpoints=2),
                                       api=ServiceObservation(pods("api", 3, released=[0, 1, 2]), ready_endpoints=3)))
    assert decision.status.phase == Phase.RESTORED and drill.phase_gauge() == Phase.RESTORED
    # technical recovery at the first evaluation (t=1 s), restored at t=12 s
    assert drill.value("reentry_restoration_seconds_count") == 1
    assert drill.value("reentry_restoration_seconds_sum") == pytest.approx(11)
    assert drill.value("reentry_traffic_weight_percent", namespace=NS, plan=PLAN) == 0
    for stage in ("identity", "state", "dependencies", "traffic", "validation"):
        assert drill.value("reentry_stage_duration_seconds_count", stage=stage) == 1, stage


def test_transitions_seen_twice_count_once(clock):
    """kopf's body can lag one write behind: an evaluation may start again from the older status."""
    spec = plan({"name": "db"})
    drill = Drill(spec, clock, metered=True)
    held = observed(db=ServiceObservation(pods("db", 1)))
    drill.step(obs=held)
    stale = evaluate(spec, 1, None, held, clock.tick())  # the same start, re-decided from no status
    drill.metrics.record(NS, PLAN, None, stale)
    assert drill.value("reentry_stage_duration_seconds_count", stage="identity") == 1
    done = drill.step(obs=observed(db=ServiceObservation(pods("db", 1, released=[0]), ready_endpoints=1)))
    before = drill.before
    assert done.status.phase == Phase.RESTORED
    again = evaluate(spec, 1, before, observed(db=ServiceObservation(pods("db", 1, released=[0]), ready_endpoints=1)),
                     clock.tick())
    drill.metrics.record(NS, PLAN, before, again)
    assert drill.value("reentry_restoration_seconds_count") == 1
    assert drill.value("reentry_stage_duration_seconds_count", stage="validation") == 1


def test_a_budget_run_past_sets_the_gauge(clock):
    drill = Drill(plan({"name": "db"}, state={"checks": [LAG]}, restorationBudget="30s"), clock, metered=True)
    obs = observed(checks={"replica-lag": failing("4", "max 1")}, db=ServiceObservation(pods("db", 1)))
    drill.step(obs=obs)
    assert drill.value("reentry_restoration_budget_exceeded", namespace=NS, plan=PLAN) == 0
    drill.step(31, obs=obs)
    assert drill.value("reentry_restoration_budget_exceeded", namespace=NS, plan=PLAN) == 1


def test_a_value_that_is_not_a_number_leaves_no_stale_series(clock):
    check = {"name": "db-ready", "workload": {"name": "db"}}
    drill = Drill(plan({"name": "db"}, state={"checks": [check]}), clock, metered=True)
    drill.step(obs=observed(checks={"db-ready": CheckResult(Outcome.FAIL, observed="1")},
                            db=ServiceObservation(pods("db", 1))))
    labels = {"namespace": NS, "plan": PLAN, "stage": "state", "check": "db-ready"}
    assert drill.value("reentry_check_observed_value", **labels) == 1
    drill.step(obs=observed(checks={"db-ready": CheckResult(Outcome.FAIL, observed="1/3 available")},
                            db=ServiceObservation(pods("db", 1))))
    assert drill.value("reentry_check_observed_value", **labels) is None
    assert drill.value("reentry_check_result", **labels, result="Fail") == 1


@pytest.mark.parametrize(("text", "value"), [("3", 3.0), (" 0.25 ", 0.25), ("-1e3", -1000.0), ("nan", None),
                                             ("inf", None), ("3 pods", None), ("", None), (None, None)])
def test_observed_values_are_numbers_only_when_plainly_so(text, value):
    assert metrics.number(text) == value


def test_traffic_weight_and_step_backs(clock):
    route = {"configMapKey": {"name": "retry", "key": "budget", "from": 0, "to": 20}}
    errors = {"name": "errors", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "m", "path": ".data.e",
                                             "max": 0.02}}
    spec = plan({"name": "auth"}, traffic={"steps": [{"weight": 10, "hold": "5s"}, {"weight": 50, "hold": "5s"},
                                                     {"weight": 100}],
                                           "targets": [route], "analysis": [errors], "coolDown": "20s"})
    drill = Drill(spec, clock, metered=True)
    shown = 0

    def step(result, seconds=1.0):
        nonlocal shown
        weight = drill.status.traffic.weight if drill.status and drill.status.traffic else 0
        obs = Observations(services={"auth": ServiceObservation(pods("auth", 1, released=[0]), ready_endpoints=1)},
                           controls=Controls(), checks={"errors": result},
                           targets={"configMapKey/retry": TargetObservation(True, shown == weight, True)})
        decision = drill.step(seconds, obs=obs)
        for write in decision.weights:
            shown = write.weight
        return decision

    labels = {"namespace": NS, "plan": PLAN}
    step(passing("0.001"))
    assert drill.value("reentry_traffic_weight_percent", **labels) == 10
    assert drill.value("reentry_traffic_step_backs_total", **labels) == 0
    step(passing("0.001"))
    step(passing("0.001"), seconds=5)
    step(passing("0.001"))
    assert drill.value("reentry_traffic_weight_percent", **labels) == 50
    step(failing("0.09", "max 0.02"))
    assert drill.status.traffic.stepBacks == 1
    assert drill.value("reentry_traffic_weight_percent", **labels) == 10
    assert drill.value("reentry_traffic_step_backs_total", **labels) == 1
    analysis = {**labels, "stage": "analysis", "check": "errors"}
    assert drill.value("reentry_check_observed_value", **analysis) == pytest.approx(0.09)
    step(passing("0.001"))  # cooling down: the count stays
    assert drill.value("reentry_traffic_step_backs_total", **labels) == 1


def test_a_restarted_operator_does_not_recount_what_the_status_already_shows(clock):
    """On first sight of a plan, step-backs, passed stages and the restoration in its status count as old news."""
    spec = plan({"name": "auth"})
    drill = Drill(spec, clock, metered=True)
    drill.step(obs=observed(auth=ServiceObservation(pods("auth", 1))))
    done = drill.step(obs=observed(auth=ServiceObservation(pods("auth", 1, released=[0]), ready_endpoints=1)))
    assert done.status.phase == Phase.RESTORED
    old = done.status.model_copy(update={"traffic": TrafficStatus(stepBacks=2)})
    fresh = metrics.Metrics(CollectorRegistry())
    fresh.record(NS, PLAN, old, Decision(status=old))
    sample = fresh.registry.get_sample_value
    assert sample("reentry_traffic_step_backs_total", {"namespace": NS, "plan": PLAN}) == 0
    assert sample("reentry_restoration_seconds_count") == 0
    assert sample("reentry_stage_duration_seconds_count", {"stage": "identity"}) is None
    assert sample("reentry_plan_phase", {"namespace": NS, "plan": PLAN, "phase": "Restored"}) == 1


def test_a_dry_run_restoration_is_not_a_restoration(clock):
    drill = Drill(plan({"name": "db"}, mode="DryRun"), clock, metered=True)
    decision = drill.step(obs=observed(db=ServiceObservation(pods("db", 1))))
    for _ in range(3):
        if decision.status.phase == Phase.RESTORED:
            break
        decision = drill.step(obs=observed(db=ServiceObservation(pods("db", 1))))
    assert decision.status.phase == Phase.RESTORED
    assert drill.value("reentry_restoration_seconds_count") == 0
    assert drill.value("reentry_pods_released_total", namespace=NS, plan=PLAN, service="db") is None


def test_forget_removes_every_series_of_the_plan_and_only_that(clock):
    spec = plan({"name": "db"}, state={"checks": [LAG]}, restorationBudget="1m")
    drill = Drill(spec, clock, metered=True)
    obs = observed(checks={"replica-lag": failing("7")}, db=ServiceObservation(pods("db", 1)))
    drill.step(obs=obs)
    other = evaluate(spec, 1, None, obs, clock.now)
    drill.metrics.record(NS, "other", None, other)
    with pytest.raises(RuntimeError), drill.metrics.reconciling(NS, PLAN):
        raise RuntimeError("API server gone")

    drill.metrics.forget(NS, PLAN)
    for family in drill.metrics.registry.collect():
        for sample in family.samples:
            assert sample.labels.get("plan") != PLAN, sample
    assert drill.value("reentry_plan_phase", namespace=NS, plan="other", phase="StateReconciliation") == 1
    drill.metrics.forget(NS, PLAN)  # twice is harmless

    # The deleted plan's loop finishes one last round after the delete: it must not bring it back.
    late = evaluate(spec, 1, drill.status, obs, clock.tick())
    drill.metrics.record(NS, PLAN, drill.status, late)
    assert drill.value("reentry_plan_phase", namespace=NS, plan=PLAN, phase="StateReconciliation") is None
    # A new plan of the same name (no status yet) is reported again.
    drill.metrics.record(NS, PLAN, None, evaluate(spec, 1, None, obs, clock.tick()))
    assert drill.value("reentry_plan_phase", namespace=NS, plan=PLAN, phase="StateReconciliation") == 1


def test_errors_are_counted_by_type_and_re_raised():
    registry = CollectorRegistry()
    m = metrics.Metrics(registry)
    with m.reconciling(NS, PLAN):
        pass
    with pytest.raises(TimeoutError), m.reconciling(NS, PLAN):
        raise TimeoutError("slow")
    assert registry.get_sample_value("reentry_reconcile_errors_total",
                                     {"namespace": NS, "plan": PLAN, "error": "TimeoutError"}) == 1
    assert registry.get_sample_value("reentry_reconcile_duration_seconds_count") == 2


def test_labels_never_name_pods(clock):
    drill = Drill(plan({"name": "db"}), clock, metered=True)
    drill.step(obs=observed(db=ServiceObservation(pods("db", 3))))
    names = {"db-0", "db-1", "db-2"}
    for family in drill.metrics.registry.collect():
        for sample in family.samples:
            assert not names & set(sample.labels.values()), sample


def test_the_run_command_serves_metrics_on_the_default_port():
    args = cli.parser().parse_args(["run"])
    assert args.metrics_port == metrics.DEFAULT_PORT == 8383
    assert cli.parser().parse_args(["run", "--metrics-port", "0"]).metrics_port == 0


def test_pause_and_resume_move_the_phase(clock):
    drill = Drill(plan({"name": "db"}, state={"checks": [LAG]}), clock, metered=True)
    obs = observed(checks={"replica-lag": failing("3")}, db=ServiceObservation(pods("db", 1)))
    drill.step(obs=obs)
    drill.step(obs=Observations(services=obs.services, controls=Controls(paused=True), checks=obs.checks))
    assert drill.phase_gauge() == Phase.PAUSED


def test_the_caches_sizes_are_read_at_each_scrape():
    registry = CollectorRegistry()
    held = {"pods": 3, "services": 1}
    metrics.Metrics(registry).watch_caches(lambda: held)
    assert registry.get_sample_value("reentry_cached_objects", {"kind": "pods"}) == 3
    held["pods"] = 5000
    assert registry.get_sample_value("reentry_cached_objects", {"kind": "pods"}) == 5000
    assert registry.get_sample_value("reentry_cached_objects", {"kind": "services"}) == 1
