"""The traffic ramp with a fake clock: steps, holds that count only once targets took effect, analysis,
StepBack / Pause / Abort, the adaptive ramp, drift, dry run and crash-safe writes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reentry.engine.observations import CheckResult, Controls, Observations, ServiceObservation, TargetObservation
from reentry.engine.reconcile import evaluate, wanted_checks
from reentry.model import OnNoData, Outcome, Phase, TrafficState
from tests.unit.builders import failing, passing, plan, pods

ROUTE = {"httpRoute": {"name": "checkout", "restoredBackend": "primary", "fallbackBackend": "dr"}}
RETRY = {"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}}
ERRORS = {"name": "error-rate", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "m", "path": ".data.e",
                                             "max": 0.02}}


class World:
    """The routing objects as a dict of label -> weight they show, plus whether the gateway accepted it."""

    def __init__(self, labels, effective=True):
        self.shows = {label: 0 for label in labels}
        self.effective = effective
        self.writes = []

    def observe(self, weight):
        return {label: TargetObservation(found=True, in_place=shown == weight, effective=self.effective,
                                         shows=f"weight {shown}") for label, shown in self.shows.items()}

    def apply(self, decisions):
        for write in decisions:
            for label in write.targets:
                self.writes.append((label, write.weight))
                self.shows[label] = write.weight


class Ramp:
    """Feeds evaluations like the shell does: observe targets against the status's weight, apply writes after."""

    def __init__(self, clock, world, **traffic):
        self.spec = plan({"name": "auth"}, traffic=traffic)
        self.clock, self.world, self.status, self.events = clock, world, None, []

    def step(self, seconds=1, checks=None, controls=None, apply=True):
        weight = self.status.traffic.weight if self.status and self.status.traffic else 0
        obs = Observations(services={"auth": ServiceObservation(pods("auth", 1, released=[0]), ready_endpoints=1)},
                           controls=controls or Controls(), checks=checks or {}, targets=self.world.observe(weight))
        decision = evaluate(self.spec, 1, self.status, obs, self.clock.tick(seconds))
        self.status = decision.status
        self.events += decision.events
        if apply:
            self.world.apply(decision.weights)
        return decision

    @property
    def traffic(self):
        return self.status.traffic

    def reasons(self):
        return [e.reason for e in self.events]


def test_steps_apply_every_target_together_and_hold_only_after_they_took_effect(clock):
    world = World(["httpRoute/checkout", "configMapKey/retry-policy"], effective=False)
    r = Ramp(clock, world, steps=[{"weight": 5, "hold": "10s"}, {"weight": 100}], targets=[ROUTE, RETRY])
    d = r.step()
    assert r.status.phase == Phase.TRAFFIC_REENTRY
    assert [(w.weight, sorted(w.targets)) for w in d.weights] == [(5, ["configMapKey/retry-policy",
                                                                       "httpRoute/checkout"])]
    assert (r.traffic.step, r.traffic.steps, r.traffic.weight, r.traffic.state) == (1, 2, 5, TrafficState.APPLYING)
    r.step(seconds=30)  # written, but the gateway has not accepted it: no hold yet, however long it takes
    assert r.traffic.state == TrafficState.APPLYING and r.traffic.holdUntil is None
    assert "waiting for httpRoute/checkout" in r.status.message
    world.effective = True
    r.step()
    assert r.traffic.state == TrafficState.HOLDING and r.traffic.holdUntil == "2026-11-23T14:00:42.000Z"
    assert r.status.message == "step 1/2 at 5% until 2026-11-23T14:00:42.000Z"
    ready = next(c for c in r.status.conditions if c.type == "Ready")
    assert ready.reason == "StepHold"
    r.step(seconds=9)
    assert r.traffic.weight == 5
    r.step(seconds=1)
    assert (r.traffic.step, r.traffic.weight) == (2, 100)
    r.step()
    r.step()
    assert r.status.phase == Phase.RESTORED
    # One write per target per step, none repeated.
    assert world.writes == [("httpRoute/checkout", 5), ("configMapKey/retry-policy", 5),
                            ("httpRoute/checkout", 100), ("configMapKey/retry-policy", 100)]
    assert [h.weight for h in r.traffic.history] == [5, 100]


def test_a_write_lost_in_a_crash_is_made_again_and_is_not_called_drift(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 10, "hold": "5s"}, {"weight": 100}], targets=[ROUTE])
    r.step(apply=False)  # status written, then the operator died before the patch
    d = r.step()
    assert [(w.weight, w.targets) for w in d.weights] == [(10, ("httpRoute/checkout",))]
    assert "TrafficDrift" not in r.reasons()


