"""Traffic re-entry stories on the sandbox: stepped weights on real routing objects, holds that wait for
the gateway, someone editing a weight mid-hold, and the safe state on abort and deletion."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import ConfigMap, Service
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType

from reentry.kube import RecoveryPlanResource
from tests.e2e.conftest import Cluster, Operator, apply_docs, wait_for
from tests.e2e.story import (
    events,
    gated_service,
    given_running_pods,
    now,
    plan_status,
    recovery_plan,
    service_entry,
    wait_phase,
    wait_status,
)

PLAN = "checkout-failback"
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")


def backend(name: str, weight: int) -> dict[str, Any]:
    return {"name": name, "port": 80, "weight": weight}


def route(name: str = "checkout") -> dict[str, Any]:
    """Two rules that split checkout between primary and DR, and one unrelated rule to leave alone."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "edge"}], "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/checkout"}}],
                 "backendRefs": [backend("checkout-primary", 0), backend("checkout-dr", 100)]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/cart"}}],
                 "backendRefs": [backend("checkout-primary", 0), backend("checkout-dr", 100)]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                 "backendRefs": [backend("static", 1)]}]}}


def weights_of(cluster: Cluster, namespace: str, name: str = "checkout") -> list[list[tuple[str, int]]]:
    obj = cluster.client.get(HTTPRoute, name, namespace=namespace)
    return [[(b["name"], b.get("weight", 1)) for b in rule["backendRefs"]] for rule in obj["spec"]["rules"]]


class Gateway:
    """Plays the gateway controller: accepts every generation of the route once ``accepting`` is set."""

    def __init__(self, cluster: Cluster, namespace: str, name: str = "checkout") -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.accepting = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        accepted = None
        while not self.done.wait(0.05):
            if not self.accepting.is_set():
                continue
            generation = self.cluster.client.get(HTTPRoute, self.name, namespace=self.namespace)["metadata"][
                "generation"]
            if generation == accepted:
                continue
            condition = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "accepted",
                         "observedGeneration": generation, "lastTransitionTime": now()}
            status = {"parents": [{"parentRef": {"name": "edge"}, "controllerName": "example.net/edge",
                                   "conditions": [condition]}]}
            self.cluster.client.patch(HTTPRoute.Status, self.name, {"status": status}, namespace=self.namespace,
                                      patch_type=PatchType.MERGE)
            accepted = generation


@pytest.fixture
def gateway(cluster: Cluster, namespace: str, gateway_api: list[str]) -> Iterator[Gateway]:
    apply_docs(cluster, namespace, [route()])
    player = Gateway(cluster, namespace)
    player.thread.start()
    yield player
    player.done.set()
    player.thread.join()


