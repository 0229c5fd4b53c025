"""Traffic targets against a real API server: what observe sees, what apply writes, and that it writes once.

Each test calls the target functions directly, as the controller would, with their own async client.
Where a controller would report that a change took effect (a gateway accepting an HTTPRoute, an
autoscaler observing an HPA), the test plays that controller through the status subresource.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from reentry import errors, targets
from reentry.engine.observations import TargetObservation
from reentry.model import Target
from reentry.objects import Objects
from reentry.targets import TargetError
from tests.e2e.conftest import Cluster, apply_docs, wait_for

T = TypeVar("T")
PAUSE = "registry.k8s.io/pause:3.10"


# ---- helpers: the controller's side of the calls ------------------------------------------------


def run(cluster: Cluster, step: Callable[[Objects], Awaitable[T]]) -> T:
    """Run one async step with a fresh client, as one reconcile of the operator would."""
    async def main() -> T:
        client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
        try:
            return await step(Objects(client))
        finally:
            await client.close()
    return asyncio.run(main())


def observe(cluster: Cluster, namespace: str, target: Target, weight: int) -> TargetObservation:
    return run(cluster, lambda objects: targets.observe(objects, namespace, target, weight))


def apply(cluster: Cluster, namespace: str, target: Target, weight: int) -> bool:
    return run(cluster, lambda objects: targets.apply(objects, namespace, target, weight))


def get(cluster: Cluster, namespace: str, resource: str, name: str) -> dict[str, Any]:
    """The object as the API server has it, managedFields included."""
    out = cluster.kubectl("get", resource, name, "-o", "json", "--show-managed-fields", namespace=namespace).stdout
    found: dict[str, Any] = json.loads(out)
    return found


def owned_by(obj: dict[str, Any], manager: str) -> list[tuple[str, dict[str, Any]]]:
    """(operation, fieldsV1) of each managedFields entry of ``manager``."""
    return [(e["operation"], e.get("fieldsV1") or {}) for e in obj["metadata"].get("managedFields") or []
            if e["manager"] == manager]


def steps_once(cluster: Cluster, namespace: str, target: Target, weight: int, resource: str, name: str) -> None:
    """A second apply at the same weight writes nothing: False, and the resourceVersion stays."""
    before = get(cluster, namespace, resource, name)["metadata"]["resourceVersion"]
    assert apply(cluster, namespace, target, weight) is False
    assert get(cluster, namespace, resource, name)["metadata"]["resourceVersion"] == before


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- httpRoute ------------------------------------------------------------------------------------


def _backends(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"name": name, "port": 8080, "weight": weight} for name, weight in pairs]


def shop_route() -> dict[str, Any]:
    """Two rules carrying both backends (one with a third backend) and one unrelated rule."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "shop"},
        "spec": {
            "parentRefs": [{"name": "public"}, {"name": "internal"}],
            "hostnames": ["shop.example.com"],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/checkout"}}],
                 "backendRefs": _backends(("checkout", 0), ("checkout-dr", 100))},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                 "backendRefs": _backends(("cdn-origin", 3))},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/cart"}}],
                 "backendRefs": _backends(("checkout-dr", 100), ("audit-mirror", 5), ("checkout", 0))},
            ],
        },
    }


def accept(cluster: Cluster, namespace: str, name: str, generation: int, parents: tuple[str, ...]) -> None:
    """Play the gateway controller: every parent Accepted the route at ``generation``."""
    status = {"parents": [
        {"parentRef": {"name": parent}, "controllerName": "example.com/test-gateway",
         "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "accepted",
                         "observedGeneration": generation, "lastTransitionTime": now()}]}
        for parent in parents]}
    cluster.kubectl("patch", "httproute", name, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}), namespace=namespace)


def route_weights(route: dict[str, Any]) -> list[dict[str, int]]:
    return [{b["name"]: b["weight"] for b in rule["backendRefs"]} for rule in route["spec"]["rules"]]


