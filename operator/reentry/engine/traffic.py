"""Stage 04, traffic re-entry: the ramp as a pure state machine over ``status.traffic``.

One call to :func:`step` per evaluation. The ramp is a sequence of weights (the plan's steps, or
an adaptive ramp: additive increase while the analysis passes, multiplicative decrease on a
breach). Each weight goes through::

    Applying --every target shows it and took effect--> Holding --hold over, analysis passes--> next weight
                                                          | analysis fails
                                                          v
                        StepBack: one weight down, CoolingDown, then retry | Pause | Abort (walk down to 0)

A hold counts only from the moment every target reports the change took effect, so a slow
gateway lengthens the step rather than shortening the observation. Writes are requested only for
targets that do not show the decided weight: one write per target per weight, none repeated. A
target that showed the weight and stops showing it during a hold was changed by someone else:
it is written back and a Warning Event says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reentry.engine import check_rules
from reentry.engine.observations import Event, SetWeight, TargetObservation
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_time, parse_time
from reentry.model import (
    Check,
    CheckStatus,
    OnFailure,
    TargetStatus,
    TrafficStage,
    TrafficState,
    TrafficStatus,
    WeightChange,
    parse_duration,
)

#: Weight changes kept in ``status.traffic.history`` (the newest).
HISTORY_LIMIT = 30
#: Cool-down after a step back when neither ``coolDown`` nor the lower step's hold says how long.
DEFAULT_COOL_DOWN = timedelta(seconds=30)

#: Every pause the ramp asks for starts with this, so the condition keeps its reason afterwards.
ANALYSIS_PAUSE = "traffic analysis failed"


@dataclass(frozen=True)
class TrafficView:
    """What the ramp needs from the rest of the evaluation."""

    spec: TrafficStage
    targets: dict[str, TargetObservation]
    analysis: dict[str, CheckStatus]
    now: datetime
    dry_run: bool = False


@dataclass
class TrafficOutcome:
    """The ramp's decision for this evaluation."""

    status: TrafficStatus
    write: SetWeight | None = None
    events: list[Event] = field(default_factory=list)
    done: bool = False
    pause: str | None = None
    """Set when the plan must pause (onFailure Pause, or too many step-backs)."""
    abort: str | None = None
    """Set when the plan must abort (onFailure Abort); the status is already Aborting."""
    message: str = ""
    reason: str | None = None


def weights(spec: TrafficStage) -> list[int]:
    """The fixed ramp's weights, in order (empty for an adaptive ramp)."""
    return [s.weight for s in spec.steps]


def _hold(spec: TrafficStage, step: int) -> timedelta:
    if spec.adaptive:
        return parse_duration(spec.adaptive.interval)
    hold = spec.steps[step - 1].hold if 1 <= step <= len(spec.steps) else None
    return parse_duration(hold) if hold else timedelta(0)


def _labels(spec: TrafficStage) -> list[str]:
    return [t.label for t in spec.targets]


def _dry_run(target: TargetStatus, weight: int) -> TargetStatus:
    """A dry run writes nothing and counts every target as showing the weight it would have been given."""
    return target.model_copy(update={"weight": weight, "inPlace": True, "effective": True,
                                     "message": f"dry run: would set weight {weight}"})


