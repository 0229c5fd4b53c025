"""The operator's /metrics, scraped over HTTP while a real drill runs on the API server."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod
from prometheus_client.parser import text_string_to_metric_families

from reentry.kube import RecoveryPlanResource
from tests.e2e.conftest import Cluster, apply_docs, start_operator, stop_operator, wait_for
from tests.e2e.story import gated_service, given_running_pods, recovery_plan, service_entry, wait_phase

PLAN = "metrics-drill"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample on /metrics, keyed by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_a_drill_shows_up_in_the_metrics(cluster: Cluster, solo_namespace: str, tmp_path: Path):
    ns = solo_namespace
    port = free_port()
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns, metrics_port=port)
    try:
        wait_for("/metrics to answer", lambda: _answers(port), timeout=30)
        # Given two held services, a replica lag still at 3 and a retry budget at its degraded value
        given_running_pods(cluster, ns, gated_service("db", 2) + gated_service("api", 2), 4)
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name="replica"), data={"lag": "3"}), namespace=ns)
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name="retry-policy"), data={"budget": "0"}), namespace=ns)
        plan = recovery_plan(
            PLAN, [service_entry("db"), service_entry("api", ("db",))],
            restorationBudget="10m",
            state={"checks": [{"name": "replica-lag", "resource": {
                "apiVersion": "v1", "kind": "ConfigMap", "name": "replica", "path": ".data.lag", "max": 1}}]},
            traffic={"steps": [{"weight": 50, "hold": "1s"}, {"weight": 100}],
                     "targets": [{"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}}]})
        apply_docs(cluster, ns, [plan])
        labels = {"namespace": ns, "plan": PLAN}
        lag = {**labels, "stage": "state", "check": "replica-lag"}

        # Then the plan waits in state reconciliation and the metrics say so, with the lag as a number
        samples = wait_for("the lag check in the metrics", lambda: _with(
            port, lambda s: sample(s, "reentry_check_result", **lag, result="Fail") == 1))
        assert sample(samples, "reentry_check_observed_value", **lag) == 3
        assert sample(samples, "reentry_plan_phase", **labels, phase="StateReconciliation") == 1
        assert sample(samples, "reentry_plan_phase", **labels, phase="Restored") == 0
        assert sample(samples, "reentry_pods_released_total", **labels, service="db") is None

        # When the replica catches up, the drill runs to the end
        cluster.client.patch(ConfigMap, "replica", {"data": {"lag": "0"}}, namespace=ns)
        wait_phase(cluster, ns, PLAN, "Restored")

        samples = wait_for("Restored in the metrics", lambda: _with(
            port, lambda s: sample(s, "reentry_plan_phase", **labels, phase="Restored") == 1))
        assert sample(samples, "reentry_check_result", **lag, result="Pass") == 1
        assert sample(samples, "reentry_check_observed_value", **lag) == 0
        assert sample(samples, "reentry_traffic_weight_percent", **labels) == 100
        assert sample(samples, "reentry_traffic_step_backs_total", **labels) == 0
        assert sample(samples, "reentry_pods_released_total", **labels, service="db") == 2
        assert sample(samples, "reentry_pods_released_total", **labels, service="api") == 2
        assert sample(samples, "reentry_restoration_budget_exceeded", **labels) == 0
        assert sample(samples, "reentry_restoration_seconds_count") == 1
        restored_in = sample(samples, "reentry_restoration_seconds_sum")
        assert restored_in is not None and 0 < restored_in < 120
        for stage in ("identity", "state", "dependencies", "traffic", "validation"):
            assert sample(samples, "reentry_stage_duration_seconds_count", stage=stage) == 1, stage
        assert (sample(samples, "reentry_reconcile_duration_seconds_count") or 0) > 0
        assert not any(name.endswith("_created") for name, _ in samples)
        pod_names = {p.metadata.name for p in cluster.client.list(Pod, namespace=ns)}
        assert not any(value in pod_names for _, labelset in samples for _, value in labelset)

        # When the plan is deleted, its series go away
        cluster.client.delete(RecoveryPlanResource, PLAN, namespace=ns)
        wait_for("the plan's series to be removed", lambda: _with(
            port, lambda s: not any(dict(labelset).get("plan") == PLAN for _, labelset in s)))
    finally:
        stop_operator(operator)


def _answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


def _with(port: int, predicate):
    samples = scrape(port)
    return samples if predicate(samples) else None