def test_http_route_weights_move_in_the_rules_naming_both(cluster: Cluster, gateway_api: list[str],
                                                          namespace: str) -> None:
    assert "httproutes.gateway.networking.k8s.io" in gateway_api
    apply_docs(cluster, namespace, [shop_route()])
    target = Target.model_validate({"httpRoute": {"name": "shop", "restoredBackend": "checkout",
                                                  "fallbackBackend": "checkout-dr"}})
    before = get(cluster, namespace, "httproute", "shop")

    seen = observe(cluster, namespace, target, 25)
    assert (seen.found, seen.in_place, seen.effective) == (True, False, False)
    assert seen.shows == "checkout=0 checkout-dr=100"

    assert apply(cluster, namespace, target, 25) is True
    route = get(cluster, namespace, "httproute", "shop")
    assert route_weights(route) == [{"checkout": 25, "checkout-dr": 75}, {"cdn-origin": 3},
                                    {"checkout-dr": 75, "audit-mirror": 5, "checkout": 25}]
    # Everything but the weights is as the owner wrote it.
    for field in ("parentRefs", "hostnames"):
        assert route["spec"][field] == before["spec"][field]
    assert route["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert [r["matches"] for r in route["spec"]["rules"]] == [r["matches"] for r in before["spec"]["rules"]]
    # An Update by reentry; with atomic rules the API server tracks ownership of the whole list.
    assert ("Update", {"f:spec": {"f:rules": {}}}) in owned_by(route, "reentry")

    # In place, not yet effective: no gateway has accepted it.
    seen = observe(cluster, namespace, target, 25)
    assert (seen.in_place, seen.effective) == (True, False)
    assert "no gateway has accepted" in seen.message

    generation = route["metadata"]["generation"]
    accept(cluster, namespace, "shop", generation - 1, ("public", "internal"))
    seen = observe(cluster, namespace, target, 25)
    assert not seen.effective and f"route is at {generation}" in seen.message

    accept(cluster, namespace, "shop", generation, ("public", "internal"))
    seen = observe(cluster, namespace, target, 25)
    assert (seen.in_place, seen.effective, seen.shows) == (True, True, "checkout=25 checkout-dr=75")

    steps_once(cluster, namespace, target, 25, "httproute", "shop")

    # The next step bumps the generation: in place at once, effective only once accepted again.
    assert apply(cluster, namespace, target, 50) is True
    route = get(cluster, namespace, "httproute", "shop")
    assert route["metadata"]["generation"] == generation + 1
    assert (observe(cluster, namespace, target, 50).in_place, observe(cluster, namespace, target, 50).effective) \
        == (True, False)
    accept(cluster, namespace, "shop", generation + 1, ("public", "internal"))
    assert observe(cluster, namespace, target, 50).effective

    # Someone moves a weight by hand during the hold: no longer in place; apply puts back just that.
    cluster.kubectl("patch", "httproute", "shop", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/rules/2/backendRefs/2/weight", "value": 100}]), namespace=namespace)
    seen = observe(cluster, namespace, target, 50)
    assert not seen.in_place and seen.shows == "rule 0: checkout=50 checkout-dr=50; rule 2: checkout=100 checkout-dr=50"
    assert apply(cluster, namespace, target, 50) is True
    assert route_weights(get(cluster, namespace, "httproute", "shop"))[2] == {
        "checkout-dr": 50, "audit-mirror": 5, "checkout": 50}


def test_http_route_naming_only_one_backend_is_a_clear_error(cluster: Cluster, gateway_api: list[str],
                                                             namespace: str) -> None:
    route = shop_route()
    route["spec"]["rules"] = [{"backendRefs": _backends(("checkout", 1))},
                              {"backendRefs": _backends(("checkout-dr", 1))}]
    apply_docs(cluster, namespace, [route])
    target = Target.model_validate({"httpRoute": {"name": "shop", "restoredBackend": "checkout",
                                                  "fallbackBackend": "checkout-dr"}})
    seen = observe(cluster, namespace, target, 10)
    assert (seen.found, seen.in_place) == (True, False)
    assert "no rule has backendRefs naming both restoredBackend 'checkout'" in seen.message
    version = get(cluster, namespace, "httproute", "shop")["metadata"]["resourceVersion"]
    with pytest.raises(TargetError, match="fallbackBackend 'checkout-dr'"):
        apply(cluster, namespace, target, 10)
    assert get(cluster, namespace, "httproute", "shop")["metadata"]["resourceVersion"] == version

    missing = Target.model_validate({"httpRoute": {"name": "nope", "restoredBackend": "a", "fallbackBackend": "b"}})
    seen = observe(cluster, namespace, missing, 10)
    assert (seen.found, seen.message) == (False, f"HTTPRoute nope in {namespace} not found")


# ---- ingressNginx ---------------------------------------------------------------------------------


def test_ingress_nginx_canary_weight(cluster: Cluster, namespace: str) -> None:
    backend = {"service": {"name": "checkout", "port": {"number": 80}}}
    apply_docs(cluster, namespace, [{
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop-canary", "annotations": {"team": "payments"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}])
    target = Target.model_validate({"ingressNginx": {"canaryIngress": "shop-canary"}})
    assert observe(cluster, namespace, target, 10).in_place is False

    assert apply(cluster, namespace, target, 10) is True
    ingress = get(cluster, namespace, "ingress", "shop-canary")
    assert ingress["metadata"]["annotations"] == {
        "team": "payments", "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "10",
        "kubectl.kubernetes.io/last-applied-configuration": ingress["metadata"]["annotations"][
            "kubectl.kubernetes.io/last-applied-configuration"]}
    assert owned_by(ingress, "reentry") == [("Apply", {"f:metadata": {"f:annotations": {
        "f:nginx.ingress.kubernetes.io/canary": {}, "f:nginx.ingress.kubernetes.io/canary-weight": {}}}})]
    seen = observe(cluster, namespace, target, 10)
    assert (seen.in_place, seen.effective, seen.shows) == (True, True, "canary=true canary-weight=10")
    steps_once(cluster, namespace, target, 10, "ingress", "shop-canary")

    assert apply(cluster, namespace, target, 40) is True
    assert get(cluster, namespace, "ingress", "shop-canary")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/canary-weight"] == "40"


# ---- scale ----------------------------------------------------------------------------------------


def test_deployment_scaled_with_the_weight(cluster: Cluster, namespace: str) -> None:
    labels = {"app": "worker"}
    apply_docs(cluster, namespace, [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "worker"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "worker", "image": PAUSE}]}}}}])
    target = Target.model_validate({"scale": {"name": "worker", "from": 1, "to": 6}})

    for weight, replicas in ((0, 1), (25, 2), (50, 4), (100, 6)):  # 1 + 5 * w / 100, rounded half up
        wrote = apply(cluster, namespace, target, weight)
        assert wrote is (weight != 0), weight  # the Deployment starts at the weight-0 value
        assert get(cluster, namespace, "deployment", "worker")["spec"]["replicas"] == replicas
        # The real deployment controller observes the generation: then the step took effect.
        seen = wait_for(f"the deployment controller to observe replicas={replicas}",
                        lambda w=weight: (s := observe(cluster, namespace, target, w)).effective and s)
        assert seen.shows == f"replicas={replicas}"

    deployment = get(cluster, namespace, "deployment", "worker")
    assert ("Apply", {"f:spec": {"f:replicas": {}}}) in owned_by(deployment, "reentry")
    steps_once(cluster, namespace, target, 100, "deployment", "worker")