def test_someone_editing_a_weight_during_a_hold_is_written_back_with_a_warning(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 10, "hold": "60s"}, {"weight": 100}], targets=[ROUTE])
    r.step()
    r.step()
    assert r.traffic.state == TrafficState.HOLDING
    world.shows["httpRoute/checkout"] = 50  # a person (or a GitOps sync) moved it
    d = r.step()
    assert [(w.weight, w.targets) for w in d.weights] == [(10, ("httpRoute/checkout",))]
    drift = [e for e in r.events if e.reason == "TrafficDrift"]
    assert len(drift) == 1 and drift[0].warning and "weight 50" in drift[0].message
    assert r.traffic.state == TrafficState.HOLDING  # the hold continues


def test_analysis_failure_steps_back_cools_down_and_retries(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 10, "hold": "5s"}, {"weight": 50, "hold": "5s"}, {"weight": 100}],
             targets=[ROUTE], analysis=[ERRORS], onFailure="StepBack", coolDown="20s")
    ok = {"error-rate": passing("0.001")}
    r.step(checks=ok)
    r.step(checks=ok)
    r.step(seconds=5, checks=ok)
    r.step(checks=ok)
    assert (r.traffic.step, r.traffic.weight, r.traffic.state) == (2, 50, TrafficState.HOLDING)
    assert [c.name for c in wanted_checks(r.spec, r.status)] == ["error-rate"]
    r.step(checks={"error-rate": failing("0.09", "max 0.02")})
    assert (r.traffic.step, r.traffic.weight, r.traffic.state) == (1, 10, TrafficState.COOLING_DOWN)
    assert r.traffic.stepBacks == 1
    back = next(e for e in r.events if e.reason == "TrafficStepBack")
    assert "from 50% to 10%" in back.message and "0.09" in back.message
    r.step(checks=ok)
    r.step(seconds=10, checks=ok)
    assert r.traffic.state == TrafficState.COOLING_DOWN
    r.step(seconds=10, checks=ok)
    assert (r.traffic.step, r.traffic.weight) == (2, 50)
    assert [h.weight for h in r.traffic.history] == [10, 50, 10, 50]


def test_too_many_step_backs_pause_the_plan(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 10, "hold": "1s"}, {"weight": 100}], targets=[ROUTE],
             analysis=[ERRORS], maxStepBacks=1, coolDown="1s")
    bad = {"error-rate": failing("0.5", "max 0.02")}
    r.step(checks={"error-rate": passing()})
    r.step(checks=bad)
    assert r.traffic.weight == 0 and r.traffic.stepBacks == 1
    r.step(checks=bad)
    r.step(seconds=2, checks=bad)
    assert r.status.phase == Phase.PAUSED
    assert r.status.pauseReason.startswith("traffic analysis failed at 0% after 1 step-back(s)")
    ready = next(c for c in r.status.conditions if c.type == "Ready")
    assert ready.reason == "AnalysisFailed"
    r.step(checks=bad)
    assert next(c for c in r.status.conditions if c.type == "Ready").reason == "AnalysisFailed"
    # A person resumes: the count starts over.
    r.step(checks={"error-rate": passing()}, controls=Controls(resume_token="t1"))
    assert r.status.phase == Phase.TRAFFIC_REENTRY and r.traffic.stepBacks == 0


def test_onfailure_pause_keeps_the_weight(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 25, "hold": "10s"}, {"weight": 100}], targets=[ROUTE],
             analysis=[ERRORS], onFailure="Pause")
    r.step()
    r.step()
    r.step(checks={"error-rate": failing("0.3", "max 0.02")})
    assert r.status.phase == Phase.PAUSED and r.traffic.weight == 25
    assert world.shows["httpRoute/checkout"] == 25


def test_onfailure_abort_walks_back_to_zero_gradually(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 10, "hold": "1s"}, {"weight": 50, "hold": "60s"}, {"weight": 100}],
             targets=[ROUTE], analysis=[ERRORS], onFailure="Abort", abort={"gradual": True, "interval": "5s"})
    ok = {"error-rate": passing()}
    for _ in range(4):
        r.step(seconds=1, checks=ok)
    assert r.traffic.weight == 50
    r.step(checks={"error-rate": failing("0.4", "max 0.02")})
    assert r.status.phase == Phase.ABORTED
    assert r.traffic.state == TrafficState.ABORTING and r.traffic.weight == 10
    assert world.shows["httpRoute/checkout"] == 10
    r.step(seconds=1)
    assert r.traffic.weight == 10  # waits the abort interval at each step down
    r.step(seconds=5)
    assert r.traffic.weight == 0
    r.step()
    assert r.traffic.state == TrafficState.DONE and world.shows["httpRoute/checkout"] == 0
    assert "TrafficReturned" in r.reasons()


