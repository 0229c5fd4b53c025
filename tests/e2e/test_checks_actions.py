"""Checks and actions against a real API server: what a probe sees, what an action changes, once.

Each test calls the probes and executors directly, as the engine would, with their own async client.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from lightkube.resources.batch_v1 import Job
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Secret
from lightkube.types import PatchType

from reentry import checks, errors
from reentry.actions import ActionContext
from reentry.actions.job import PLAN_LABEL
from reentry.engine.observations import CheckResult
from reentry.kube import Kube, RecoveryPlanResource
from reentry.model import ActionState, Check, FailureClass, ObjectRef, Outcome, ResourceCheck
from reentry.objects import Objects
from tests.e2e.conftest import Cluster, apply_docs, wait_for
from tests.e2e.story import condition, execute, finish, jobs_of, now, probe, run, started

PAUSE = "registry.k8s.io/pause:3.10"


# ---- helpers: the engine's side of the calls ----------------------------------------------------


def passes(cluster: Cluster, namespace: str, name: str, **kind: Any) -> CheckResult:
    """Wait until the check passes (the controllers and the simulated kubelet take a moment)."""
    return wait_for(f"check {name} to pass", lambda: (r := probe(cluster, namespace, name, **kind)).outcome
                    == Outcome.PASS and r, timeout=60)


def deployment(name: str, replicas: int, gated: bool = False) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": name, "image": PAUSE}]}
    if gated:
        pod_spec["readinessGates"] = [{"conditionType": "reentry.dev/released"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def lease(name: str, holder: str | None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec = {"holderIdentity": holder, "leaseDurationSeconds": 15} if holder else {}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "labels": labels or {"app": "worker"}}, "spec": spec}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": PAUSE}]}}


def a_plan(cluster: Cluster, namespace: str, name: str = "failback") -> ActionContext:
    """A real RecoveryPlan to own what actions create (the garbage collector removes orphans)."""
    body = {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "metadata": {"name": name},
            "spec": {"owner": {"team": "payments"},
                     "services": [{"name": "db", "selector": {"matchLabels": {"app": "db"}}, "service": "db"}]}}
    apply_docs(cluster, namespace, [body])
    plan = cluster.client.get(RecoveryPlanResource, name, namespace=namespace)
    assert plan.metadata is not None and plan.metadata.uid
    return ActionContext(plan_name=name, plan_uid=plan.metadata.uid, action_name="")


def in_context(plan: ActionContext, action_name: str) -> ActionContext:
    return ActionContext(plan.plan_name, plan.plan_uid, action_name)


# ---- checks -------------------------------------------------------------------------------------


def test_workload_passes_when_its_replicas_are_available(cluster: Cluster, namespace: str):
    # Given a Deployment of 2 that the simulated kubelet brings up
    apply_docs(cluster, namespace, [deployment("db", 2)])

    # Then the workload check passes, with the generation observed
    result = passes(cluster, namespace, "db-up", workload={"name": "db"})
    assert (result.observed, result.threshold) == ("2/2 available, generation 1 observed 1", "min 2 available")

    # And asking for more than there are fails with the threshold named
    more = probe(cluster, namespace, "db-3", workload={"name": "db", "minAvailable": 3})
    assert (more.outcome, more.threshold, more.message) == (Outcome.FAIL, "min 3 available",
                                                            "Deployment db: 2 of 3 replicas available")

    # And a workload that does not exist fails, named
    missing = probe(cluster, namespace, "cache", workload={"name": "cache", "kind": "StatefulSet"})
    assert (missing.outcome, missing.message) == (Outcome.FAIL, "StatefulSet cache not found")


def test_workload_held_back_by_the_readiness_gate_fails(cluster: Cluster, namespace: str):
    # Given a restored Deployment whose pods are held by the gate
    apply_docs(cluster, namespace, [deployment("orders", 2, gated=True)])

    # Then the check fails while its pods run, because none is available
    result = wait_for("both pods counted", lambda: (r := probe(cluster, namespace, "orders", workload={
        "name": "orders"})).observed == "0/2 available, generation 1 observed 1" and r)
    assert (result.outcome, result.message) == (Outcome.FAIL, "Deployment orders: 0 of 2 replicas available")


def statefulset(name: str, min_ready_seconds: int = 0) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": 1, "serviceName": name, "minReadySeconds": min_ready_seconds,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": PAUSE}]}}}}


def test_statefulset_counts_available_not_just_ready(cluster: Cluster, namespace: str):
    # Given two StatefulSets whose pods are ready, one of them asking pods to stay ready 5 minutes first
    apply_docs(cluster, namespace, [statefulset("pg"), statefulset("pg-slow", min_ready_seconds=300)])

    # Then the first passes, and the second fails although its pod is ready
    assert passes(cluster, namespace, "pg", workload={"name": "pg", "kind": "StatefulSet"}).observed == (
        "1/1 available, generation 1 observed 1")
    slow = probe(cluster, namespace, "pg-slow", workload={"name": "pg-slow", "kind": "StatefulSet"})
    assert (slow.outcome, slow.observed) == (Outcome.FAIL, "0/1 available, generation 1 observed 1")


def test_endpoints_count_ready_addresses_of_the_service(cluster: Cluster, namespace: str):
    # Given a Service with two ready pods behind it
    apply_docs(cluster, namespace, [deployment("auth", 2), service("auth")])

    # Then it passes at two, and fails at three with the threshold named
    result = passes(cluster, namespace, "auth", endpoints={"service": "auth", "minReady": 2})
    assert (result.observed, result.threshold) == ("2 ready endpoints", "min 2 ready")
    more = probe(cluster, namespace, "auth-3", endpoints={"service": "auth", "minReady": 3})
    assert (more.outcome, more.message) == (Outcome.FAIL, "Service auth: 2 of 3 endpoints ready")

    # And a Service that does not exist fails, named
    missing = probe(cluster, namespace, "nope", endpoints={"service": "nope"})
    assert (missing.outcome, missing.message) == (Outcome.FAIL, "Service nope not found")


def test_resource_check_reads_any_field(cluster: Cluster, namespace: str):
    # Given a ConfigMap with a retry budget and an annotation whose key holds dots
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "retry-policy", "annotations": {"example.com/owner": "payments"}},
              "data": {"retryBudgetPercent": "20", "mode": "cautious"}}
    apply_docs(cluster, namespace, [config, deployment("db", 1)])
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "retry-policy"}

    # Then a value within bounds passes, and text compares as text
    within = probe(cluster, namespace, "budget", resource={**ref, "path": ".data.retryBudgetPercent", "min": 10})
    assert (within.outcome, within.observed, within.threshold) == (Outcome.PASS, "20", "min 10")
    owner = probe(cluster, namespace, "owner", resource={
        **ref, "path": ".metadata.annotations['example.com/owner']", "equals": "payments"})
    assert owner.outcome == Outcome.PASS

    # And a value out of bounds fails with the threshold named
    over = probe(cluster, namespace, "budget", resource={**ref, "path": ".data.retryBudgetPercent", "max": 5})
    assert (over.outcome, over.observed, over.threshold) == (Outcome.FAIL, "20", "max 5")
    assert over.message == "ConfigMap retry-policy: .data.retryBudgetPercent is 20, wanted max 5"

    # And text where a number is needed fails, saying so
    text = probe(cluster, namespace, "mode", resource={**ref, "path": ".data.mode", "min": 1})
    assert (text.outcome, text.message) == (Outcome.FAIL, "ConfigMap retry-policy: .data.mode is cautious, "
                                                          "not a number")

    # And a field the object does not have is NoData, naming the path
    absent = probe(cluster, namespace, "absent", resource={**ref, "path": ".data.missing", "equals": "x"})
    assert (absent.outcome, absent.message) == (Outcome.NO_DATA, "ConfigMap retry-policy has no .data.missing")

    # And a path that cannot be read is an Error, and so is a kind the API server does not serve
    bad = probe(cluster, namespace, "bad", resource={**ref, "path": ".data[", "equals": "x"})
    assert (bad.outcome, bad.message) == (Outcome.ERROR, "path '.data[': unclosed '[' at position 5")
    unknown = probe(cluster, namespace, "unknown", resource={
        "apiVersion": "apps/v1", "kind": "Deploymnet", "name": "db", "path": ".spec.replicas"})
    assert (unknown.outcome, unknown.message) == (Outcome.ERROR, "resource check unknown: no such kind Deploymnet "
                                                                 "in apps/v1")
    group = probe(cluster, namespace, "group", resource={
        "apiVersion": "example.com/v1", "kind": "Thing", "name": "db", "path": ".spec"})
    assert group.outcome == Outcome.ERROR and "serves no example.com/v1" in group.message

    # And an object that does not exist fails
    gone = probe(cluster, namespace, "gone", resource={**ref, "name": "gone", "path": ".data.x"})
    assert (gone.outcome, gone.message) == (Outcome.FAIL, "ConfigMap gone not found")

    # And conditions are selected by type, on any kind (custom resources alike)
    available = passes(cluster, namespace, "db-available", resource={
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "db",
        "path": ".status.conditions[type=Available].status", "equals": "True"})
    assert available.threshold == "equals True"
    crd = probe(cluster, namespace, "crd", resource={
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "name": "recoveryplans.reentry.dev", "path": ".spec.names.shortNames[0]", "equals": "rplan"})
    assert crd.outcome == Outcome.PASS


def test_resource_check_never_shows_a_secret(cluster: Cluster, namespace: str):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"},
              "stringData": {"password": "hunter2"}}
    apply_docs(cluster, namespace, [secret])
    result = probe(cluster, namespace, "creds", resource={
        "apiVersion": "v1", "kind": "Secret", "name": "db-creds", "path": ".data.password", "equals": "x"})
    assert result.outcome == Outcome.FAIL
    assert result.observed is not None and result.observed.startswith("sha256:")
    assert "aHVudGVyMg" not in f"{result.observed} {result.message}"


def test_a_name_that_is_a_path_reaches_nothing(cluster: Cluster, namespace: str):
    """Given a Secret, a plan author who names it through a ConfigMap path is refused at every layer."""
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"},
                                     "stringData": {"password": "hunter2"}}])
    hostile = {"apiVersion": "v1", "kind": "ConfigMap", "name": "../../secrets/db-creds",
               "path": ".data.password", "equals": "x"}
    # The API server refuses the plan (the CRD's pattern), naming the field.
    plan = {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "metadata": {"name": "peek"},
            "spec": {"owner": {"team": "t"}, "services": [{"name": "a", "selector": {}, "service": "a"}],
                     "state": {"checks": [{"name": "peek", "resource": hostile}]}}}
    refused = cluster.kubectl("apply", "-f", "-", namespace=namespace, check=False, stdin=json.dumps(plan))
    assert refused.returncode != 0
    assert "spec.state.checks[0].resource.name" in refused.stderr
    # The object client refuses it again when the model is bypassed: no request is made.
    check = Check.model_construct(name="peek", resource=ResourceCheck.model_construct(**hostile))
    result = run(cluster, lambda kube, objects: checks.probe(kube, objects, namespace, check))
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "name '../../secrets/db-creds' is not a valid Kubernetes name" in (result.message or "")

    async def asked_for_a_configmap_answered_a_secret(kube: Kube, objects: Objects) -> CheckResult:
        # Whatever a URL resolves to, the answer is judged by its own kind: here the ConfigMap
        # resource is made to point at secrets, as a traversal would have.
        objects._resources[("v1", "ConfigMap")] = await objects.resource("v1", "Secret")
        spec = Check.model_validate({"name": "peek", "resource": {**hostile, "name": "db-creds"}})
        return await checks.probe(kube, objects, namespace, spec)

    answered = run(cluster, asked_for_a_configmap_answered_a_secret)
    assert (answered.outcome, answered.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert answered.message == "resource check peek: asked for ConfigMap db-creds, the API server answered 'Secret'"
    assert "aHVudGVyMg" not in f"{answered.observed} {answered.message}"


def given_leases_old_and_new(cluster: Cluster, namespace: str) -> None:
    """A leader from before the outage (its pod is gone), a live one, a free Lease, and one unselected."""
    apply_docs(cluster, namespace, [
        pod("worker-7d9f"),
        lease("worker-old", "worker-5c6b-x2k9q_4f1e0b2c"),
        lease("worker-live", "worker-7d9f_9a8b7c6d"),
        lease("worker-free", None),
        lease("unrelated", "gone-pod", labels={"app": "other"}),
    ])


def test_leases_held_by_a_gone_pod_are_stale(cluster: Cluster, namespace: str):
    given_leases_old_and_new(cluster, namespace)
    selector = {"selector": {"matchLabels": {"app": "worker"}}}

    result = probe(cluster, namespace, "leaders", leases=selector)
    assert result.outcome == Outcome.FAIL
    assert result.observed == "1 of 3 stale: worker-old (held by worker-5c6b-x2k9q_4f1e0b2c)"

    # By name: the live and the free Lease pass
    assert probe(cluster, namespace, "live", leases={"names": ["worker-live", "worker-free"]}).outcome == Outcome.PASS

    # Nothing selected: no data rather than a pass
    none = probe(cluster, namespace, "none", leases={"names": ["absent"]})
    assert (none.outcome, none.message) == (Outcome.NO_DATA, f"no Lease selected in namespace {namespace}")


def test_release_leases_deletes_only_the_stale_ones(cluster: Cluster, namespace: str):
    given_leases_old_and_new(cluster, namespace)
    context = ActionContext("failback", "uid", "release")
    target = {"releaseLeases": {"selector": {"matchLabels": {"app": "worker"}}}}

    done = execute(cluster, namespace, context, {}, **target)
    assert (done.state, done.record, done.message) == (ActionState.SUCCEEDED, {"released": ["worker-old"]},
                                                       "released worker-old")
    left = sorted(lease.metadata.name for lease in cluster.client.list(Lease, namespace=namespace))
    assert left == ["unrelated", "worker-free", "worker-live"]

    # Run again (a restart before the status was written): nothing more goes, the record holds
    again = execute(cluster, namespace, context, done.record, **target)
    assert (again.state, again.record) == (ActionState.SUCCEEDED, {"released": ["worker-old"]})


def test_a_lease_deleted_only_at_the_version_judged(cluster: Cluster, namespace: str):
    apply_docs(cluster, namespace, [lease("leader", "gone-pod")])
    read = cluster.client.get(Lease, "leader", namespace=namespace)
    assert read.metadata is not None
    # A new leader takes it over after it was read
    cluster.client.patch(Lease, "leader", {"spec": {"holderIdentity": "new-pod"}}, namespace=namespace,
                         patch_type=PatchType.MERGE)
    ref = ObjectRef(apiVersion="coordination.k8s.io/v1", kind="Lease", name="leader")

    with pytest.raises(errors.Conflict) as refused:
        run(cluster, lambda _, objects: objects.delete(ref, namespace, resource_version=read.metadata.resourceVersion))
    assert refused.value.code == 409
    assert run(cluster, lambda _, objects: objects.delete(ref, namespace)) is True
    assert run(cluster, lambda _, objects: objects.delete(ref, namespace)) is False


# ---- patch --------------------------------------------------------------------------------------


def test_patch_records_what_it_replaces_before_it_patches(cluster: Cluster, namespace: str):
    # Given the retry policy the DR site ran with
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "retry-policy"},
                                     "data": {"retryBudgetPercent": "0", "mode": "dr"}}])
    context = ActionContext("failback", "uid", "restore-retries")
    patch = {"patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "retry-policy", "patch": {
        "data": {"retryBudgetPercent": "20", "mode": None},
        "metadata": {"annotations": {"example.com/restored": "true"}}}}}

    # When the action takes its first step, it records the old values and changes nothing
    first = execute(cluster, namespace, context, {}, **patch)
    assert first.state == ActionState.RUNNING
    # (null: absent before; kubectl apply gave the ConfigMap annotations of its own)
    assert first.record == {"previous": {"data": {"retryBudgetPercent": "0", "mode": "dr"},
                                         "metadata": {"annotations": {"example.com/restored": None}}}}
    assert cluster.client.get(ConfigMap, "retry-policy", namespace=namespace).data == {
        "retryBudgetPercent": "0", "mode": "dr"}

    # Then the second step patches; repeating it (a restart) changes nothing more
    for _ in range(2):
        second = execute(cluster, namespace, context, first.record, **patch)
        assert (second.state, second.record) == (ActionState.SUCCEEDED, first.record)
    patched = cluster.client.get(ConfigMap, "retry-policy", namespace=namespace)
    assert patched.data == {"retryBudgetPercent": "20"}
    assert patched.metadata is not None and patched.metadata.annotations
    assert patched.metadata.annotations["example.com/restored"] == "true"
    assert any(f.manager == "reentry" for f in patched.metadata.managedFields or [])

    # And the record is the merge patch that undoes it
    cluster.client.patch(ConfigMap, "retry-policy", first.record["previous"], namespace=namespace,
                         patch_type=PatchType.MERGE)
    undone = cluster.client.get(ConfigMap, "retry-policy", namespace=namespace)
    assert undone.data == {"retryBudgetPercent": "0", "mode": "dr"}
    assert undone.metadata is not None and "example.com/restored" not in (undone.metadata.annotations or {})


def test_patch_on_a_secret_keeps_only_a_fingerprint(cluster: Cluster, namespace: str):
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-key"},
                                     "data": {"key": "ZHItc2l0ZQ=="}}])
    context = ActionContext("failback", "uid", "rotate")
    patch = {"patch": {"apiVersion": "v1", "kind": "Secret", "name": "api-key",
                       "patch": {"data": {"key": "cHJpbWFyeQ=="}}}}

    first = execute(cluster, namespace, context, {}, **patch)
    canonical = json.dumps({"data": {"key": "ZHItc2l0ZQ=="}}, sort_keys=True, separators=(",", ":"))
    assert first.record == {"previousFingerprint": hashlib.sha256(canonical.encode()).hexdigest()}
    assert "ZHItc2l0ZQ" not in f"{first.record} {first.message}"

    second = execute(cluster, namespace, context, first.record, **patch)
    assert second.state == ActionState.SUCCEEDED
    assert cluster.client.get(Secret, "api-key", namespace=namespace).data == {"key": "cHJpbWFyeQ=="}


def test_patch_on_a_missing_object_fails_naming_it(cluster: Cluster, namespace: str):
    result = execute(cluster, namespace, ActionContext("failback", "uid", "scale"), {}, patch={
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost", "patch": {"spec": {"replicas": 3}}})
    assert (result.state, result.message) == (ActionState.FAILED, "Deployment ghost not found")


# ---- job ----------------------------------------------------------------------------------------

JOB = {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
    "restartPolicy": "Never", "containers": [{"name": "migrate", "image": PAUSE}]}}}}}


def test_job_runs_once_to_completion(cluster: Cluster, namespace: str):
    context = in_context(a_plan(cluster, namespace), "migrate")

    # When the first step runs twice (a restart before the record was written)
    first = execute(cluster, namespace, context, {}, **JOB)
    again = execute(cluster, namespace, context, {}, **JOB)

    # Then there is one Job, named after plan, action and plan uid, owned by the plan
    name = first.record["job"]
    expected = f"failback-migrate-{hashlib.sha1(context.plan_uid.encode()).hexdigest()[:6]}"
    assert (first.state, name, again.record) == (ActionState.RUNNING, expected, first.record)
    [job] = jobs_of(cluster, namespace, "migrate")
    assert job.metadata is not None and job.metadata.labels is not None
    assert (job.metadata.name, job.metadata.labels[PLAN_LABEL]) == (name, "failback")
    [owner] = job.metadata.ownerReferences or []
    assert (owner.kind, owner.name, owner.uid) == ("RecoveryPlan", "failback", context.plan_uid)

    # And while it runs, the step says how far it is
    started(cluster, namespace, name)
    running = execute(cluster, namespace, context, first.record, **JOB)
    assert (running.state, running.message) == (ActionState.RUNNING, f"Job {name}: active 1, succeeded 0, failed 0")

    # When it completes (the API server wants SuccessCriteriaMet before Complete, and a completionTime)
    finish(cluster, namespace, name, {"succeeded": 1, "completionTime": now(), "conditions": [
        condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods")]})

    # Then the action succeeded
    done = execute(cluster, namespace, context, first.record, **JOB)
    assert (done.state, done.record, done.message) == (ActionState.SUCCEEDED, {"job": name}, f"Job {name} complete")


def test_job_failure_lands_in_the_message(cluster: Cluster, namespace: str):
    context = in_context(a_plan(cluster, namespace), "reindex")
    first = execute(cluster, namespace, context, {}, **JOB)
    name = first.record["job"]
    started(cluster, namespace, name)

    # When the Job fails (FailureTarget must come before Failed)
    reason, message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    finish(cluster, namespace, name, {"failed": 1, "conditions": [
        condition("FailureTarget", reason, message), condition("Failed", reason, message)]})

    failed = execute(cluster, namespace, context, first.record, **JOB)
    assert (failed.state, failed.message) == (ActionState.FAILED, f"Job {name} failed: {reason}: {message}")


def test_job_deleted_under_the_action_fails_naming_it(cluster: Cluster, namespace: str):
    context = in_context(a_plan(cluster, namespace), "warm-cache")
    first = execute(cluster, namespace, context, {}, **JOB)
    name = first.record["job"]
    cluster.client.delete(Job, name, namespace=namespace)
    wait_for("the Job to be gone", lambda: not jobs_of(cluster, namespace, "warm-cache"))

    gone = execute(cluster, namespace, context, first.record, **JOB)
    assert (gone.state, gone.message) == (ActionState.FAILED, f"Job {name} not found: deleted before it finished")


def test_invalid_job_spec_fails_with_the_api_servers_words(cluster: Cluster, namespace: str):
    context = in_context(a_plan(cluster, namespace), "broken")
    result = execute(cluster, namespace, context, {}, job={"spec": {"template": {"spec": {"containers": []}}}})
    assert result.state == ActionState.FAILED
    assert result.message.startswith("job action broken: 422 Invalid: Job.batch")
    assert "spec.template.spec.containers: Required value" in result.message