# ---- hpa ------------------------------------------------------------------------------------------


def test_hpa_recalibrated(cluster: Cluster, namespace: str) -> None:
    apply_docs(cluster, namespace, [{
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                 "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": 70}}}]}}])
    target = Target.model_validate({"hpa": {"name": "api", "minReplicas": {"from": 1, "to": 4},
                                            "maxReplicas": {"from": 3, "to": 10}}})

    assert apply(cluster, namespace, target, 50) is True
    hpa = get(cluster, namespace, "hpa", "api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 7)  # 2.5 -> 3, 6.5 -> 7
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert ("Apply", {"f:spec": {"f:maxReplicas": {}, "f:minReplicas": {}}}) in owned_by(hpa, "reentry")
    # The API server keeps no metadata.generation for HPAs, so no autoscaler can report a current
    # observedGeneration: bounds in place count as effective.
    assert "generation" not in hpa["metadata"]
    seen = observe(cluster, namespace, target, 50)
    assert (seen.in_place, seen.effective, seen.shows) == (True, True, "minReplicas=3 maxReplicas=7")
    steps_once(cluster, namespace, target, 50, "hpa", "api")

    # A ramp the API server refuses (min above max) comes back as the API's own words.
    too_high = Target.model_validate({"hpa": {"name": "api", "minReplicas": {"from": 1, "to": 40}}})
    with pytest.raises(errors.Invalid, match="maxReplicas"):
        apply(cluster, namespace, too_high, 100)


# ---- configMapKey ---------------------------------------------------------------------------------


def test_config_map_key_stepped(cluster: Cluster, namespace: str) -> None:
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits"},
                                     "data": {"retryBudget": "0", "region": "eu-west-1"}}])
    target = Target.model_validate({"configMapKey": {"name": "limits", "key": "retryBudget", "from": 0, "to": 20}})
    for weight, value in ((10, "2"), (50, "10"), (100, "20")):
        assert apply(cluster, namespace, target, weight) is True
        config_map = get(cluster, namespace, "configmap", "limits")
        assert config_map["data"] == {"retryBudget": value, "region": "eu-west-1"}
        assert observe(cluster, namespace, target, weight).effective
    assert ("Apply", {"f:data": {"f:retryBudget": {}}}) in owned_by(config_map, "reentry")
    steps_once(cluster, namespace, target, 100, "configmap", "limits")

    # A GitOps tool syncs the manifest from Git over it (forced, as Argo CD's server-side sync does).
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller", "-f", "-",
                    namespace=namespace, stdin=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                           "metadata": {"name": "limits"},
                                                           "data": {"retryBudget": "0", "region": "eu-west-1"}}))
    assert not observe(cluster, namespace, target, 100).in_place
    assert owned_by(get(cluster, namespace, "configmap", "limits"), "reentry") == []
    assert apply(cluster, namespace, target, 100) is True
    config_map = get(cluster, namespace, "configmap", "limits")
    assert config_map["data"] == {"retryBudget": "20", "region": "eu-west-1"}
    assert ("Apply", {"f:data": {"f:retryBudget": {}}}) in owned_by(config_map, "reentry")


