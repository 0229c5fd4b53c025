"""The evaluation's concerns one by one: the section table, the stage rules, the finish line, the controls
and the bookkeeping, each driven directly on a working :class:`Evaluation` (``evaluate`` as a whole is
covered by test_stages, test_reconcile and test_traffic)."""

from __future__ import annotations

from reentry.engine import bookkeeping, controls, finish_line, sections, stages, start
from reentry.engine.evaluation import Evaluation
from reentry.engine.observations import ApprovalNote, Controls, ServiceObservation
from reentry.model import Phase, RecoveryPlanSpec, StageName
from tests.unit.builders import Clock, Drill, attached_auth, failing, observed, passing, plan, pods

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}


def _check(name: str) -> dict[str, object]:
    return {**LAG, "name": name}


def _full_plan() -> RecoveryPlanSpec:
    return plan({"name": "auth"}, technicalRecovery={"checks": [_check("tr")]},
                identity={"checks": [_check("id")], "actions": [{"name": "id-a", "job": {"spec": {}}}]},
                state={"checks": [_check("st")], "actions": [{"name": "st-a", "job": {"spec": {}}}]},
                dependencies={"checks": [_check("de")], "actions": [{"name": "de-a", "job": {"spec": {}}}]},
                traffic={"checks": [_check("tf")], "analysis": [_check("an")]},
                validation={"checks": [_check("va")]})


# -- sections: one table for where each part lives ------------------------------------------------

def test_every_stage_has_a_phase_a_section_and_a_rule_in_the_fixed_order():
    assert tuple(StageName) == sections.STAGE_ORDER
    assert set(sections.PHASE_OF_STAGE) == set(StageName)
    assert list(stages.RULES) == list(sections.STAGE_ORDER)


def test_sections_list_checks_and_actions_where_the_spec_holds_them():
    spec = _full_plan()
    assert [(s, c.name) for s, c in sections.all_checks(spec)] == [
        ("technicalRecovery", "tr"), ("identity", "id"), ("state", "st"), ("dependencies", "de"),
        ("traffic", "tf"), ("analysis", "an"), ("validation", "va")]
    assert [(s, a.name) for s, a in sections.all_actions(spec)] == [
        ("identity", "id-a"), ("state", "st-a"), ("dependencies", "de-a")]
    assert sections.section_actions(spec, "traffic") == []  # later stages have no actions


# -- the stage rules ------------------------------------------------------------------------------

def _running(spec: RecoveryPlanSpec, clock: Clock, **observe: object) -> Evaluation:
    d = Drill(spec, clock)
    d.step(auth=attached_auth(released=False))
    observe.setdefault("auth", attached_auth(released=False))
    return Evaluation(spec, 1, d.status, observed(**observe), clock.tick())


def test_checks_pass_names_what_the_stage_waits_for(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG]})
    run = _running(spec, clock, checks={"replica-lag": failing("4", "max 1")})
    assert stages.run_stage(run, StageName.STATE) is False
    assert run.status.message == "state: waiting for replica-lag (Fail: 4 vs max 1)"
    run = _running(spec, clock, checks={"replica-lag": passing()})
    assert stages.run_stage(run, StageName.STATE) is True


def test_dependencies_pass_only_with_every_service_attached(clock):
    spec = plan({"name": "auth"})
    held = _running(spec, clock, auth=ServiceObservation(pods("auth", 2)))
    assert stages.run_stage(held, StageName.DEPENDENCIES) is False
    assert [r.pods for r in held.releases] == [("auth-0", "auth-1")]
    assert held.status.message.startswith("dependencies: auth")
    attached = _running(spec, clock, auth=attached_auth())
    assert stages.run_stage(attached, StageName.DEPENDENCIES) is True


