"""Traffic analysis against a real Prometheus: an error rate crossing its threshold steps the ramp back,
no data holds the step, and the adaptive ramp halves its weight on a breach."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import ConfigMap

from tests.e2e.conftest import Cluster, Operator, apply_docs, wait_for
from tests.e2e.prometheus_fixtures import Prometheus, unique
from tests.e2e.story import (
    events,
    gated_service,
    given_running_pods,
    plan_status,
    recovery_plan,
    service_entry,
    stays,
    wait_phase,
    wait_status,
)

PLAN = "checkout-failback"
BUDGET = {"configMapKey": {"name": "retry-policy", "key": "retryBudgetPercent", "from": 0, "to": 20}}


def error_rate(prometheus: Prometheus, metric: str, **extra: Any) -> dict[str, Any]:
    """The analysis check: the restored side's error ratio must stay at or under 5%."""
    return {"name": "error-rate", "prometheus": {"url": prometheus.url, "query": metric, "max": 0.05}, **extra}


def given_checkout_and_budget(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    given_running_pods(cluster, namespace, gated_service("checkout"), 1)
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "retry-policy"},
                                     "data": {"retryBudgetPercent": "0"}}])
    return [service_entry("checkout")]


def budget(cluster: Cluster, namespace: str) -> str:
    return cluster.client.get(ConfigMap, "retry-policy", namespace=namespace).data["retryBudgetPercent"]


def traffic(status: dict[str, Any]) -> dict[str, Any]:
    return status.get("traffic") or {}


def test_an_error_rate_over_its_threshold_steps_back_then_the_ramp_recovers(
        cluster: Cluster, operator: Operator, namespace: str, prometheus: Prometheus):
    # Given the restored side failing 40% of its requests
    metric = unique("checkout_error_ratio")
    prometheus.exporter.set(metric, 0.4)
    prometheus.wait_value(metric, 0.4)
    services = given_checkout_and_budget(cluster, namespace)
    ramp = {"steps": [{"weight": 20, "hold": "1s"}, {"weight": 100}], "targets": [BUDGET],
            "analysis": [error_rate(prometheus, metric)], "onFailure": "StepBack", "coolDown": "4s"}
    # When the ramp takes its first step
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    # Then the analysis breach steps it back to 0 and it cools down there
    backed = wait_status(cluster, namespace, PLAN, "a step back",
                         lambda s: traffic(s).get("stepBacks") == 1 and traffic(s).get("state") == "CoolingDown")
    assert traffic(backed)["weight"] == 0
    # The status is written before the targets (a crash can delay a step, never skip one), so the
    # ConfigMap shows the step back a moment after the status does.
    wait_for("the retry budget back at 0", lambda: budget(cluster, namespace) == "0", timeout=10)
    step_back = [m for r, m in events(cluster, namespace, PLAN) if r == "TrafficStepBack"]
    assert step_back and "from 20% to 0%" in step_back[0] and "error-rate" in step_back[0]
    # When the error rate falls back under the threshold
    prometheus.exporter.set(metric, 0.01)
    prometheus.wait_value(metric, 0.01)
    # Then the ramp retries the step and completes
    final = wait_phase(cluster, namespace, PLAN, "Restored", timeout=60)
    weights = [h["weight"] for h in final["traffic"]["history"]]
    assert weights[:3] == [20, 0, 20] and weights[-1] == 100
    assert budget(cluster, namespace) == "20"


def test_no_data_holds_the_step_until_the_metric_appears(
        cluster: Cluster, operator: Operator, namespace: str, prometheus: Prometheus):
    # Given an analysis query for a series nobody exports yet (low traffic right after recovery)
    metric = unique("checkout_error_ratio")
    services = given_checkout_and_budget(cluster, namespace)
    ramp = {"steps": [{"weight": 30, "hold": "1s"}, {"weight": 100}], "targets": [BUDGET],
            "analysis": [error_rate(prometheus, metric)]}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    # Then the ramp holds at 30% after the hold is over, naming the missing data
    wait_status(cluster, namespace, PLAN, "holding on no data",
                lambda s: "waiting for analysis error-rate (NoData" in (s.get("message") or ""))
    stays("the weight at 30%", lambda: traffic(plan_status(cluster, namespace, PLAN)).get("weight") == 30, 3)
    checks = {c["name"]: c for c in plan_status(cluster, namespace, PLAN)["checks"]}
    assert checks["error-rate"]["failureClass"] == "NoData"
    # When the metric appears, healthy
    prometheus.exporter.set(metric, 0.0)
    # Then the ramp completes
    wait_phase(cluster, namespace, PLAN, "Restored", timeout=60)


def test_the_adaptive_ramp_halves_its_weight_on_a_breach(
        cluster: Cluster, operator: Operator, namespace: str, prometheus: Prometheus):
    # Given a healthy restored side and an adaptive ramp: +20 every 2 s, halve on a breach
    metric = unique("checkout_error_ratio")
    prometheus.exporter.set(metric, 0.0)
    prometheus.wait_value(metric, 0.0)
    services = given_checkout_and_budget(cluster, namespace)
    ramp = {"adaptive": {"start": 20, "increase": 20, "max": 100, "interval": "2s", "decreaseFactor": 0.5},
            "targets": [BUDGET], "analysis": [error_rate(prometheus, metric)], "maxStepBacks": 5}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    wait_status(cluster, namespace, PLAN, "the ramp at 60% or more", lambda s: traffic(s).get("weight", 0) >= 60)
    # When the error rate breaches
    prometheus.exporter.set(metric, 0.3)
    # Then the weight is halved
    backed = wait_status(cluster, namespace, PLAN, "a multiplicative decrease",
                         lambda s: any(h["reason"].startswith("step back") for h in traffic(s).get("history", [])))
    history = backed["traffic"]["history"]
    cut = next(i for i, h in enumerate(history) if h["reason"].startswith("step back"))
    assert history[cut]["weight"] == history[cut - 1]["weight"] // 2
    # And when it is healthy again, the ramp climbs to the end
    prometheus.exporter.set(metric, 0.0)
    wait_phase(cluster, namespace, PLAN, "Restored", timeout=90)
