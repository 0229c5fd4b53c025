"""Engine rules with a fake clock: checks, stableFor, timeouts, overrides, actions, controls, dry run, finish line."""

from __future__ import annotations

from reentry.engine import controls as control_parsing
from reentry.engine.observations import ActionProgress, ApprovalNote, CheckResult, Controls, ServiceObservation
from reentry.engine.reconcile import evaluate, running_actions, wanted_checks
from reentry.model import ActionState, Outcome, Phase, ServiceState, StageState
from tests.unit.builders import Drill, attached_auth, failing, observed, passing, plan, pods

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}


def test_a_stage_passes_only_when_all_its_checks_pass(clock):
    other = {**LAG, "name": "queue-order"}
    d = Drill(plan({"name": "auth"}, state={"checks": [LAG, other]}), clock)
    d.step()
    assert d.status.phase == Phase.STATE_RECONCILIATION
    assert [c.name for c in wanted_checks(d.spec, d.status)] == ["replica-lag", "queue-order"]
    d.step(checks={"replica-lag": passing(), "queue-order": failing("5", "max 1")})
    assert d.status.phase == Phase.STATE_RECONCILIATION
    assert "queue-order (Fail: 5 vs max 1)" in d.status.message
    assert d.releases == []  # consumers stay held while state is not reconciled
    d.step(checks={"replica-lag": passing(), "queue-order": passing()})
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE


def test_no_plan_can_reorder_stages_identity_always_gates_dependencies(clock):
    ident = {**LAG, "name": "keys-published"}
    d = Drill(plan({"name": "auth"}, identity={"checks": [ident]}), clock)
    for _ in range(3):
        d.step(checks={"keys-published": failing()})
    assert d.status.phase == Phase.IDENTITY_PRE_WARMING
    assert [s.state for s in d.status.stages][:3] == [StageState.RUNNING, StageState.PENDING, StageState.PENDING]
    assert d.releases == []


def test_stable_for_needs_continuous_pass_and_a_flap_restarts_the_clock(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [{**LAG, "stableFor": "10s"}]}), clock)
    d.step()
    d.step(checks={"replica-lag": passing()})            # t=2 passing since 2
    d.step(8, checks={"replica-lag": passing()})         # t=10: 8s, not yet
    assert d.status.phase == Phase.STATE_RECONCILIATION
    assert "must stay so for 10s" in d.status.message
    d.step(1, checks={"replica-lag": failing("3")})      # flap
    assert d.check("replica-lag").passingSince is None
    d.step(1, checks={"replica-lag": passing()})         # t=12 passing again since 12
    d.step(9, checks={"replica-lag": passing()})         # t=21: 9s
    assert d.status.phase == Phase.STATE_RECONCILIATION
    d.step(1, checks={"replica-lag": passing()})         # t=22: 10s
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert d.reasons().count("CheckFailed") == 1 and "CheckPassing" in d.reasons()


def test_results_keep_observed_value_and_threshold(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [LAG]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing("5.2", "max 1")})
    c = d.check("replica-lag")
    assert (c.result, c.observed, c.threshold, c.stage, c.kind) == (Outcome.FAIL, "5.2", "max 1", "state", "resource")
    d.step(checks={"replica-lag": CheckResult(Outcome.NO_DATA, message="field .data.lag missing")})
    assert d.check("replica-lag").result == Outcome.NO_DATA
    d.step(checks={"replica-lag": CheckResult(Outcome.ERROR, message="unknown kind")})
    assert d.check("replica-lag").result == Outcome.ERROR
    assert d.reasons().count("CheckFailed") == 2  # Fail and Error announce themselves, NoData waits quietly


