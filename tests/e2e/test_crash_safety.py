"""The operator dies (SIGKILL) mid-drill and mid-ramp, and comes back: nothing repeats, nothing is skipped."""

from __future__ import annotations

import signal
from itertools import pairwise
from pathlib import Path

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap

from tests.e2e.conftest import Cluster, Operator, apply_docs, start_operator, stop_operator, wait_for
from tests.e2e.story import (
    by_name,
    complete,
    events,
    gated_service,
    given_running_pods,
    jobs_of,
    recovery_plan,
    release_times,
    released_count,
    service_entry,
    wait_phase,
    wait_status,
)

PLAN = "crash-drill"
PAUSE = "registry.k8s.io/pause:3.10"


def kill(operator: Operator) -> None:
    """SIGKILL: no shutdown handler runs, exactly like an OOM kill or a node loss."""
    operator.process.send_signal(signal.SIGKILL)
    operator.process.wait(timeout=10)


def test_kill_and_restart_at_an_action_a_hold_and_between_batches(cluster: Cluster, solo_namespace: str,
                                                                   tmp_path: Path):
    ns = solo_namespace
    # Given a restored system held back: a (3 pods, one every 2 s) <- b (2 pods)
    given_running_pods(cluster, ns, gated_service("a", 3) + gated_service("b", 2), 5)
    cluster.client.create(ConfigMap(metadata=ObjectMeta(name="routing"), data={"mode": "degraded"}), namespace=ns)
    cluster.client.create(ConfigMap(metadata=ObjectMeta(name="db-lag"), data={"lag": "0"}), namespace=ns)
    plan = recovery_plan(
        PLAN,
        [service_entry("a", release={"batch": 1, "interval": "2s"}), service_entry("b", ("a",))],
        state={
            "actions": [
                {"name": "warm-cache", "job": {"spec": {"backoffLimit": 0, "template": {"spec": {
                    "restartPolicy": "Never", "containers": [{"name": "warm", "image": PAUSE}]}}}}},
                {"name": "routing-restored", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "routing",
                                                      "patch": {"data": {"mode": "restored"}}}},
            ],
            "checks": [{"name": "replica-lag", "stableFor": "3s", "resource": {
                "apiVersion": "v1", "kind": "ConfigMap", "name": "db-lag", "path": ".data.lag", "max": 1}}],
        })
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)
    try:
        apply_docs(cluster, ns, [plan])

        # Kill 1: while the Job action runs
        wait_status(cluster, ns, PLAN, "the job action to run",
                    lambda s: by_name(s.get("actions", [])).get("warm-cache", {}).get("state") == "Running")
        job = jobs_of(cluster, ns, "warm-cache")
        kill(operator)
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)
        if not job:  # killed between marking it Running and creating it: the new operator creates it
            job = [wait_for_job(cluster, ns)]
        complete(cluster, ns, job[0].metadata.name)

        # Kill 2: during the stableFor hold of the state check
        wait_status(cluster, ns, PLAN, "the lag check to hold",
                    lambda s: by_name(s.get("checks", [])).get("replica-lag", {}).get("passingSince"))
        kill(operator)
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)

        # Kill 3: between two release batches of a
        wait_status(cluster, ns, PLAN, "a's first batch",
                    lambda s: by_name(s.get("services", [])).get("a", {}).get("releasedPods") == 1)
        kill(operator)
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)

        final = wait_phase(cluster, ns, PLAN, "Restored", timeout=120)
    finally:
        stop_operator(operator)

    # Then no action ran twice
    assert len(jobs_of(cluster, ns, "warm-cache")) == 1
    actions = by_name(final["actions"])
    assert [a["state"] for a in final["actions"]] == ["Succeeded", "Succeeded"]
    assert actions["routing-restored"]["record"] == {"previous": {"data": {"mode": "degraded"}}}
    assert cluster.client.get(ConfigMap, "routing", namespace=ns).data == {"mode": "restored"}
    # And no step was skipped: stages passed in order, the actions before the checks, a before b
    stages = final["stages"]
    assert [s["state"] for s in stages] == ["Passed"] * 5
    assert [s["startedAt"] for s in stages] == sorted(s["startedAt"] for s in stages)
    assert actions["warm-cache"]["finishedAt"] <= actions["routing-restored"]["startedAt"]
    services = by_name(final["services"])
    assert services["a"]["attachedAt"] <= services["b"]["releaseStartedAt"]
    # And a's batches kept their interval across the restart (gate times have whole seconds)
    times = release_times(cluster, ns, "a")
    assert len(times) == 3
    assert all((later - earlier).total_seconds() >= 1 for earlier, later in pairwise(times))
    # And every pod ended released
    assert released_count(cluster, ns) == 5


def wait_for_job(cluster: Cluster, namespace: str) -> Job:
    jobs = wait_for("the warm-cache Job", lambda: jobs_of(cluster, namespace, "warm-cache"))
    return jobs[0]


def test_kill_and_restart_mid_ramp_neither_repeats_nor_skips_a_step(cluster: Cluster, solo_namespace: str,
                                                                     tmp_path: Path):
    ns = solo_namespace
    # Given a restored service and a retry budget to be released in three steps
    given_running_pods(cluster, ns, gated_service("checkout"), 1)
    cluster.client.create(ConfigMap(metadata=ObjectMeta(name="retry-policy"), data={"budget": "0"}), namespace=ns)
    ramp = {"steps": [{"weight": 20, "hold": "3s"}, {"weight": 60, "hold": "3s"}, {"weight": 100}],
            "targets": [{"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 50}}]}
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)
    try:
        apply_docs(cluster, ns, [recovery_plan(PLAN, [service_entry("checkout")], traffic=ramp)])
        # Kill 1: during the first hold
        wait_status(cluster, ns, PLAN, "the first hold",
                    lambda s: (s.get("traffic") or {}).get("state") == "Holding" and s["traffic"]["weight"] == 20)
        kill(operator)
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)
        # Kill 2: right after the second weight is decided (the write may or may not have happened)
        wait_status(cluster, ns, PLAN, "the second step decided",
                    lambda s: (s.get("traffic") or {}).get("weight") == 60)
        kill(operator)
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=ns)
        final = wait_phase(cluster, ns, PLAN, "Restored", timeout=120)
    finally:
        stop_operator(operator)

    # Then every step was taken once, in order, and the target ends at its normal value
    assert [h["weight"] for h in final["traffic"]["history"]] == [20, 60, 100]
    assert cluster.client.get(ConfigMap, "retry-policy", namespace=ns).data == {"budget": "50"}
    # And a write finished by the restarted operator is not mistaken for someone else's edit
    assert "TrafficDrift" not in [reason for reason, _ in events(cluster, ns, PLAN)]
