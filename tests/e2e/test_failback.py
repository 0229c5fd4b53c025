"""Failback stories: a restored shop held back, a plan that walks it in, bottom-up."""

from __future__ import annotations

import copy
from typing import Any

from lightkube.resources.core_v1 import Pod

from reentry.model import START_ANNOTATION
from tests.e2e.conftest import Cluster, Operator, apply_docs, load_example, wait_for
from tests.e2e.story import release_times, released
from tests.e2e.story import wait_phase as wait_plan_phase

PLAN = "checkout-failback"


def wait_phase(cluster: Cluster, namespace: str, phase: str) -> dict[str, Any]:
    return wait_plan_phase(cluster, namespace, PLAN, phase)


def given_a_restored_shop_held_back(cluster: Cluster, namespace: str) -> None:
    apply_docs(cluster, namespace, load_example("shop.yaml"))

    def all_running_none_ready() -> bool:
        pods = list(cluster.client.list(Pod, namespace=namespace))
        return len(pods) == 7 and all(p.status and p.status.phase == "Running" for p in pods)

    wait_for("7 shop pods running", all_running_none_ready)
    assert not any(released(p) for p in cluster.client.list(Pod, namespace=namespace))


def test_shop_reenters_bottom_up_and_is_restored(cluster: Cluster, operator: Operator, namespace: str):
    given_a_restored_shop_held_back(cluster, namespace)

    # When the plan is applied with start: Manual, it is Armed and releases nothing
    apply_docs(cluster, namespace, load_example("checkout-failback.yaml"))
    armed = wait_phase(cluster, namespace, "Armed")
    assert [s["state"] for s in armed["services"]] == ["Held", "Held", "Held"]
    assert not any(released(p) for p in cluster.client.list(Pod, namespace=namespace))

    # And on-call starts it
    cluster.kubectl("annotate", "rplan", PLAN, f"{START_ANNOTATION}=drill", namespace=namespace)

    # Then it ends Restored, every stage Passed, every service Attached with all pods released
    final = wait_phase(cluster, namespace, "Restored")
    assert [(s["name"], s["state"]) for s in final["stages"]] == [
        ("identity", "Passed"), ("state", "Passed"), ("dependencies", "Passed"),
        ("traffic", "Passed"), ("validation", "Passed")]
    services = {s["name"]: s for s in final["services"]}
    assert {n: (s["state"], s["releasedPods"], s["totalPods"]) for n, s in services.items()} == {
        "auth": ("Attached", 2, 2), "orders": ("Attached", 3, 3), "checkout": ("Attached", 2, 2)}
    conditions = {c["type"]: c["status"] for c in final["conditions"]}
    assert conditions == {"Ready": "True", "Progressing": "False", "Stalled": "False", "PlanReady": "True"}

    # And the order is bottom-up: each service attached before the next one's release started
    assert services["auth"]["attachedAt"] <= services["orders"]["releaseStartedAt"]
    assert services["orders"]["attachedAt"] <= services["checkout"]["releaseStartedAt"]
    # ...as the pods themselves recorded it (seconds precision on the API side)
    assert max(release_times(cluster, namespace, "auth")) <= min(release_times(cluster, namespace, "orders"))
    assert max(release_times(cluster, namespace, "orders")) <= min(release_times(cluster, namespace, "checkout"))

    # And kubectl shows it (GitOps tools wait the same way)
    cluster.kubectl("wait", "--for=condition=Ready", f"rplan/{PLAN}", "--timeout=10s", namespace=namespace)
    table = cluster.kubectl("get", "rplan", namespace=namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "STAGE", "WEIGHT", "MODE", "AGE"]
    assert table[1].split()[:2] == [PLAN, "Restored"]


def test_a_pod_that_appears_after_restoration_is_released(cluster: Cluster, operator: Operator, namespace: str):
    given_a_restored_shop_held_back(cluster, namespace)
    plan = load_example("checkout-failback.yaml")[0]
    plan["spec"]["start"] = "OnTechnicalRecovery"
    apply_docs(cluster, namespace, [plan])
    wait_phase(cluster, namespace, "Restored")

    # When checkout scales up after the plan finished
    cluster.kubectl("scale", "deployment/checkout", "--replicas=4", namespace=namespace)

    # Then the new pods are not stranded behind the gate
    def four_released() -> bool:
        pods = list(cluster.client.list(Pod, namespace=namespace, labels={"app": "checkout"}))
        return len(pods) == 4 and all(released(p) for p in pods)

    wait_for("4 released checkout pods", four_released, timeout=30)


def test_a_dependency_cycle_fails_the_plan_and_releases_nothing(cluster: Cluster, operator: Operator,
                                                                namespace: str):
    given_a_restored_shop_held_back(cluster, namespace)
    plan = copy.deepcopy(load_example("checkout-failback.yaml")[0])
    plan["spec"]["start"] = "OnTechnicalRecovery"
    plan["spec"]["services"][0]["dependsOn"] = ["checkout"]  # auth -> checkout -> orders -> auth
    apply_docs(cluster, namespace, [plan])

    failed = wait_phase(cluster, namespace, "Failed")
    stalled = next(c for c in failed["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "InvalidSpec"
    assert "dependsOn cycle: auth -> checkout -> orders -> auth" in stalled["message"]
    assert not any(released(p) for p in cluster.client.list(Pod, namespace=namespace))
    events = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={PLAN}",
                             namespace=namespace).stdout
    assert "InvalidSpec" in events


def test_a_wrong_typed_field_is_rejected_by_the_api_server(cluster: Cluster, namespace: str):
    plan = copy.deepcopy(load_example("checkout-failback.yaml")[0])
    plan["spec"]["services"][0]["minReadyEndpoints"] = "two"
    result = apply_docs_unchecked(cluster, namespace, plan)
    assert result.returncode != 0
    assert "spec.services[0].minReadyEndpoints" in result.stderr
    assert 'Invalid value: "string"' in result.stderr
    assert cluster.kubectl("get", "rplan", namespace=namespace).stdout == ""


def apply_docs_unchecked(cluster: Cluster, namespace: str, doc: dict[str, Any]) -> Any:
    import yaml

    return cluster.kubectl("apply", "-f", "-", namespace=namespace, stdin=yaml.safe_dump(doc), check=False)