def test_timeout_pauses_and_a_fresh_resume_token_resumes_with_a_new_window(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [{**LAG, "timeout": "30s"}]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    d.step(29, checks={"replica-lag": failing()})
    assert d.status.phase == Phase.STATE_RECONCILIATION
    d.step(1, checks={"replica-lag": failing()})
    assert d.status.phase == Phase.PAUSED
    assert d.condition("Ready").reason == "CheckTimeout"
    assert "CheckTimeout" in d.reasons() and "Paused" in d.reasons()
    d.step(5, checks={"replica-lag": failing()})
    assert d.status.phase == Phase.PAUSED  # stays paused, no new events
    d.step(controls=Controls(resume_token="1"), checks={"replica-lag": failing()})
    assert d.status.phase == Phase.STATE_RECONCILIATION and "Resumed" in d.reasons()
    d.step(controls=Controls(resume_token="1"), checks={"replica-lag": passing()})
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE


def test_timeout_with_on_timeout_fail_fails_the_plan(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [{**LAG, "timeout": "5s", "onTimeout": "Fail"}]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    d.step(5, checks={"replica-lag": failing()})
    assert d.status.phase == Phase.FAILED
    stalled = d.condition("Stalled")
    assert (stalled.status, stalled.reason) == ("True", "CheckTimeout")
    assert "replica-lag timed out" in stalled.message


def test_override_counts_as_passed_is_recorded_and_stays_visible(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG]},
                overrides=[{"check": "replica-lag", "reason": "lag metric broken, verified by hand"}])
    d = Drill(spec, clock)
    d.step()
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE  # state passed on the override alone
    c = d.check("replica-lag")
    assert c.overridden and c.overrideReason == "lag metric broken, verified by hand"
    d.step(checks={"replica-lag": failing()})
    assert d.status.phase == Phase.RESTORED
    assert d.reasons().count("Overridden") == 1
    assert "CheckFailed" not in d.reasons()
    overridden = d.condition("Overridden")
    assert overridden.status == "True" and "replica-lag: lag metric broken" in overridden.message