def given_restored_checkout(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    """The checkout service, restored and held behind its gate: the plan's only service."""
    given_running_pods(cluster, namespace, gated_service("checkout"), 1)
    return [service_entry("checkout")]


def test_httproute_steps_hold_only_once_the_gateway_accepted_each_change(
        cluster: Cluster, operator: Operator, namespace: str, gateway: Gateway):
    # Given checkout restored, its route all on DR, and a gateway that has not yet accepted anything
    services = given_restored_checkout(cluster, namespace)
    ramp = {"steps": [{"weight": 10, "hold": "1s"}, {"weight": 50, "hold": "1s"}, {"weight": 100}],
            "targets": [{"httpRoute": {"name": "checkout", "restoredBackend": "checkout-primary",
                                       "fallbackBackend": "checkout-dr"}}]}
    # When the plan reaches traffic re-entry
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    # Then the first step is written to both weighted rules, and the hold waits for the gateway
    held = wait_status(cluster, namespace, PLAN, "step 1 written",
                       lambda s: (s.get("traffic") or {}).get("weight") == 10
                       and "waiting for httpRoute/checkout" in (s.get("message") or ""))
    assert held["traffic"]["state"] == "Applying" and "holdUntil" not in held["traffic"]
    assert weights_of(cluster, namespace) == [[("checkout-primary", 10), ("checkout-dr", 90)],
                                              [("checkout-primary", 10), ("checkout-dr", 90)],
                                              [("static", 1)]]
    # When the gateway accepts each change, the ramp walks to the end
    gateway.accepting.set()
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    assert [h["weight"] for h in final["traffic"]["history"]] == [10, 50, 100]
    assert weights_of(cluster, namespace) == [[("checkout-primary", 100), ("checkout-dr", 0)],
                                              [("checkout-primary", 100), ("checkout-dr", 0)],
                                              [("static", 1)]]
    obj = cluster.client.get(HTTPRoute, "checkout", namespace=namespace)
    assert "reentry" in {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert [m for r, m in events(cluster, namespace, PLAN) if r == "TrafficStep"] == [
        "traffic step 1/3: weight 10%", "traffic step 2/3: weight 50%", "traffic step 3/3: weight 100%"]


def other_targets() -> list[dict[str, Any]]:
    return [
        {"ingressNginx": {"canaryIngress": "checkout-canary"}},
        {"scale": {"kind": "Deployment", "name": "orders-consumer", "from": 0, "to": 12}},
        {"hpa": {"name": "orders", "minReplicas": {"from": 1, "to": 5}, "maxReplicas": {"from": 2, "to": 20}}},
        {"configMapKey": {"name": "retry-policy", "key": "retryBudgetPercent", "from": 0, "to": 20}},
        {"annotation": {"apiVersion": "v1", "kind": "Service", "name": "checkout-dns",
                        "key": "external-dns.alpha.kubernetes.io/aws-weight", "from": 0, "to": 100}},
    ]


def other_objects() -> list[dict[str, Any]]:
    labels = {"app": "orders-consumer"}
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "checkout-canary"},
         "spec": {"rules": [{"host": "shop.example", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
             "service": {"name": "checkout", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders-consumer"},
         "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": {
             "metadata": {"labels": labels},
             "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "orders"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders-consumer"},
                  "minReplicas": 1, "maxReplicas": 2}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "retry-policy"},
         "data": {"retryBudgetPercent": "0"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout-dns", "annotations": {
            "external-dns.alpha.kubernetes.io/aws-weight": "0"}},
         "spec": {"ports": [{"port": 80}]}},
    ]