def test_a_manual_abort_returns_to_fallback_unless_told_to_keep_current(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 30, "hold": "60s"}, {"weight": 100}], targets=[ROUTE],
             abort={"gradual": False})
    r.step()
    r.step()
    r.step(controls=Controls(abort_reason="primary flapping"))
    assert r.status.phase == Phase.ABORTED and world.shows["httpRoute/checkout"] == 0
    world2 = World(["httpRoute/checkout"])
    k = Ramp(clock, world2, steps=[{"weight": 30, "hold": "60s"}, {"weight": 100}], targets=[ROUTE],
             safeState="KeepCurrent")
    k.step()
    k.step()
    k.step(controls=Controls(abort_reason="keep it"))
    assert k.status.phase == Phase.ABORTED and world2.shows["httpRoute/checkout"] == 30


def test_no_data_holds_the_step_by_default_and_can_count_as_pass(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 5, "hold": "2s"}, {"weight": 100}], targets=[ROUTE], analysis=[ERRORS])
    none = {"error-rate": CheckResult(Outcome.NO_DATA, message="empty result")}
    r.step(checks=none)
    r.step(checks=none)
    r.step(seconds=10, checks=none)
    assert r.traffic.weight == 5 and "waiting for analysis error-rate (NoData" in r.status.message
    check = next(c for c in r.status.checks if c.name == "error-rate")
    assert check.failureClass.value == "NoData" and check.stage == "analysis"
    lenient = Ramp(clock, World(["httpRoute/checkout"]), steps=[{"weight": 5, "hold": "2s"}, {"weight": 100}],
                   targets=[ROUTE], analysis=[{**ERRORS, "onNoData": OnNoData.PASS.value}])
    lenient.step(checks=none)
    lenient.step(checks=none)
    lenient.step(seconds=3, checks=none)
    assert lenient.traffic.weight == 100


def test_adaptive_ramp_adds_while_passing_and_halves_on_a_breach(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, adaptive={"start": 10, "increase": 20, "max": 100, "interval": "5s",
                                     "decreaseFactor": 0.5}, targets=[ROUTE], analysis=[ERRORS])
    ok = {"error-rate": passing()}
    r.step(checks=ok)
    seen = [r.traffic.weight]
    for _ in range(3):
        r.step(checks=ok)
        r.step(seconds=5, checks=ok)
        seen.append(r.traffic.weight)
    assert seen == [10, 30, 50, 70]
    r.step(checks=ok)
    r.step(checks={"error-rate": failing("0.2", "max 0.02")})
    assert r.traffic.weight == 35 and r.traffic.state == TrafficState.COOLING_DOWN
    assert r.traffic.history[-1].reason.startswith("step back")
    r.step(checks=ok)
    r.step(seconds=5, checks=ok)
    assert r.traffic.weight == 55  # additive increase again after the cool-down
    for _ in range(4):
        r.step(checks=ok)
        r.step(seconds=5, checks=ok)
    assert r.traffic.weight == 100 and r.status.phase == Phase.RESTORED


def test_dry_run_writes_nothing_but_walks_the_ramp(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 50, "hold": "1s"}, {"weight": 100}], targets=[ROUTE])
    r.spec = r.spec.model_copy(update={"mode": "DryRun"})
    for _ in range(5):
        r.step(seconds=1)
    assert world.writes == []
    assert r.status.phase == Phase.RESTORED
    assert r.traffic.targets[0].message == "dry run: would set weight 100"


def test_a_missing_target_holds_the_ramp_and_says_so(clock):
    world = World(["httpRoute/checkout"])
    r = Ramp(clock, world, steps=[{"weight": 50}], targets=[ROUTE])
    r.step()
    missing = TargetObservation(found=False, in_place=False, effective=False, message="HTTPRoute checkout not found")
    world.observe = lambda weight: {"httpRoute/checkout": missing}
    d = r.step()
    assert d.weights == []  # nothing to write to
    assert r.traffic.state == TrafficState.APPLYING
    assert "HTTPRoute checkout not found" in r.status.message


def test_an_adaptive_ramp_cannot_start_above_its_max():
    with pytest.raises(ValidationError, match="start 50 is above max 30"):
        plan({"name": "auth"}, traffic={"adaptive": {"start": 50, "max": 30}, "targets": [ROUTE]})