def test_actions_run_once_in_order_before_checks_count(clock):
    spec = plan({"name": "auth"}, state={
        "actions": [{"name": "flush", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patch": {}}},
                    {"name": "migrate", "job": {"spec": {}}}],
        "checks": [LAG]})
    d = Drill(spec, clock)
    d.step()
    assert [(a.name, a.state) for a in d.status.actions] == [("flush", ActionState.RUNNING),
                                                           ("migrate", ActionState.PENDING)]
    assert running_actions(d.status) == ["flush"]
    d.step(checks={"replica-lag": passing()}, actions={"flush": ActionProgress(ActionState.RUNNING, {"previous": 1})})
    assert d.status.actions[0].record == {"previous": 1}
    assert d.status.phase == Phase.STATE_RECONCILIATION  # checks do not count while actions run
    d.step(checks={"replica-lag": passing()}, actions={"flush": ActionProgress(ActionState.SUCCEEDED, {"previous": 1})})
    assert running_actions(d.status) == ["migrate"]
    d.step(checks={"replica-lag": passing()}, actions={"migrate": ActionProgress(ActionState.SUCCEEDED, {"job": "j"})})
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert d.reasons().count("ActionStarted") == 2 and d.reasons().count("ActionCompleted") == 2


def test_a_failed_action_fails_the_plan_with_its_message(clock):
    spec = plan({"name": "auth"}, identity={"actions": [{"name": "migrate", "job": {"spec": {}}}]})
    d = Drill(spec, clock)
    d.step()
    d.step(actions={"migrate": ActionProgress(ActionState.FAILED, {"job": "j"}, "BackoffLimitExceeded")})
    assert d.status.phase == Phase.FAILED
    assert "migrate failed: BackoffLimitExceeded" in d.condition("Stalled").message


def test_pause_freezes_releases_and_resume_continues_where_it_was(clock):
    spec = plan({"name": "auth", "release": {"batch": 1, "interval": "1s"}})
    d = Drill(spec, clock)
    d.step(auth=ServiceObservation(pods("auth", 3)))
    assert len(d.releases) == 1
    paused = Controls(paused=True)
    d.step(auth=ServiceObservation(pods("auth", 3, released=[0])), controls=paused)
    d.step(5, auth=ServiceObservation(pods("auth", 3, released=[0])), controls=paused)
    assert d.status.phase == Phase.PAUSED and len(d.releases) == 1
    assert d.status.services[0].state == ServiceState.RELEASING
    assert running_actions(d.status) == []
    d.step(auth=ServiceObservation(pods("auth", 3, released=[0])))
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE and len(d.releases) == 2
    assert d.reasons().count("Paused") == 1 and d.reasons().count("Resumed") == 1


def test_abort_stops_everything_but_never_strands_pods_of_attached_services(clock):
    spec = plan({"name": "auth"}, {"name": "orders", "dependsOn": ["auth"]})
    d = Drill(spec, clock)
    d.step(auth=ServiceObservation(pods("auth", 1)), orders=ServiceObservation(pods("orders", 2)))
    d.step(auth=attached_auth(), orders=ServiceObservation(pods("orders", 2)))  # auth attached
    abort = Controls(abort_reason="primary flapping")
    d.step(auth=attached_auth(), orders=ServiceObservation(pods("orders", 2)), controls=abort)
    assert d.status.phase == Phase.ABORTED
    assert d.condition("Stalled").reason == "Aborted"
    released_before = [r.service for r in d.releases]
    # a replacement auth pod appears after the abort: released; orders stays held
    d.step(auth=ServiceObservation(pods("auth", 2, released=[0]), 1), orders=ServiceObservation(pods("orders", 2)),
           controls=abort)
    assert [r.service for r in d.releases] == [*released_before, "auth"]
    assert d.status.phase == Phase.ABORTED


def test_dry_run_reports_what_it_would_do_and_changes_nothing(clock):
    spec = plan({"name": "auth"}, {"name": "orders", "dependsOn": ["auth"]}, mode="DryRun",
                state={"actions": [{"name": "migrate", "job": {"spec": {}}}]})
    d = Drill(spec, clock)
    for _ in range(6):
        d.step(auth=ServiceObservation(pods("auth", 2)), orders=ServiceObservation(pods("orders", 3)))
    assert d.releases == []
    assert running_actions(d.status) == []
    assert d.status.actions[0].message == "dry run: would run job action migrate"
    assert {s.name: s.wouldRelease for s in d.status.services} == {"auth": 2, "orders": 3}
    assert "DryRunWouldRelease" in d.reasons() and "DryRunWouldRun" in d.reasons()
    assert d.status.phase == Phase.RESTORED
    assert d.condition("Ready").reason == "DryRun"
    assert "nothing was changed" in d.status.message


def test_approval_and_observe_for_gate_the_finish_line(clock):
    check = {**LAG, "name": "error-rate"}
    spec = plan({"name": "auth"}, validation={"checks": [check], "approval": {"required": True},
                                              "observeFor": "60s"})
    d = Drill(spec, clock)
    for _ in range(3):
        d.step(checks={"error-rate": passing()})
    assert d.status.phase == Phase.VALIDATING
    assert d.condition("Ready").reason == "AwaitingApproval"
    assert "waiting for approval by payments" in d.status.message

    approve = Controls(approval=ApprovalNote(by="alice@example.com", comment="dashboards clean"))
    d.step(checks={"error-rate": passing()}, controls=approve)
    assert d.status.phase == Phase.OBSERVING
    assert (d.status.approval.by, d.status.approval.comment) == ("alice@example.com", "dashboards clean")
    d.step(30, checks={"error-rate": failing("0.2", "max 0.02")}, controls=approve)
    assert d.condition("ValidationHealthy").status == "False"
    assert "ValidationFailing" in d.reasons()
    d.step(1, checks={"error-rate": passing()}, controls=approve)      # window restarts here
    d.step(59, checks={"error-rate": passing()}, controls=approve)
    assert d.status.phase == Phase.OBSERVING
    d.step(1, checks={"error-rate": passing()}, controls=approve)
    assert d.status.phase == Phase.RESTORED
    assert d.reasons().count("Approved") == 1


def test_on_technical_recovery_waits_for_its_checks(clock):
    up = {**LAG, "name": "primary-up"}
    spec = plan({"name": "auth"}, technicalRecovery={"checks": [up]}, restorationBudget="10m")
    d = Drill(spec, clock)
    d.step(checks={"primary-up": failing()})
    assert d.status.phase == Phase.ARMED and "waiting for technical recovery" in d.status.message
    d.step(checks={"primary-up": passing()})
    assert d.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert d.status.technicalRecoveryAt == "2026-11-23T14:00:02.000Z"
    assert d.status.restoration.deadline == "2026-11-23T14:10:02.000Z"


def test_budget_exceeded_is_announced_once_and_elapsed_recorded(clock):
    spec = plan({"name": "auth"}, restorationBudget="1m")
    d = Drill(spec, clock)
    d.step(auth=ServiceObservation(pods("auth", 1)))
    d.step(61, auth=ServiceObservation(pods("auth", 1)))
    d.step(1, auth=ServiceObservation(pods("auth", 1)))
    assert d.reasons().count("BudgetExceeded") == 1
    d.step(1)
    assert d.status.phase == Phase.RESTORED
    assert d.status.restoration.exceeded and d.status.restoration.elapsed == "1m3s"


def test_preflight_reports_missing_references_and_ungated_pods_before_the_start(clock):
    spec = plan({"name": "auth"}, start="Manual")
    obs = observed(auth=ServiceObservation(pods("auth", 2, gated=False), service_exists=False))
    obs = type(obs)(services=obs.services, missing_refs=("Deployment db (check db-ready)",))
    decision = evaluate(spec, 1, None, obs, clock.now)
    ready = next(c for c in decision.status.conditions if c.type == "PlanReady")
    assert ready.status == "False" and ready.reason == "ReferencesMissing"
    assert "Service auth (service auth) not found" in ready.message
    assert "2 pod(s) of auth lack the reentry.dev/released readiness gate" in ready.message
    assert "Deployment db (check db-ready) not found" in ready.message


def test_unmatched_gated_pods_are_reported_on_change_only(clock):
    spec = plan({"name": "auth"}, start="Manual")
    obs = observed(auth=attached_auth())
    obs = type(obs)(services=obs.services, unmatched_gated_pods=("legacy-0",))
    d1 = evaluate(spec, 1, None, obs, clock.now)
    assert d1.status.unmatchedGatedPods == ["legacy-0"]
    d2 = evaluate(spec, 1, d1.status, obs, clock.tick())
    assert [e.reason for e in d1.events].count("UnmatchedGatedPods") == 1
    assert "UnmatchedGatedPods" not in [e.reason for e in d2.events]


def test_duplicate_check_names_and_unknown_overrides_are_invalid(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG, LAG]}, overrides=[{"check": "nope", "reason": "x"}])
    d = evaluate(spec, 1, None, observed(), clock.now)
    assert d.status.phase == Phase.FAILED
    assert "duplicate check name 'replica-lag'" in d.status.message
    assert "override names unknown check 'nope'" in d.status.message


def test_no_event_is_repeated_while_nothing_changes(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [LAG]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    count = len(d.events)
    for _ in range(5):
        d.step(checks={"replica-lag": failing()})
    assert len(d.events) == count


def test_controls_are_read_from_annotations_and_approver_from_the_value_or_managed_fields():
    meta = {"annotations": {"reentry.dev/paused": "true", "reentry.dev/approve": "looks good",
                            "reentry.dev/resume": "2", "reentry.dev/abort": ""},
            "managedFields": [{"manager": "kubectl-annotate", "fieldsV1": {
                "f:metadata": {"f:annotations": {"f:reentry.dev/approve": {}}}}}]}
    c = control_parsing.from_metadata(meta)
    assert (c.start, c.paused, c.resume_token, c.abort_reason) == (False, True, "2", "no reason given")
    assert c.approval == ApprovalNote(by="unverified (set via kubectl-annotate)", comment="looks good")
    signed = control_parsing.from_metadata({"annotations": {
        "reentry.dev/approve": '{"by": "alice", "comment": "ok"}'}})
    assert signed.approval == ApprovalNote(by="alice", comment="ok")