class _Ramp:
    """The working state of one ramp decision."""

    def __init__(self, view: TrafficView, current: TrafficStatus | None) -> None:
        self.view = view
        self.spec = view.spec
        self.now = view.now
        self.stamp = format_time(view.now)
        self.status = current or TrafficStatus(steps=len(self.spec.steps))
        self.out = TrafficOutcome(status=self.status)

    def set(self, **fields: object) -> None:
        self.status = self.status.model_copy(update=fields)

    def emit(self, reason: str, message: str, warning: bool = False, subject: str | None = None) -> None:
        self.out.events.append(Event(reason, message, warning, subject))

    # -- targets ---------------------------------------------------------------------------------

    def _observe_targets(self) -> None:
        """Fold the observations in; request a write where a target does not show the weight."""
        weight = self.status.weight
        known = {t.name: t for t in self.status.targets}
        updated, stale = [], []
        for label in _labels(self.spec):
            seen = self.view.targets.get(label)
            before = known.get(label) or TargetStatus(name=label)
            if self.view.dry_run:
                updated.append(_dry_run(before, weight))
                continue
            if seen is None:
                updated.append(before)
                stale.append(label)
                continue
            if before.weight == weight and before.inPlace and seen.found and not seen.in_place:
                self.emit(Reason.TRAFFIC_DRIFT, f"{label} was changed by someone else during the ramp (it shows "
                                        f"{seen.shows or 'other values'}); restoring weight {weight}", warning=True,
                          subject=label)
            updated.append(before.model_copy(update={
                "weight": before.weight if before.weight is not None else weight,
                "inPlace": seen.in_place, "effective": seen.effective,
                "shows": seen.shows or None, "message": seen.message or None}))
            if not seen.in_place and seen.found:
                stale.append(label)
        self.set(targets=updated)
        if stale:
            self._write(stale)

    def _write(self, labels: list[str]) -> None:
        self.out.write = SetWeight(self.status.weight, tuple(labels))
        self.set(targets=[t.model_copy(update={"weight": self.status.weight}) if t.name in labels else t
                          for t in self.status.targets])

    def _all_took_effect(self) -> bool:
        return all(t.inPlace and t.effective for t in self.status.targets)

    def _waiting_targets(self) -> str:
        parts = []
        for t in self.status.targets:
            if not t.inPlace:
                parts.append(f"{t.name} ({t.message or 'not showing weight ' + str(self.status.weight)})")
            elif not t.effective:
                parts.append(f"{t.name} ({t.message or 'change not in effect yet'})")
        return ", ".join(parts)

    # -- moving the weight -----------------------------------------------------------------------

    def decide(self, weight: int, reason: str, **fields: object) -> None:
        """Record a new weight in status (and history) and ask for it on every target.

        Until the targets are read again, none counts as showing it (a dry run pretends they do).
        """
        history = [*self.status.history, WeightChange(weight=weight, at=self.stamp, reason=reason)]
        self.set(weight=weight, history=history[-HISTORY_LIMIT:], **fields)
        known = {t.name: t for t in self.status.targets}
        entries = [known.get(label) or TargetStatus(name=label) for label in _labels(self.spec)]
        if self.view.dry_run:
            self.set(targets=[_dry_run(t, weight) for t in entries])
            return
        self.set(targets=[t.model_copy(update={"inPlace": False, "effective": False}) for t in entries])
        if entries:
            self._write(_labels(self.spec))

    def move(self, step: int, weight: int, state: TrafficState, reason: str) -> None:
        """Go to another step of the ramp (forward, or back after a breach)."""
        self.decide(weight, reason, step=step, state=state, holdUntil=None)

    def _next(self) -> tuple[int, int] | None:
        """The step after the current one and its weight, or None when the ramp is complete."""
        step, weight = self.status.step, self.status.weight
        if self.spec.adaptive:
            top = self.spec.adaptive.max
            if step > 0 and weight >= top:
                return None
            return step + 1, (self.spec.adaptive.start if step == 0 else min(top, weight + self.spec.adaptive.increase))
        if step >= len(self.spec.steps):
            return None
        return step + 1, self.spec.steps[step].weight

    def _back(self) -> tuple[int, int]:
        """One weight down after a breach: the previous step, or the multiplicative decrease."""
        if self.spec.adaptive:
            return self.status.step + 1, max(1, int(self.status.weight * self.spec.adaptive.decreaseFactor))
        lower = self.status.step - 1
        return lower, (self.spec.steps[lower - 1].weight if lower >= 1 else 0)

    # -- analysis --------------------------------------------------------------------------------

    def _failing(self) -> list[Check]:
        return [c for c in self.spec.analysis if check_rules.failing(c, self.view.analysis.get(c.name))]

    def _unsatisfied(self) -> list[Check]:
        return [c for c in self.spec.analysis if not check_rules.satisfied(c, self.view.analysis.get(c.name), self.now)]

    def _describe(self, specs: list[Check]) -> str:
        parts = []
        for spec in specs:
            seen = self.view.analysis.get(spec.name)
            if seen is None or seen.result is None:
                parts.append(f"{spec.name} (not evaluated yet)")
                continue
            detail = seen.observed or seen.message or ""
            threshold = f" vs {seen.threshold}" if seen.threshold else ""
            parts.append(f"{spec.name} ({seen.result.value}: {detail}{threshold})")
        return ", ".join(parts)

    def breach(self, failing: list[Check]) -> None:
        what = self._describe(failing)
        policy = self.spec.onFailure
        if policy == OnFailure.PAUSE:
            self.out.pause = f"{ANALYSIS_PAUSE} at {self.status.weight}%: {what}"
            return
        if policy == OnFailure.ABORT:
            self.out.abort = f"traffic analysis failed at {self.status.weight}%: {what}"
            self.begin_abort()
            return
        if self.status.stepBacks >= self.spec.maxStepBacks:
            self.out.pause = (f"{ANALYSIS_PAUSE} at {self.status.weight}% after {self.status.stepBacks} "
                              f"step-back(s) (maxStepBacks {self.spec.maxStepBacks}): {what}")
            return
        step, weight = self._back()
        from_weight = self.status.weight
        cool = (parse_duration(self.spec.coolDown) if self.spec.coolDown
                else _hold(self.spec, step) or DEFAULT_COOL_DOWN)
        self.move(step, weight, TrafficState.COOLING_DOWN, f"step back: {what}")
        self.set(stepBacks=self.status.stepBacks + 1, coolDownUntil=format_time(self.now + cool))
        self.emit(Reason.TRAFFIC_STEP_BACK, f"traffic stepped back from {from_weight}% to {weight}% "
                                    f"({self.status.stepBacks}/{self.spec.maxStepBacks}): {what}; "
                                    f"retrying after {format_time(self.now + cool)}", warning=True)

    # -- the states ------------------------------------------------------------------------------

    def run(self) -> TrafficOutcome:
        state = self.status.state
        if state is None:
            nxt = self._next()
            if nxt is None:
                self.set(state=TrafficState.DONE)
            else:
                self.advance(*nxt)
        elif state == TrafficState.ABORTING:
            self.abort_walk()
            return self.finish()
        elif state != TrafficState.DONE:
            self._observe_targets()
            self.hold_or_advance()
        if self.status.state == TrafficState.DONE:
            self.out.done = True
            self.out.message = f"traffic: ramp complete at {self.status.weight}%"
        return self.finish()

    def advance(self, step: int, weight: int) -> None:
        where = f"step {step}/{len(self.spec.steps)}" if not self.spec.adaptive else f"adaptive step {step}"
        self.move(step, weight, TrafficState.APPLYING, where)
        self.emit(Reason.TRAFFIC_STEP, f"traffic {where}: weight {weight}%")

    def hold_or_advance(self) -> None:
        state = self.status.state
        if not self._all_took_effect():
            self.out.message = (f"traffic: {self._where()} at {self.status.weight}%: waiting for "
                                f"{self._waiting_targets()}")
            return
        failing = self._failing()
        if state == TrafficState.APPLYING:
            self.set(state=TrafficState.HOLDING,
                     holdUntil=format_time(self.now + _hold(self.spec, self.status.step)))
            state = TrafficState.HOLDING
        if state == TrafficState.COOLING_DOWN:
            until = parse_time(self.status.coolDownUntil or self.stamp)
            if self.now < until:
                self.out.message = f"traffic: cooling down at {self.status.weight}% until {self.status.coolDownUntil}"
                return
            if failing:
                self.breach(failing)
                return
            nxt = self._next()
            if nxt is None:
                self.set(state=TrafficState.DONE, coolDownUntil=None)
                return
            self.set(coolDownUntil=None)
            self.advance(*nxt)
            return
        if failing:
            self.breach(failing)
            return
        until = parse_time(self.status.holdUntil or self.stamp)
        if self.now < until:
            self.out.reason = Reason.STEP_HOLD
            self.out.message = f"{self._where()} at {self.status.weight}% until {self.status.holdUntil}"
            return
        waiting = self._unsatisfied()
        if waiting:
            self.out.reason = Reason.STEP_HOLD
            self.out.message = (f"{self._where()} at {self.status.weight}%: hold over, waiting for analysis "
                                f"{self._describe(waiting)}")
            return
        nxt = self._next()
        if nxt is None:
            self.set(state=TrafficState.DONE, holdUntil=None)
        else:
            self.advance(*nxt)

    def _where(self) -> str:
        if self.spec.adaptive:
            return f"adaptive step {self.status.step}"
        return f"step {self.status.step}/{len(self.spec.steps)}"

    # -- abort: back to weight 0 -----------------------------------------------------------------

    def begin_abort(self) -> None:
        """Start walking back to weight 0 (all at once unless the abort is gradual)."""
        self.set(state=TrafficState.ABORTING, holdUntil=None, coolDownUntil=None)
        self.emit(Reason.TRAFFIC_ABORTING, f"traffic returning from {self.status.weight}% to 0%", warning=True)
        self._abort_move(self._abort_next())

    def _abort_next(self) -> int:
        if not self.spec.abort.gradual:
            return 0
        lower = [w for w in weights(self.spec) if w < self.status.weight] if not self.spec.adaptive else []
        if self.spec.adaptive:
            return int(self.status.weight * self.spec.adaptive.decreaseFactor) if self.status.weight > 1 else 0
        return lower[-1] if lower else 0

    def _abort_move(self, weight: int) -> None:
        self.decide(weight, "abort", holdUntil=format_time(self.now + parse_duration(self.spec.abort.interval)))

    def abort_walk(self) -> None:
        self._observe_targets()
        if not all(t.inPlace for t in self.status.targets):
            self.out.message = f"traffic: returning to 0%, at {self.status.weight}%: {self._waiting_targets()}"
            return
        if self.status.weight == 0:
            self.set(state=TrafficState.DONE, holdUntil=None)
            self.emit(Reason.TRAFFIC_RETURNED, "traffic returned to 0%: every target shows its fallback values")
            self.out.message = "traffic returned to 0%"
            return
        if self.now < parse_time(self.status.holdUntil or self.stamp):
            self.out.message = f"traffic: returning to 0%, at {self.status.weight}% until {self.status.holdUntil}"
            return
        self._abort_move(self._abort_next())

    def finish(self) -> TrafficOutcome:
        self.out.status = self.status
        return self.out