# ---- annotation -----------------------------------------------------------------------------------


def test_annotation_stepped_on_any_object(cluster: Cluster, namespace: str) -> None:
    key = "external-dns.alpha.kubernetes.io/aws-weight"
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "shop", "annotations": {key: "0"}}, "spec": {"ports": [{"port": 80}], "selector": {"app": "shop"}}}])
    target = Target.model_validate({"annotation": {"apiVersion": "v1", "kind": "Service", "name": "shop",
                                                   "key": key, "from": 0, "to": 255}})
    seen = observe(cluster, namespace, target, 0)
    assert (seen.in_place, seen.effective, seen.shows) == (True, True, f"{key}=0")
    assert apply(cluster, namespace, target, 0) is False

    assert apply(cluster, namespace, target, 20) is True
    service = get(cluster, namespace, "service", "shop")
    assert service["metadata"]["annotations"][key] == "51"
    assert owned_by(service, "reentry") == [("Apply", {"f:metadata": {"f:annotations": {f"f:{key}": {}}}})]
    steps_once(cluster, namespace, target, 20, "service", "shop")

    unknown = Target.model_validate({"annotation": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                                                    "key": "k", "from": 0, "to": 1}})
    seen = observe(cluster, namespace, unknown, 50)
    assert not seen.found and "example.com/v1" in seen.message


def configmap_gets(cluster: Cluster) -> int:
    """GET requests for ConfigMaps the API server has answered since it started (its own /metrics)."""
    total = 0
    for line in cluster.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="configmaps"' in line and 'verb="GET"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_a_followed_target_is_read_from_memory_and_its_changes_wake_the_follower(cluster: Cluster, namespace: str):
    # Given a ConfigMap a ramp writes, followed as the controller follows its targets during a ramp
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "retry-policy"},
                                     "data": {"budget": "0"}}])
    target = Target.model_validate({"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}})

    async def story(objects: Objects) -> None:
        changed = asyncio.Event()
        objects.follow(target.written, namespace, "plan", changed.set)
        await wait_async("the first read", lambda: objects._followed and all(
            e.synced for e in objects._followed.values()))
        # When the plan reads it many times: no request reaches the API server
        before = configmap_gets(cluster)
        for _ in range(20):
            assert (await targets.observe(objects, namespace, target, 50)).shows == "budget=0"
        assert configmap_gets(cluster) == before
        # When someone else changes it, the follower is woken and reads the new value from memory
        changed.clear()
        cluster.kubectl("patch", "configmap", "retry-policy", "--type=merge", "-p", '{"data":{"budget":"7"}}',
                        namespace=namespace)
        await asyncio.wait_for(changed.wait(), timeout=10)
        assert (await targets.observe(objects, namespace, target, 50)).shows == "budget=7"
        # Its own write shows at once, the next read included
        assert await targets.apply(objects, namespace, target, 50) is True
        assert (await targets.observe(objects, namespace, target, 50)).in_place
        # And when nobody follows it any more, the watch stops
        objects.unfollow("plan")
        assert objects._followed == {}

    run(cluster, story)


async def wait_async(what: str, ready: Callable[[], Any], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not ready():
            await asyncio.sleep(0.02)
