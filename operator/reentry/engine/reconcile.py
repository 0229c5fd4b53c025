"""One evaluation of a plan: (spec, status, observations, now) -> (new status, pod releases, events).

The stage order is a constant here, not part of the spec: identity -> state -> dependencies ->
traffic -> validation. A plan can configure what a stage checks and does, never where it stands.
Within a stage, actions run first (once each, in order), then every check must be satisfied; the
dependencies stage also needs every service Attached; the validation stage also needs the
owner's approval (when required) and, with ``observeFor``, a continuous healthy watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reentry.engine import actions as action_steps
from reentry.engine import checks as check_rules
from reentry.engine import conditions, graph, preflight, traffic, validation
from reentry.engine.observations import Event, Observations, ReleasePods, SetWeight
from reentry.engine.reasons import Reason
from reentry.engine.release import step_services
from reentry.engine.timeutil import format_duration, format_time, parse_time
from reentry.model import (
    FINISHED_PHASES,
    ActionState,
    ActionStatus,
    ApprovalStatus,
    BudgetStatus,
    Check,
    Mode,
    OnTimeout,
    Outcome,
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    SafeState,
    ServiceState,
    StageName,
    StageState,
    StageStatus,
    StartPolicy,
    TrafficState,
    parse_duration,
)

STAGE_ORDER: tuple[StageName, ...] = (
    StageName.IDENTITY, StageName.STATE, StageName.DEPENDENCIES, StageName.TRAFFIC, StageName.VALIDATION,
)
PHASE_OF_STAGE = {
    StageName.IDENTITY: Phase.IDENTITY_PRE_WARMING,
    StageName.STATE: Phase.STATE_RECONCILIATION,
    StageName.DEPENDENCIES: Phase.DEPENDENCY_CONVERGENCE,
    StageName.TRAFFIC: Phase.TRAFFIC_REENTRY,
    StageName.VALIDATION: Phase.VALIDATING,
}
TECHNICAL_RECOVERY = "technicalRecovery"
PAUSED_BY_ANNOTATION = "paused by the reentry.dev/paused annotation"
# Phases that announce themselves with an Event named after them when entered.
_ANNOUNCED = (Phase.ARMED, Phase.OBSERVING, Phase.RESTORED, Phase.PAUSED)


@dataclass(frozen=True)
class Decision:
    """What one evaluation decided: the status to write first, then the releases and events."""

    status: RecoveryPlanStatus
    actions: list[ReleasePods] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    weights: list[SetWeight] = field(default_factory=list)
    """Traffic weights to write, after the status."""


def invalid(status: RecoveryPlanStatus | None, generation: int | None, message: str, now: datetime) -> Decision:
    """The plan cannot work as written: Failed and Stalled with the cause named; nothing is touched."""
    current = status or RecoveryPlanStatus()
    events = []
    if current.phase != Phase.FAILED or current.message != message:
        events.append(Event(Reason.INVALID_SPEC, message, warning=True))
    new = current.model_copy(update={
        "phase": Phase.FAILED, "message": message, "observedGeneration": generation,
        "conditions": conditions.for_phase(current.conditions, Phase.FAILED, message, generation, format_time(now),
                                           reason=Reason.INVALID_SPEC),
    })
    return Decision(new, [], events)


def current_stage(status: RecoveryPlanStatus) -> StageName | None:
    """The first stage that has not passed."""
    return next((s.name for s in status.stages if s.state != StageState.PASSED), None)


def wanted_checks(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None) -> list[Check]:
    """The checks the shell should probe before the next evaluation."""
    phase = status.phase if status else None
    if phase in (None, Phase.PENDING, Phase.ARMED):
        return list(spec.technicalRecovery.checks) if spec.start == StartPolicy.ON_TECHNICAL_RECOVERY else []
    if status is None or phase in FINISHED_PHASES:
        return []
    stage = current_stage(status)
    if stage is None:
        return []
    wanted = list(getattr(spec, stage).checks)
    if stage == StageName.TRAFFIC and ramp_under_way(status):
        wanted += spec.traffic.analysis
    return wanted


def ramp_under_way(status: RecoveryPlanStatus | None) -> bool:
    """True while the traffic ramp has started and not finished, walking back to 0 after an abort included:
    the shell then reads the targets."""
    state = status.traffic.state if status and status.traffic else None
    return state is not None and state != TrafficState.DONE


def running_actions(status: RecoveryPlanStatus | None) -> list[str]:
    """Names of the actions the shell should execute before the next evaluation (none unless running)."""
    if status is None or status.phase not in conditions.RUNNING_PHASES:
        return []
    return action_steps.running(status.actions)


class _Evaluation:
    """The working state of one evaluation; each method advances one concern."""

    def __init__(self, spec: RecoveryPlanSpec, generation: int | None, status: RecoveryPlanStatus | None,
                 observed: Observations, now: datetime) -> None:
        self.spec, self.generation, self.observed, self.now = spec, generation, observed, now
        self.stamp = format_time(now)
        self.dry_run = spec.mode == Mode.DRY_RUN
        self.events: list[Event] = []
        self.releases: list[ReleasePods] = []
        self.weights: list[SetWeight] = []
        self.reason: str | None = None
        self.services_stepped = False
        self.order = graph.bottom_up(spec.services)
        self.overrides = {o.check: o for o in spec.overrides}
        current = status or RecoveryPlanStatus()
        self.before = current.phase
        known = {s.name: s for s in current.stages}
        stages = [known.get(name) or StageStatus(name=name) for name in STAGE_ORDER]
        self.status = current.model_copy(update={"stages": stages, "observedGeneration": generation})
        stalled = conditions.get_condition(current.conditions, conditions.STALLED)
        was_invalid = current.phase == Phase.FAILED and stalled and stalled.reason == Reason.INVALID_SPEC
        if current.phase is None or was_invalid:
            self.set(phase=self._phase_from_stages(), message=None)

    # -- small helpers ---------------------------------------------------------------------------

    def set(self, **fields: object) -> None:
        self.status = self.status.model_copy(update=fields)

    def emit(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(Event(reason, message, warning))

    @property
    def phase(self) -> Phase:
        assert self.status.phase is not None
        return self.status.phase

    def _phase_from_stages(self) -> Phase:
        if not any(s.startedAt for s in self.status.stages):
            return Phase.PENDING
        stage = current_stage(self.status)
        return PHASE_OF_STAGE[stage] if stage else Phase.RESTORED

    def _stage(self, name: StageName) -> StageStatus:
        return next(s for s in self.status.stages if s.name == name)

    def _put_stage(self, updated: StageStatus) -> None:
        self.set(stages=[updated if s.name == updated.name else s for s in self.status.stages])

    def fail(self, reason: str, message: str) -> None:
        self.set(phase=Phase.FAILED, message=message)
        self.reason = reason
        self.emit(reason, message, warning=True)

    def pause(self, reason: str) -> None:
        self.set(pausedFrom=self.phase, phase=Phase.PAUSED, pauseReason=reason, message=f"paused: {reason}")

    # -- services --------------------------------------------------------------------------------

    def step_services(self, release_allowed: bool) -> bool:
        """Advance the services once; True when every service is Attached."""
        current = {s.name: s for s in self.status.services}
        services, releases, events = step_services(self.spec.services, self.order, current, self.observed.services,
                                                   self.now, release_allowed, self.dry_run)
        self.set(services=services)
        self.releases += releases
        self.events += events
        self.services_stepped = True
        return all(s.state == ServiceState.ATTACHED for s in services)

    def settle_services(self) -> None:
        """Refresh the services when the walk did not reach the dependencies stage this time.

        Releasing is allowed only while running past that stage; new pods of Attached services are
        let in regardless (see ``release.step_service``).
        """
        if self.services_stepped:
            return
        deps_passed = self._stage(StageName.DEPENDENCIES).state == StageState.PASSED
        self.step_services(release_allowed=deps_passed and self.phase in conditions.RUNNING_PHASES)

    # -- checks ----------------------------------------------------------------------------------

    def evaluate_checks(self, section: str, specs: list[Check]) -> tuple[bool, list[Check]]:
        """Fold this round's results in; return (all satisfied, the checks that timed out)."""
        current = {c.name: c for c in self.status.checks}
        for spec in specs:
            updated, events = check_rules.update(spec, section, current.get(spec.name),
                                                 self.observed.checks.get(spec.name), self.overrides.get(spec.name),
                                                 self.now)
            current[updated.name] = updated
            self.events += events
        ordered = [c.name for _, c in validation.all_checks(self.spec)]
        self.set(checks=[current[n] for n in ordered if n in current])
        satisfied = all(check_rules.satisfied(s, current.get(s.name), self.now) for s in specs)
        timed_out = [s for s in specs if check_rules.timed_out(s, current.get(s.name), self.now)]
        return satisfied, timed_out

    def _waiting_on(self, specs: list[Check]) -> str:
        parts = []
        by_name = {c.name: c for c in self.status.checks}
        for spec in specs:
            status = by_name.get(spec.name)
            if check_rules.satisfied(spec, status, self.now):
                continue
            if status is None or status.result is None:
                parts.append(f"{spec.name} (not evaluated yet)")
            elif status.result == Outcome.PASS:
                parts.append(f"{spec.name} (passing, must stay so for {spec.stableFor})")
            else:
                detail = status.observed or status.message or ""
                threshold = f" vs {status.threshold}" if status.threshold else ""
                parts.append(f"{spec.name} ({status.result.value}: {detail}{threshold})")
        return ", ".join(parts)

    # -- controls --------------------------------------------------------------------------------

    def apply_abort(self) -> None:
        reason = self.observed.controls.abort_reason
        if reason is not None and self.phase not in FINISHED_PHASES:
            self.set(phase=Phase.ABORTED, message=f"aborted: {reason}")
            self.emit(Reason.ABORTED, f"re-entry aborted: {reason}; released pods stay released, held pods stay held",
                      warning=True)
            if self.spec.traffic.safeState == SafeState.FALLBACK:
                self._take(traffic.abort(self._traffic_view(), self.status.traffic))
        elif self.phase == Phase.ABORTED and self.status.traffic and self.status.traffic.state == TrafficState.ABORTING:
            self._take(traffic.continue_abort(self._traffic_view(), self.status.traffic))

    def apply_pause(self) -> None:
        controls = self.observed.controls
        if self.phase == Phase.PAUSED:
            by_annotation = self.status.pauseReason == PAUSED_BY_ANNOTATION
            token = controls.resume_token
            fresh_token = token is not None and token != self.status.lastResumeToken
            if controls.paused or (not by_annotation and not fresh_token):
                return
            resumed_into = self.status.pausedFrom or self._phase_from_stages()
            self.set(phase=resumed_into, pausedFrom=None, pauseReason=None, message=None,
                     lastResumeToken=token if fresh_token else self.status.lastResumeToken)
            # A plan paused by a timeout gets fresh timeout windows, or it would pause again at once.
            self.set(checks=[check_rules.restart_clock(c, self.now) for c in self.status.checks],
                     traffic=traffic.resumed(self.status.traffic, self.spec.traffic, self.now))
            self.emit(Reason.RESUMED, f"re-entry resumed in {resumed_into.value}")
        elif controls.paused and self.phase not in FINISHED_PHASES:
            self.pause(PAUSED_BY_ANNOTATION)
        elif controls.resume_token is not None and self.status.lastResumeToken is None:
            # A resume token present before any pause is consumed, so it cannot resume a later pause.
            self.set(lastResumeToken=controls.resume_token)

    # -- before the start ------------------------------------------------------------------------

    def before_start(self) -> None:
        found = preflight.problems(self.spec, self.observed)
        self.set(conditions=conditions.set_flag(
            self.status.conditions, conditions.PLAN_READY, not found,
            Reason.REFERENCES_RESOLVED if not found else Reason.REFERENCES_MISSING,
            "every reference resolves" if not found else "; ".join(found), self.generation, self.stamp))
        if self.spec.start == StartPolicy.MANUAL:
            if self.observed.controls.start:
                self.start()
            else:
                self.set(phase=Phase.ARMED,
                         message="armed: waiting for the reentry.dev/start annotation (start: Manual)")
            return
        specs = list(self.spec.technicalRecovery.checks)
        satisfied, _ = self.evaluate_checks(TECHNICAL_RECOVERY, specs)
        if satisfied:
            self.start()
        else:
            self.set(phase=Phase.ARMED, message=f"armed: waiting for technical recovery: {self._waiting_on(specs)}")

    def start(self) -> None:
        self.set(phase=PHASE_OF_STAGE[STAGE_ORDER[0]], startedAt=self.stamp, message=None,
                 technicalRecoveryAt=self.status.technicalRecoveryAt or self.stamp)

    # -- the stage walk --------------------------------------------------------------------------

    def walk(self) -> None:
        while self.phase in conditions.RUNNING_PHASES:
            name = current_stage(self.status)
            if name is None:
                break
            stage = self._stage(name)
            if stage.state == StageState.PENDING:
                stage = stage.model_copy(update={"state": StageState.RUNNING, "startedAt": self.stamp})
                self._put_stage(stage)
                self.emit(Reason.STAGE_STARTED, f"stage {name.value} started")
            if self.phase != Phase.OBSERVING:
                self.set(phase=PHASE_OF_STAGE[name])
            self.set(stage=name)
            if not self.run_stage(name):
                break
            self._put_stage(stage.model_copy(update={"state": StageState.PASSED, "finishedAt": self.stamp,
                                                     "message": None}))
            self.emit(Reason.STAGE_PASSED, f"stage {name.value} passed")
            if current_stage(self.status) is None:
                self.restored()

    def run_stage(self, name: StageName) -> bool:
        """Advance one stage; True when it passed. Sets the plan's message while it waits."""
        section = getattr(self.spec, name)
        outcome = action_steps.step(
            list(getattr(section, "actions", [])), name.value, {a.name: a for a in self.status.actions},
            self.observed.actions, self.now, self.dry_run)
        self._store_actions(outcome.statuses)
        self.events += outcome.events
        if outcome.failed is not None:
            self.fail(Reason.ACTION_FAILED,
                      f"{name.value} action {outcome.failed.name} failed: {outcome.failed.message}")
            return False
        if not outcome.done:
            running = next(s.name for s in outcome.statuses if s.state != ActionState.SUCCEEDED)
            self.set(message=f"{name.value}: running action {running}")
            return False

        satisfied, timed_out = self.evaluate_checks(name.value, section.checks)
        if timed_out:
            self.timeout(name, timed_out)
            return False
        if name == StageName.DEPENDENCIES:
            attached = self.step_services(release_allowed=True)
            if not (satisfied and attached):
                waiting = self._waiting_on(section.checks)
                self.set(message=self._dependencies_message() + (f"; checks: {waiting}" if waiting else ""))
            return satisfied and attached
        if name == StageName.VALIDATION:
            return self.finish_line(satisfied)
        if name == StageName.TRAFFIC:
            return self.traffic_stage(satisfied)
        if not satisfied:
            self.set(message=f"{name.value}: waiting for {self._waiting_on(section.checks)}")
        return satisfied

    # -- traffic: the ramp -----------------------------------------------------------------------

    def _traffic_view(self) -> traffic.TrafficView:
        return traffic.TrafficView(self.spec.traffic, self.observed.targets, {c.name: c for c in self.status.checks},
                                   self.now, self.dry_run)

    def _take(self, out: traffic.TrafficOutcome) -> None:
        self.set(traffic=out.status)
        self.events += out.events
        if out.write is not None:
            self.weights.append(out.write)

    def traffic_stage(self, checks_satisfied: bool) -> bool:
        """Start the ramp once the stage's checks pass, then let the ramp decide; True when it is done."""
        rules = self.spec.traffic
        started = self.status.traffic is not None and self.status.traffic.state is not None
        if not started and not checks_satisfied:
            self.set(message=f"traffic: waiting for {self._waiting_on(rules.checks)}")
            return False
        self.evaluate_checks(validation.ANALYSIS, list(rules.analysis))
        out = traffic.step(self._traffic_view(), self.status.traffic)
        self._take(out)
        if out.abort is not None:
            self.set(phase=Phase.ABORTED, message=f"aborted: {out.abort}")
            self.reason = Reason.ANALYSIS_FAILED
            self.emit(Reason.ABORTED, f"re-entry aborted: {out.abort}; traffic returns to 0%", warning=True)
            return False
        if out.pause is not None:
            self.pause(out.pause)
            self.reason = Reason.ANALYSIS_FAILED
            self.emit(Reason.ANALYSIS_FAILED, out.pause + "; resume with the reentry.dev/resume annotation",
                      warning=True)
            return False
        if out.reason:
            self.reason = out.reason
        if not out.done:
            self.set(message=out.message)
        return out.done

    def _store_actions(self, statuses: list[ActionStatus]) -> None:
        current = {a.name: a for a in self.status.actions}
        current.update({s.name: s for s in statuses})
        ordered = [a.name for _, a in validation.all_actions(self.spec)]
        self.set(actions=[current[n] for n in ordered if n in current])

    def timeout(self, stage: StageName, timed_out: list[Check]) -> None:
        names = ", ".join(c.name for c in timed_out)
        message = f"{stage.value} check {names} timed out ({self._waiting_on(timed_out)})"
        if any(c.onTimeout == OnTimeout.FAIL for c in timed_out):
            self.fail(Reason.CHECK_TIMEOUT, message)
        else:
            self.pause(message)
            self.reason = Reason.CHECK_TIMEOUT
            self.emit(Reason.CHECK_TIMEOUT, message + "; resume with the reentry.dev/resume annotation",
                      warning=True)

    def _dependencies_message(self) -> str:
        parts = []
        for s in self.status.services:
            if s.state == ServiceState.ATTACHED:
                continue
            detail = f"waiting for {', '.join(s.waitingFor)}" if s.waitingFor else (
                f"{s.releasedPods}/{s.totalPods} pods released, {s.readyEndpoints} ready endpoints")
            parts.append(f"{s.name} {s.state.value} ({detail})")
        return "dependencies: " + ("; ".join(parts) or "every service attached")

    # -- validation: the finish line -------------------------------------------------------------

    def finish_line(self, satisfied: bool) -> bool:
        rules = self.spec.validation
        if self.phase == Phase.OBSERVING:
            was_healthy = self.status.observingSince is not None
            self.set(conditions=conditions.set_flag(
                self.status.conditions, conditions.VALIDATION_HEALTHY, satisfied,
                Reason.CHECKS_PASSING if satisfied else Reason.CHECKS_FAILING,
                "validation checks pass" if satisfied else self._waiting_on(rules.checks), self.generation,
                self.stamp))
            if not satisfied:
                if was_healthy:
                    self.emit(Reason.VALIDATION_FAILING, f"validation failed while observing: "
                                                   f"{self._waiting_on(rules.checks)}; the observeFor window "
                                                   "restarts once it passes again", warning=True)
                self.set(observingSince=None, message=f"observing: waiting for {self._waiting_on(rules.checks)}")
                return False
        elif not satisfied:
            self.set(message=f"validation: waiting for {self._waiting_on(rules.checks)}")
            return False

        if rules.approval.required and self.status.approval is None:
            approval = self.observed.controls.approval
            if approval is None:
                self.reason = Reason.AWAITING_APPROVAL
                self.set(message=f"validation: waiting for approval by {self.spec.owner.team} "
                                 "(annotation reentry.dev/approve)")
                return False
            self.set(approval=ApprovalStatus(by=approval.by, at=self.stamp, comment=approval.comment))
            comment = f": {approval.comment}" if approval.comment else ""
            self.emit(Reason.APPROVED, f"approved by {approval.by}{comment}")

        if rules.observeFor:
            window = parse_duration(rules.observeFor)
            if self.status.observingSince is None:
                self.set(phase=Phase.OBSERVING, observingSince=self.stamp)
            elapsed = self.now - parse_time(self.status.observingSince or self.stamp)
            if elapsed < window:
                until = format_time(parse_time(self.status.observingSince or self.stamp) + window)
                self.set(message=f"observing until {until}: validation checks must keep passing")
                return False
        return True

    def restored(self) -> None:
        message = ("dry run complete: every stage would pass; nothing was changed" if self.dry_run
                   else "operationally restored: every stage passed")
        self.set(phase=Phase.RESTORED, stage=None, operationallyRestoredAt=self.stamp, message=message)

    # -- bookkeeping -----------------------------------------------------------------------------

    def budget(self) -> None:
        if not self.spec.restorationBudget or not self.status.technicalRecoveryAt:
            return
        start = parse_time(self.status.technicalRecoveryAt)
        deadline = start + parse_duration(self.spec.restorationBudget)
        end = parse_time(self.status.operationallyRestoredAt) if self.status.operationallyRestoredAt else self.now
        previous = self.status.restoration
        exceeded = end > deadline
        if exceeded and not (previous and previous.exceeded):
            self.emit(Reason.BUDGET_EXCEEDED, f"restoration budget {self.spec.restorationBudget} exceeded "
                                        f"(technical recovery at {self.status.technicalRecoveryAt})", warning=True)
        elapsed = format_duration(end - start) if self.status.operationallyRestoredAt else None
        self.set(restoration=BudgetStatus(budget=self.spec.restorationBudget, deadline=format_time(deadline),
                                          exceeded=exceeded, elapsed=elapsed))

    def unmatched_pods(self) -> None:
        found = sorted(self.observed.unmatched_gated_pods)
        if found and found != self.status.unmatchedGatedPods:
            self.emit(Reason.UNMATCHED_GATED_PODS, f"{len(found)} gated pod(s) in this namespace match no plan's "
                                            f"services and stay held: {', '.join(found[:5])}", warning=True)
        self.set(unmatchedGatedPods=found)

    def finish(self) -> Decision:
        overridden = [c for c in self.status.checks if c.overridden]
        self.set(conditions=conditions.set_flag(
            self.status.conditions, conditions.OVERRIDDEN, True if overridden else None, Reason.CHECKS_OVERRIDDEN,
            "; ".join(f"{c.name}: {c.overrideReason}" for c in overridden), self.generation, self.stamp))
        if self.phase != self.before and self.phase in _ANNOUNCED:
            self.emit(self.phase.value, self.status.message or self.phase.value, warning=self.phase == Phase.PAUSED)
        if self.phase not in conditions.RUNNING_PHASES and self.phase != Phase.PAUSED:
            self.set(stage=None)
        message = self.status.message or self.phase.value
        self.set(conditions=conditions.for_phase(self.status.conditions, self.phase, message, self.generation,
                                                 self.stamp, reason=self.reason or self._standing_reason()))
        return Decision(self.status, self.releases, self.events, self.weights)

    def _standing_reason(self) -> str | None:
        """Keep a dry run's, a pause's or a failure's reason visible on later evaluations too."""
        if self.phase == Phase.RESTORED and self.dry_run:
            return Reason.DRY_RUN
        if self.phase == Phase.PAUSED and (self.status.pauseReason or "").startswith(traffic.ANALYSIS_PAUSE):
            return Reason.ANALYSIS_FAILED
        if self.phase == Phase.PAUSED and self.status.pauseReason != PAUSED_BY_ANNOTATION:
            return Reason.CHECK_TIMEOUT
        if self.phase == Phase.FAILED and self.before == Phase.FAILED:
            stalled = conditions.get_condition(self.status.conditions, conditions.STALLED)
            return stalled.reason if stalled else None
        return None


def evaluate(spec: RecoveryPlanSpec, generation: int | None, status: RecoveryPlanStatus | None,
             observed: Observations, now: datetime) -> Decision:
    """Advance the plan as far as the observations and the controls allow, in the fixed stage order."""
    problems = validation.problems(spec)
    if problems:
        return invalid(status, generation, "; ".join(problems), now)

    run = _Evaluation(spec, generation, status, observed, now)
    run.unmatched_pods()
    run.apply_abort()
    if run.phase not in FINISHED_PHASES:
        run.apply_pause()
    if run.phase in (Phase.PENDING, Phase.ARMED):
        run.before_start()
    if run.phase in conditions.RUNNING_PHASES:
        run.walk()
    run.settle_services()
    run.budget()
    return run.finish()

