"""The working state of one evaluation, the helpers every concern shares, and what it decides.

One :class:`Evaluation` is built per evaluation from (spec, status, observations, now); the
concerns advance it in turn (``engine.controls``, ``engine.start``, ``engine.stages``,
``engine.finish_line``, ``engine.bookkeeping``, in the order ``engine.reconcile.evaluate`` calls
them) and ``engine.bookkeeping.finish`` turns it into a :class:`Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reentry.engine import check_rules, conditions, graph, traffic
from reentry.engine.observations import Event, Observations, ReleasePods, SetWeight
from reentry.engine.reasons import Reason
from reentry.engine.release import step_services
from reentry.engine.sections import PHASE_OF_STAGE, STAGE_ORDER, all_actions, all_checks
from reentry.engine.timeutil import format_time
from reentry.model import (
    ActionStatus,
    Check,
    Mode,
    Outcome,
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    ServiceState,
    StageName,
    StageState,
    StageStatus,
)


@dataclass(frozen=True)
class Decision:
    """What one evaluation decided: the status to write first, then the pod releases, weights and events."""

    status: RecoveryPlanStatus
    releases: list[ReleasePods] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    weights: list[SetWeight] = field(default_factory=list)
    """Traffic weights to write, after the status."""


def current_stage(status: RecoveryPlanStatus) -> StageName | None:
    """The first stage that has not passed."""
    return next((s.name for s in status.stages if s.state != StageState.PASSED), None)


class Evaluation:
    """The working state of one evaluation: the status as it is being decided, and what to do after."""

    def __init__(self, spec: RecoveryPlanSpec, generation: int | None, status: RecoveryPlanStatus | None,
                 observed: Observations, now: datetime) -> None:
        self.spec, self.generation, self.observed, self.now = spec, generation, observed, now
        self.stamp = format_time(now)
        self.dry_run = spec.mode == Mode.DRY_RUN
        self.events: list[Event] = []
        self.releases: list[ReleasePods] = []
        self.weights: list[SetWeight] = []
        self.reason: str | None = None
        """The conditions' reason when this evaluation has a more precise one than the phase's name."""
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
            self.set(phase=self.phase_from_stages(), message=None)

    # -- the status ------------------------------------------------------------------------------

    def set(self, **fields: object) -> None:
        self.status = self.status.model_copy(update=fields)

    def emit(self, reason: str, message: str, warning: bool = False, subject: str | None = None) -> None:
        self.events.append(Event(reason, message, warning, subject))

    @property
    def phase(self) -> Phase:
        assert self.status.phase is not None
        return self.status.phase

    def phase_from_stages(self) -> Phase:
        """The phase the stages stand in: Pending before any started, Restored after all passed."""
        if not any(s.startedAt for s in self.status.stages):
            return Phase.PENDING
        stage = current_stage(self.status)
        return PHASE_OF_STAGE[stage] if stage else Phase.RESTORED

    def stage(self, name: StageName) -> StageStatus:
        return next(s for s in self.status.stages if s.name == name)

    def put_stage(self, updated: StageStatus) -> None:
        self.set(stages=[updated if s.name == updated.name else s for s in self.status.stages])

    def fail(self, reason: str, message: str) -> None:
        self.set(phase=Phase.FAILED, message=message)
        self.reason = reason
        self.emit(reason, message, warning=True)

    def pause(self, message: str, reason: str | None = None) -> None:
        """Pause the plan where it stands; ``reason`` (if any) stays the conditions' reason while paused."""
        self.set(pausedFrom=self.phase, phase=Phase.PAUSED, pauseReason=message, message=f"paused: {message}")
        if reason is not None:
            self.reason = reason

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
        deps_passed = self.stage(StageName.DEPENDENCIES).state == StageState.PASSED
        self.step_services(release_allowed=deps_passed and self.phase in conditions.RUNNING_PHASES)

    # -- checks and actions ----------------------------------------------------------------------

    def evaluate_checks(self, section: str, specs: list[Check]) -> tuple[bool, list[Check]]:
        """Fold this round's results in; return (all satisfied, the checks that timed out)."""
        current = {c.name: c for c in self.status.checks}
        for spec in specs:
            updated, events = check_rules.update(spec, section, current.get(spec.name),
                                                 self.observed.checks.get(spec.name), self.overrides.get(spec.name),
                                                 self.now)
            current[updated.name] = updated
            self.events += events
        ordered = [c.name for _, c in all_checks(self.spec)]
        self.set(checks=[current[n] for n in ordered if n in current])
        satisfied = all(check_rules.satisfied(s, current.get(s.name), self.now) for s in specs)
        timed_out = [s for s in specs if check_rules.timed_out(s, current.get(s.name), self.now)]
        return satisfied, timed_out

    def waiting_on(self, specs: list[Check]) -> str:
        """The checks among ``specs`` not satisfied yet, each with what it shows."""
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

    def store_actions(self, statuses: list[ActionStatus]) -> None:
        current = {a.name: a for a in self.status.actions}
        current.update({s.name: s for s in statuses})
        ordered = [a.name for _, a in all_actions(self.spec)]
        self.set(actions=[current[n] for n in ordered if n in current])

    # -- the ramp --------------------------------------------------------------------------------

    def traffic_view(self) -> traffic.TrafficView:
        return traffic.TrafficView(self.spec.traffic, self.observed.targets, {c.name: c for c in self.status.checks},
                                   self.now, self.dry_run)

    def take(self, out: traffic.TrafficOutcome) -> None:
        """Fold a ramp decision in: its status, events and weight to write."""
        self.set(traffic=out.status)
        self.events += out.events
        if out.write is not None:
            self.weights.append(out.write)
