"""The timeline: every Event the engine decides is recorded in status with the status it led to,
in order, once, bounded."""

from __future__ import annotations

from reentry.engine import bookkeeping
from reentry.engine.observations import Event, ServiceObservation
from reentry.engine.reconcile import evaluate
from reentry.model import TIMELINE_LIMIT, RecoveryPlanStatus
from tests.unit.builders import Drill, failing, observed, passing, plan, pods

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}


def test_every_event_lands_in_the_timeline_in_order_with_its_time(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [LAG]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing("4", "max 1")})
    d.step(checks={"replica-lag": passing("0")})
    timeline = d.status.timeline
    assert [e.reason for e in timeline] == d.reasons()
    assert [e.message for e in timeline] == [e.message for e in d.events]
    failed = next(e for e in timeline if e.reason == "CheckFailed")
    assert failed.warning is True and "4" in failed.message
    assert next(e for e in timeline if e.reason == "StagePassed").warning is None
    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    assert timeline[-1].at == d.status.stages[1].finishedAt  # the state stage passed in the last evaluation


def test_an_evaluation_that_decides_nothing_records_nothing(clock):
    d = Drill(plan({"name": "auth"}, state={"checks": [LAG]}), clock)
    d.step()
    d.step(checks={"replica-lag": failing()})
    before = list(d.status.timeline)
    d.step(checks={"replica-lag": failing()})
    assert d.status.timeline == before


def test_the_timeline_keeps_the_newest_entries_and_counts_the_dropped():
    status = RecoveryPlanStatus()
    for i in range(TIMELINE_LIMIT + 5):
        status = bookkeeping.recorded(status, [Event("CheckFailed", f"n{i}", warning=True)], f"t{i:04d}")
    assert len(status.timeline) == TIMELINE_LIMIT and status.timelineDropped == 5
    assert status.timeline[0].message == "n5" and status.timeline[-1].message == f"n{TIMELINE_LIMIT + 4}"


def test_an_invalid_spec_is_recorded_once(clock):
    spec = plan({"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]})
    obs = observed(a=ServiceObservation(pods("a", 1)), b=ServiceObservation(pods("b", 1)))
    first = evaluate(spec, 1, None, obs, clock.now)
    again = evaluate(spec, 1, first.status, obs, clock.tick())
    assert [e.reason for e in again.status.timeline] == ["InvalidSpec"]
    assert "dependsOn cycle" in again.status.timeline[0].message