def test_a_timed_out_check_pauses_with_its_reason_stored_for_later_evaluations(clock):
    spec = plan({"name": "auth"}, state={"checks": [{**LAG, "timeout": "5s"}]})
    d = Drill(spec, clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    d.step(5, checks={"replica-lag": failing()})
    assert d.status.phase == Phase.PAUSED and d.condition("Ready").reason == "CheckTimeout"
    run = Evaluation(spec, 1, d.status, observed(auth=attached_auth()), clock.tick())
    assert run.reason is None  # nothing new decided this time ...
    assert bookkeeping.standing_reason(run) == "CheckTimeout"  # ... the stored reason stands


# -- the finish line ------------------------------------------------------------------------------

def test_the_finish_line_waits_for_the_owner_then_the_observe_window(clock):
    spec = plan({"name": "auth"}, validation={"approval": {"required": True}, "observeFor": "30s"})
    base = _running(spec, clock)
    assert finish_line.validation_stage(base, satisfied=True) is False
    assert base.reason == "AwaitingApproval" and "approval by payments" in (base.status.message or "")
    approve = Controls(approval=ApprovalNote(by="alice", comment="ok"))
    run = Evaluation(spec, 1, base.status, observed(controls=approve, auth=attached_auth()), clock.tick())
    assert finish_line.validation_stage(run, satisfied=True) is False
    assert run.status.phase == Phase.OBSERVING and run.status.approval.by == "alice"
    assert [e.reason for e in run.events] == ["Approved"]
    later = Evaluation(spec, 1, run.status, observed(controls=approve, auth=attached_auth()), clock.tick(30))
    assert finish_line.validation_stage(later, satisfied=True) is True


def test_a_dry_run_restores_with_its_reason_and_keeps_it(clock):
    d = Drill(plan({"name": "auth"}, mode="DryRun"), clock)
    for _ in range(3):
        d.step(auth=ServiceObservation(pods("auth", 1)))
    assert d.status.phase == Phase.RESTORED and d.condition("Ready").reason == "DryRun"
    d.step(auth=ServiceObservation(pods("auth", 1)))
    assert d.condition("Ready").reason == "DryRun"


# -- the controls ---------------------------------------------------------------------------------

def test_pause_by_annotation_resumes_only_when_the_annotation_goes(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG]})
    run = _running(spec, clock, controls=Controls(paused=True))
    controls.apply_pause(run)
    assert run.status.phase == Phase.PAUSED and run.status.pauseReason == controls.PAUSED_BY_ANNOTATION
    token = Evaluation(spec, 1, run.status, observed(controls=Controls(paused=True, resume_token="t")), clock.tick())
    controls.apply_pause(token)
    assert token.status.phase == Phase.PAUSED  # a token does not override the annotation
    gone = Evaluation(spec, 1, run.status, observed(), clock.tick())
    controls.apply_pause(gone)
    assert gone.status.phase == Phase.STATE_RECONCILIATION and [e.reason for e in gone.events] == ["Resumed"]


def test_abort_ends_a_running_plan_and_nothing_after_it_finished(clock):
    spec = plan({"name": "auth"}, state={"checks": [LAG]})
    run = _running(spec, clock, controls=Controls(abort_reason="wrong region"))
    controls.apply_abort(run)
    assert run.status.phase == Phase.ABORTED and run.status.message == "aborted: wrong region"
    again = Evaluation(spec, 1, run.status, observed(controls=Controls(abort_reason="again")), clock.tick())
    controls.apply_abort(again)
    assert again.events == [] and again.status.message == "aborted: wrong region"


# -- the start and the bookkeeping ----------------------------------------------------------------

def test_a_manual_plan_arms_and_starts_on_the_annotation(clock):
    spec = plan({"name": "auth"}, start="Manual")
    armed = Evaluation(spec, 1, None, observed(), clock.tick())
    start.before_start(armed)
    assert armed.status.phase == Phase.ARMED and armed.status.technicalRecoveryAt is None
    started = Evaluation(spec, 1, armed.status, observed(start=True), clock.tick())
    start.before_start(started)
    assert started.status.phase == Phase.IDENTITY_PRE_WARMING
    assert started.status.technicalRecoveryAt == started.stamp


def test_the_standing_reason_only_stands_while_the_phase_does(clock):
    spec = plan({"name": "auth"}, state={"checks": [{**LAG, "timeout": "5s"}]})
    d = Drill(spec, clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    d.step(5, checks={"replica-lag": failing()})
    resumed = Evaluation(spec, 1, d.status, observed(controls=Controls(resume_token="r"), auth=attached_auth()),
                         clock.tick())
    controls.apply_pause(resumed)
    assert resumed.status.phase == Phase.STATE_RECONCILIATION
    assert bookkeeping.standing_reason(resumed) is None  # the timeout's reason left with the pause
    decision = bookkeeping.finish(resumed)
    ready = next(c for c in decision.status.conditions if c.type == "Ready")
    assert ready.reason == "StateReconciliation"


def test_budget_is_tracked_from_technical_recovery(clock):
    spec = plan({"name": "auth"}, restorationBudget="1m", state={"checks": [LAG]})
    d = Drill(spec, clock)
    d.step()
    run = Evaluation(spec, 1, d.status, observed(auth=attached_auth()), clock.tick(61))
    bookkeeping.budget(run)
    assert run.status.restoration.exceeded and [e.reason for e in run.events] == ["BudgetExceeded"]