def step(view: TrafficView, current: TrafficStatus | None) -> TrafficOutcome:
    """Advance the ramp once: decide the weight, the writes, events, and whether the stage is done."""
    return _Ramp(view, current).run()


def abort(view: TrafficView, current: TrafficStatus | None) -> TrafficOutcome:
    """A person aborted the plan: walk the targets back to 0 if the ramp had started."""
    ramp = _Ramp(view, current)
    if current is None or current.state in (None, TrafficState.DONE, TrafficState.ABORTING) or current.weight == 0:
        return ramp.finish()
    ramp.begin_abort()
    return ramp.finish()


def continue_abort(view: TrafficView, current: TrafficStatus) -> TrafficOutcome:
    """Keep walking an aborted plan's targets back to 0 (the plan itself is already Aborted)."""
    ramp = _Ramp(view, current)
    ramp.abort_walk()
    return ramp.finish()


def resumed(current: TrafficStatus | None, spec: TrafficStage, now: datetime) -> TrafficStatus | None:
    """A person resumed a paused ramp: the step-back count starts over and the hold restarts."""
    if current is None or current.state in (None, TrafficState.DONE, TrafficState.ABORTING):
        return current
    hold = _hold(spec, current.step)
    return current.model_copy(update={
        "stepBacks": 0, "state": TrafficState.HOLDING if current.state != TrafficState.APPLYING else current.state,
        "holdUntil": format_time(now + hold), "coolDownUntil": None})
