"""Staged re-entry stories on the sandbox: graphs, flapping checks, controls, dry run, the finish line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.types import PatchType

from reentry.kube import RecoveryPlanResource
from reentry.model import FINALIZER
from tests.e2e.conftest import Cluster, Operator, apply_docs, start_operator, stop_operator, wait_for
from tests.e2e.story import (
    by_name,
    events,
    gated_service,
    given_running_pods,
    plan_status,
    recovery_plan,
    released_count,
    service_entry,
    stays,
    wait_phase,
    wait_status,
)

PLAN = "failback"


def lag_check(name: str = "replica-lag", **extra: Any) -> dict[str, Any]:
    """A state check on a ConfigMap value the test controls, standing in for a replica-lag metric."""
    return {"name": name, "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag",
                                       "path": ".data.lag", "max": 1}, **extra}


def set_lag(cluster: Cluster, namespace: str, value: str) -> None:
    """Report replica lag in seconds (the ConfigMap the lag check reads)."""
    try:
        cluster.client.patch(ConfigMap, "db-lag", {"data": {"lag": value}}, namespace=namespace,
                             patch_type=PatchType.MERGE)
    except ApiError as err:
        if err.status.code != 404:
            raise
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name="db-lag"), data={"lag": value}), namespace=namespace)


def test_diamond_graph_is_released_bottom_up(cluster: Cluster, operator: Operator, namespace: str):
    # Given a diamond: a <- b, a <- c, and b, c <- d
    docs = [doc for name in "abcd" for doc in gated_service(name, replicas=2)]
    given_running_pods(cluster, namespace, docs, 8)
    services = [service_entry("d", ("b", "c")), service_entry("b", ("a",)), service_entry("c", ("a",)),
                service_entry("a")]
    # When the plan runs
    apply_docs(cluster, namespace, [recovery_plan(PLAN, services)])
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    # Then a went first, b and c after a, d after both
    s = by_name(final["services"])
    assert s["a"]["attachedAt"] <= s["b"]["releaseStartedAt"]
    assert s["a"]["attachedAt"] <= s["c"]["releaseStartedAt"]
    assert max(s["b"]["attachedAt"], s["c"]["attachedAt"]) <= s["d"]["releaseStartedAt"]
    assert released_count(cluster, namespace) == 8


def test_a_flapping_state_check_holds_consumers_until_it_is_stable(cluster: Cluster, operator: Operator,
                                                                    namespace: str):
    # Given a restored consumer held back, and a replica lagging 5 s against max 1 s
    given_running_pods(cluster, namespace, gated_service("consumer", 2), 2)
    set_lag(cluster, namespace, "5")
    plan = recovery_plan(PLAN, [service_entry("consumer")], state={"checks": [lag_check(stableFor="3s")]})
    apply_docs(cluster, namespace, [plan])

    # Then the state stage holds with the observed value and the threshold, nothing released
    held = wait_status(cluster, namespace, PLAN, "the lag check to fail",
                       lambda s: by_name(s.get("checks", [])).get("replica-lag", {}).get("result") == "Fail")
    assert held["phase"] == "StateReconciliation"
    check = by_name(held["checks"])["replica-lag"]
    assert (check["observed"], check["threshold"]) == ("5", "max 1")
    # When the lag drops, then flaps back up before stableFor
    set_lag(cluster, namespace, "0")
    wait_status(cluster, namespace, PLAN, "the lag check to pass",
                lambda s: by_name(s["checks"])["replica-lag"].get("passingSince"))
    set_lag(cluster, namespace, "4")
    wait_status(cluster, namespace, PLAN, "the flap to reset the clock",
                lambda s: by_name(s["checks"])["replica-lag"]["result"] == "Fail")
    assert released_count(cluster, namespace) == 0
    # When it is stable below the threshold
    set_lag(cluster, namespace, "0")
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    check = by_name(final["checks"])["replica-lag"]
    assert check["result"] == "Pass"
    assert final["stages"][1]["finishedAt"] <= by_name(final["services"])["consumer"]["releaseStartedAt"]
    assert [r for r, _ in events(cluster, namespace, PLAN)].count("CheckFailed") == 2
    assert released_count(cluster, namespace) == 2


def test_pause_freezes_the_release_and_resume_continues(cluster: Cluster, operator: Operator, namespace: str):
    given_running_pods(cluster, namespace, gated_service("api", 3), 3)
    plan = recovery_plan(PLAN, [service_entry("api", release={"batch": 1, "interval": "2s"})])
    apply_docs(cluster, namespace, [plan])
    wait_status(cluster, namespace, PLAN, "a first batch", lambda s: s.get("services", [{}])[0].get("releasedPods"))

    # When on-call pauses
    cluster.kubectl("annotate", "rplan", PLAN, "reentry.dev/paused=true", namespace=namespace)
    paused = wait_phase(cluster, namespace, PLAN, "Paused")
    frozen = released_count(cluster, namespace)
    assert paused["pausedFrom"] == "DependencyConvergence"
    # Then nothing more is released for longer than two batch intervals
    stays("the release frozen", lambda: released_count(cluster, namespace) == frozen, 5)

    # When on-call resumes
    cluster.kubectl("annotate", "rplan", PLAN, "reentry.dev/paused-", namespace=namespace)
    wait_phase(cluster, namespace, PLAN, "Restored")
    assert released_count(cluster, namespace) == 3
    reasons = [r for r, _ in events(cluster, namespace, PLAN)]
    assert reasons.count("Paused") == 1 and reasons.count("Resumed") == 1


def test_dry_run_walks_the_plan_and_changes_nothing(cluster: Cluster, operator: Operator, namespace: str):
    docs = gated_service("auth", 2) + gated_service("orders", 2)
    given_running_pods(cluster, namespace, docs, 4)
    set_lag(cluster, namespace, "0")
    plan = recovery_plan(PLAN, [service_entry("auth"), service_entry("orders", ("auth",))], mode="DryRun",
                         state={"checks": [lag_check()], "actions": [
                             {"name": "bump", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag",
                                                        "patch": {"data": {"lag": "99"}}}}]})
    apply_docs(cluster, namespace, [plan])
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    ready = by_name([{**c, "name": c["type"]} for c in final["conditions"]])["Ready"]
    assert ready["reason"] == "DryRun"
    assert {s["name"]: s.get("wouldRelease") for s in final["services"]} == {"auth": 2, "orders": 2}
    assert final["actions"][0]["message"] == "dry run: would run patch action bump"
    assert released_count(cluster, namespace) == 0
    assert cluster.client.get(ConfigMap, "db-lag", namespace=namespace).data == {"lag": "0"}


def test_an_override_lets_a_broken_check_pass_on_record(cluster: Cluster, operator: Operator, namespace: str):
    given_running_pods(cluster, namespace, gated_service("api", 1), 1)
    set_lag(cluster, namespace, "30")
    plan = recovery_plan(PLAN, [service_entry("api")], state={"checks": [lag_check()]},
                         overrides=[{"check": "replica-lag", "reason": "lag metric broken, verified by hand"}])
    apply_docs(cluster, namespace, [plan])
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    check = by_name(final["checks"])["replica-lag"]
    assert check["overridden"] and check["overrideReason"] == "lag metric broken, verified by hand"
    condition = next(c for c in final["conditions"] if c["type"] == "Overridden")
    assert condition["status"] == "True" and "lag metric broken" in condition["message"]
    assert ("Overridden", "check replica-lag overridden: lag metric broken, verified by hand") in events(
        cluster, namespace, PLAN)


def test_the_owner_approves_and_the_plan_observes_before_restored(cluster: Cluster, operator: Operator,
                                                                   namespace: str):
    given_running_pods(cluster, namespace, gated_service("api", 1), 1)
    set_lag(cluster, namespace, "0")
    plan = recovery_plan(PLAN, [service_entry("api")], validation={
        "checks": [lag_check("error-budget")], "approval": {"required": True}, "observeFor": "3s"})
    apply_docs(cluster, namespace, [plan])

    waiting = wait_status(cluster, namespace, PLAN, "the approval wait", lambda s: any(
        c["type"] == "Ready" and c["reason"] == "AwaitingApproval" for c in s.get("conditions", [])))
    assert waiting["phase"] == "Validating"
    assert released_count(cluster, namespace) == 1  # traffic-side work is done; only the owner's word is missing

    cluster.kubectl("annotate", "rplan", PLAN, "reentry.dev/approve=dashboards clean", namespace=namespace)
    observing = wait_phase(cluster, namespace, PLAN, "Observing")
    assert observing["approval"]["comment"] == "dashboards clean"
    assert observing["approval"]["by"] == "unverified (set via kubectl-annotate)"
    final = wait_phase(cluster, namespace, PLAN, "Restored")
    assert final["operationallyRestoredAt"] >= final["observingSince"]
    reasons = [r for r, _ in events(cluster, namespace, PLAN)]
    assert "Approved" in reasons and "Observing" in reasons and "Restored" in reasons


def test_preflight_names_what_is_missing_before_the_outage(cluster: Cluster, operator: Operator, namespace: str):
    plan = recovery_plan(PLAN, [service_entry("ghost")], start="Manual",
                         state={"checks": [lag_check()]})
    apply_docs(cluster, namespace, [plan])
    status = wait_status(cluster, namespace, PLAN, "a PlanReady condition", lambda s: any(
        c["type"] == "PlanReady" for c in s.get("conditions", [])))
    ready = next(c for c in status["conditions"] if c["type"] == "PlanReady")
    assert ready["status"] == "False"
    assert "Service ghost (service ghost) not found" in ready["message"]
    assert "service ghost selects no pods" in ready["message"]
    assert "ConfigMap db-lag (check replica-lag) not found" in ready["message"]
    assert plan_status(cluster, namespace, PLAN)["phase"] == "Armed"


def test_abort_stops_the_reentry_and_holds_what_was_not_yet_in(cluster: Cluster, operator: Operator,
                                                                  namespace: str):
    given_running_pods(cluster, namespace, gated_service("auth", 1) + gated_service("orders", 2), 3)
    # orders re-enters slowly: one pod, then the next after 60 s
    plan = recovery_plan(PLAN, [service_entry("auth"),
                                service_entry("orders", ("auth",), release={"batch": 1, "interval": "60s"})])
    apply_docs(cluster, namespace, [plan])
    wait_status(cluster, namespace, PLAN, "orders' first batch",
                lambda s: by_name(s.get("services", [])).get("orders", {}).get("releasedPods") == 1)
    cluster.kubectl("annotate", "rplan", PLAN, "reentry.dev/abort=primary flapping again", namespace=namespace)
    aborted = wait_phase(cluster, namespace, PLAN, "Aborted")
    stalled = next(c for c in aborted["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "Aborted")
    assert "primary flapping again" in aborted["message"]
    assert released_count(cluster, namespace, "orders") == 1

    # A replacement pod of the attached auth service is still let in: aborting strands nothing that was in
    cluster.kubectl("scale", "deployment/auth", "--replicas=2", namespace=namespace)
    after = wait_status(cluster, namespace, PLAN, "auth's new pod released",
                                 lambda s: by_name(s["services"])["auth"]["releasedPods"] == 2)
    assert after["phase"] == "Aborted"
    assert released_count(cluster, namespace, "orders") == 1  # orders' second pod stays held


def test_deleting_a_plan_hands_its_pods_back(cluster: Cluster, operator: Operator, namespace: str):
    given_running_pods(cluster, namespace, gated_service("auth", 2), 2)
    plan = recovery_plan(PLAN, [service_entry("auth")], start="Manual")
    apply_docs(cluster, namespace, [plan])
    wait_phase(cluster, namespace, PLAN, "Armed")
    assert released_count(cluster, namespace) == 0
    # An Armed plan holds its pods: it carries the finalizer, so the operator sees its deletion
    held = cluster.client.get(RecoveryPlanResource, PLAN, namespace=namespace)
    assert held.metadata.finalizers == [FINALIZER]
    cluster.kubectl("delete", "rplan", PLAN, "--wait=true", "--timeout=60s", namespace=namespace)
    assert released_count(cluster, namespace) == 2


def test_a_restored_plan_carries_no_finalizer_so_its_namespace_goes_without_the_operator(
        cluster: Cluster, solo_namespace: str, tmp_path: Path):
    # Given a plan its own operator ran to Restored
    given_running_pods(cluster, solo_namespace, gated_service("auth", 1), 1)
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=solo_namespace)
    try:
        apply_docs(cluster, solo_namespace, [recovery_plan(PLAN, [service_entry("auth")])])
        wait_phase(cluster, solo_namespace, PLAN, "Restored")
        wait_for("the Restored plan's finalizer to go", lambda: not cluster.client.get(
            RecoveryPlanResource, PLAN, namespace=solo_namespace).metadata.finalizers)
    finally:
        stop_operator(operator)
    # When its namespace is deleted while no operator runs
    cluster.client.delete(Namespace, solo_namespace)

    # Then the namespace goes, the plan with it (it used to hang on the plan's finalizer)
    def gone() -> bool:
        try:
            cluster.client.get(Namespace, solo_namespace)
        except ApiError as err:
            return err.status.code == 404
        return False

    wait_for(f"namespace {solo_namespace} to be deleted", gone, timeout=90)
