"""A plan keeps a finalizer only while deleting it would leave something to hand back."""

from __future__ import annotations

from reentry.engine.protection import protects, safe_weight_on_delete
from reentry.model import Phase, RecoveryPlanStatus, ServiceState, ServiceStatus, TrafficState, TrafficStatus
from tests.unit.builders import plan

RAMP = {"steps": [{"weight": 50}, {"weight": 100}],
        "targets": [{"configMapKey": {"name": "retry-policy", "key": "budget", "from": 0, "to": 20}}]}


def status(phase: Phase, held: int = 0, traffic: TrafficStatus | None = None) -> RecoveryPlanStatus:
    state = ServiceState.ATTACHED if held == 0 else ServiceState.HELD
    return RecoveryPlanStatus(phase=phase, traffic=traffic, services=[
        ServiceStatus(name="api", state=state, heldPods=held, totalPods=2, releasedPods=2 - held)])


def test_a_plan_not_finished_is_protected_from_its_creation_on():
    spec = plan({"name": "api"})
    assert protects(spec, None)
    for phase in (Phase.PENDING, Phase.ARMED, Phase.DEPENDENCY_CONVERGENCE, Phase.PAUSED, Phase.VALIDATING,
                  Phase.OBSERVING):
        assert protects(spec, status(phase, held=2)), phase


def test_a_restored_plan_or_a_dry_run_carries_no_finalizer():
    spec = plan({"name": "api"}, traffic=RAMP)
    done = TrafficStatus(step=2, steps=2, weight=100, state=TrafficState.DONE)
    assert not protects(spec, status(Phase.RESTORED, traffic=done))
    assert not protects(spec, status(Phase.RESTORED, held=1))  # a late pod: the running operator lets it in
    assert not protects(plan({"name": "api"}, mode="DryRun"), status(Phase.ARMED, held=2))


def test_a_plan_that_stopped_short_keeps_one_while_it_holds_pods_or_traffic_is_away_from_safe():
    spec = plan({"name": "api"}, traffic=RAMP)
    assert protects(spec, status(Phase.ABORTED, held=1))
    assert not protects(spec, status(Phase.ABORTED))
    walking_back = TrafficStatus(step=1, steps=2, weight=50, state=TrafficState.ABORTING)
    assert safe_weight_on_delete(spec, status(Phase.ABORTED, traffic=walking_back)) == 0
    assert protects(spec, status(Phase.ABORTED, traffic=walking_back))
    back = walking_back.model_copy(update={"weight": 0})
    assert not protects(spec, status(Phase.ABORTED, traffic=back))
    keep = plan({"name": "api"}, traffic={**RAMP, "safeState": "KeepCurrent"})
    assert safe_weight_on_delete(keep, status(Phase.ABORTED, traffic=walking_back)) is None
    assert protects(spec, status(Phase.FAILED, held=2))
    assert not protects(spec, status(Phase.FAILED))