def shown(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """What each routing object shows now."""
    ing = cluster.client.get(Ingress, "checkout-canary", namespace=namespace).metadata.annotations or {}
    hpa = cluster.client.get(HorizontalPodAutoscaler, "orders", namespace=namespace).spec
    return {
        "canary": (ing.get("nginx.ingress.kubernetes.io/canary"), ing.get("nginx.ingress.kubernetes.io/canary-weight")),
        "replicas": cluster.client.get(Deployment, "orders-consumer", namespace=namespace).spec.replicas,
        "hpa": (hpa.minReplicas, hpa.maxReplicas),
        "retry": cluster.client.get(ConfigMap, "retry-policy", namespace=namespace).data["retryBudgetPercent"],
        "dns": cluster.client.get(Service, "checkout-dns", namespace=namespace).metadata.annotations[
            "external-dns.alpha.kubernetes.io/aws-weight"],
    }


def test_every_target_kind_moves_together_step_by_step(cluster: Cluster, operator: Operator, namespace: str):
    # Given checkout restored, a canary Ingress, a stopped consumer, a degraded HPA, a zero retry budget, DNS at 0
    services = given_restored_checkout(cluster, namespace)
    apply_docs(cluster, namespace, other_objects())
    ramp = {"steps": [{"weight": 25, "hold": "3s"}, {"weight": 100}], "targets": other_targets()}
    # When the plan ramps
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    # Then at step 1 every target shows 25%, in its own terms
    wait_status(cluster, namespace, PLAN, "step 1 held", lambda s: (s.get("traffic") or {}).get("state") == "Holding")
    assert shown(cluster, namespace) == {"canary": ("true", "25"), "replicas": 3, "hpa": (2, 7), "retry": "5",
                                         "dns": "25"}
    # And at the end every target shows its normal value
    wait_phase(cluster, namespace, PLAN, "Restored")
    assert shown(cluster, namespace) == {"canary": ("true", "100"), "replicas": 12, "hpa": (5, 20), "retry": "20",
                                         "dns": "100"}


def test_a_weight_edited_during_a_hold_is_restored_with_a_warning(cluster: Cluster, operator: Operator,
                                                                   namespace: str):
    # Given a retry budget released in steps, holding at 50%
    services = given_restored_checkout(cluster, namespace)
    apply_docs(cluster, namespace, [d for d in other_objects() if d["kind"] == "ConfigMap"])
    ramp = {"steps": [{"weight": 50, "hold": "60s"}, {"weight": 100}],
            "targets": [{"configMapKey": {"name": "retry-policy", "key": "retryBudgetPercent", "from": 0,
                                          "to": 20}}]}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    wait_status(cluster, namespace, PLAN, "holding", lambda s: (s.get("traffic") or {}).get("state") == "Holding")
    # When someone (a GitOps sync, a person) sets the budget back to 0 during the hold
    cluster.client.patch(ConfigMap, "retry-policy", {"data": {"retryBudgetPercent": "0"}}, namespace=namespace,
                         patch_type=PatchType.MERGE, field_manager="kubectl-edit")
    # Then the operator writes 10 back and says so with a Warning Event
    wait_for("the budget restored to 10", lambda: cluster.client.get(
        ConfigMap, "retry-policy", namespace=namespace).data["retryBudgetPercent"] == "10", timeout=30)
    drift = wait_for("a TrafficDrift event", lambda: [m for r, m in events(cluster, namespace, PLAN)
                                                       if r == "TrafficDrift"], timeout=30)
    assert "configMapKey/retry-policy" in drift[0] and "restoring weight 50" in drift[0]
    assert plan_status(cluster, namespace, PLAN)["traffic"]["state"] == "Holding"


def test_abort_mid_ramp_walks_back_to_the_fallback(cluster: Cluster, operator: Operator, namespace: str):
    # Given a plan holding at 50% of a stepped DNS weight
    services = given_restored_checkout(cluster, namespace)
    apply_docs(cluster, namespace, [d for d in other_objects() if d["kind"] == "Service"])
    ramp = {"steps": [{"weight": 20, "hold": "1s"}, {"weight": 50, "hold": "5m"}, {"weight": 100}],
            "targets": [other_targets()[-1]], "abort": {"gradual": True, "interval": "1s"}}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    wait_status(cluster, namespace, PLAN, "holding at 50%", lambda s: (s.get("traffic") or {}).get("weight") == 50
                and s["traffic"].get("state") == "Holding")
    # When the on-call engineer aborts
    cluster.client.patch(RecoveryPlanResource, PLAN, {"metadata": {"annotations": {
        "reentry.dev/abort": "primary flapping"}}}, namespace=namespace, patch_type=PatchType.MERGE)
    # Then the weight walks back down the steps taken (50 -> 20 -> 0) and the plan is Aborted
    final = wait_status(cluster, namespace, PLAN, "traffic back at 0",
                        lambda s: (s.get("traffic") or {}).get("state") == "Done", timeout=60)
    assert final["phase"] == "Aborted"
    assert [h["weight"] for h in final["traffic"]["history"]] == [20, 50, 20, 0]
    assert shown_dns(cluster, namespace) == "0"


def shown_dns(cluster: Cluster, namespace: str) -> str:
    return cluster.client.get(Service, "checkout-dns", namespace=namespace).metadata.annotations[
        "external-dns.alpha.kubernetes.io/aws-weight"]


def test_deleting_a_plan_mid_ramp_returns_traffic_to_the_fallback(cluster: Cluster, operator: Operator,
                                                                    namespace: str):
    # Given a plan holding at 30% of a DNS weight
    services = given_restored_checkout(cluster, namespace)
    apply_docs(cluster, namespace, [d for d in other_objects() if d["kind"] == "Service"])
    ramp = {"steps": [{"weight": 30, "hold": "5m"}, {"weight": 100}], "targets": [other_targets()[-1]]}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services, traffic=ramp)])
    wait_status(cluster, namespace, PLAN, "holding", lambda s: (s.get("traffic") or {}).get("state") == "Holding")
    assert shown_dns(cluster, namespace) == "30"
    # When the plan is deleted
    cluster.kubectl("delete", "rplan", PLAN, "--wait=true", "--timeout=60s", namespace=namespace)
    # Then the finalizer put the weight back to 0 before the plan disappeared
    assert shown_dns(cluster, namespace) == "0"
