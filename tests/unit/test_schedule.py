"""When a plan is looked at again and when its checks are probed: no polling, nothing judged stale."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from reentry import cache, controller
from reentry.engine import schedule
from reentry.engine.timeutil import format_time
from reentry.model import (
    Check,
    CheckStatus,
    Outcome,
    Phase,
    RecoveryPlanStatus,
    ServiceState,
    ServiceStatus,
    TrafficState,
    TrafficStatus,
)
from tests.unit.builders import plan


def check(**options) -> Check:
    return Check.model_validate({"name": "lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x",
                                                             "path": ".data.lag", "max": 5}, **options})


def test_a_check_is_probed_at_its_interval_by_default_ten_seconds(clock):
    probed = clock.now
    assert schedule.probe_due(check(), None, None) is None  # never probed: at once
    assert schedule.probe_due(check(), None, probed) == probed + timedelta(seconds=10)
    assert schedule.probe_due(check(interval="2s"), None, probed) == probed + timedelta(seconds=2)


def test_a_passing_check_is_probed_again_when_its_stable_for_is_reached(clock):
    since = clock.now
    status = CheckStatus(name="lag", stage="state", kind="resource", result=Outcome.PASS,
                         passingSince=format_time(since), firstEvaluatedAt=format_time(since))
    due = schedule.probe_due(check(stableFor="3s", interval="30s"), status, clock.tick(0.1))
    assert due == since + timedelta(seconds=3)
    # Once past it, the interval rules again.
    later = clock.tick(5)
    assert schedule.probe_due(check(stableFor="3s", interval="30s"), status, later) == later + timedelta(seconds=30)


def test_a_failing_check_is_probed_when_its_timeout_would_expire(clock):
    first = clock.now
    status = CheckStatus(name="lag", stage="state", kind="resource", result=Outcome.FAIL,
                         firstEvaluatedAt=format_time(first))
    due = schedule.probe_due(check(timeout="4s", interval="1m"), status, clock.tick(1))
    assert due == first + timedelta(seconds=4)


def test_an_analysis_is_probed_when_its_hold_or_cool_down_ends(clock):
    probed = clock.now
    hold_end = probed + timedelta(seconds=3)
    assert schedule.probe_due(check(interval="1m"), None, probed, [hold_end]) == hold_end
    # An analysis probed after the hold ended waits for its interval.
    assert schedule.probe_due(check(interval="1m"), None, hold_end, [hold_end]) == hold_end + timedelta(minutes=1)
    cooling = RecoveryPlanStatus(phase=Phase.TRAFFIC_REENTRY, traffic=TrafficStatus(
        state=TrafficState.COOLING_DOWN, coolDownUntil=format_time(hold_end)))
    assert schedule.analysis_judged_at(cooling) == [hold_end]


def test_an_aborted_plan_still_walks_its_weight_back(clock):
    back = format_time(clock.now + timedelta(seconds=10))
    aborting = RecoveryPlanStatus(phase=Phase.ABORTED, traffic=TrafficStatus(state=TrafficState.ABORTING,
                                                                              holdUntil=back))
    assert schedule.next_deadline(plan({"name": "a"}), aborting) == clock.now + timedelta(seconds=10)
    done = aborting.model_copy(update={"traffic": TrafficStatus(state=TrafficState.DONE)})
    assert schedule.next_deadline(plan({"name": "a"}), done) is None


def test_an_overridden_check_is_not_hurried(clock):
    status = CheckStatus(name="lag", stage="state", kind="resource", result=Outcome.FAIL, overridden=True,
                         firstEvaluatedAt=format_time(clock.now))
    assert schedule.probe_due(check(timeout="1s"), status, clock.now) == clock.now + timedelta(seconds=10)


def test_the_next_batch_of_a_release_is_a_deadline(clock):
    spec = plan({"name": "orders", "release": {"batch": 1, "interval": "20s"}})
    status = RecoveryPlanStatus(phase=Phase.DEPENDENCY_CONVERGENCE, services=[
        ServiceStatus(name="orders", state=ServiceState.RELEASING, lastBatchAt=format_time(clock.now)),
        ServiceStatus(name="gone", state=ServiceState.RELEASING, lastBatchAt=format_time(clock.now))])
    assert schedule.next_deadline(spec, status) == clock.now + timedelta(seconds=20)
    attached = ServiceStatus(name="orders", state=ServiceState.ATTACHED, lastBatchAt=format_time(clock.now))
    assert schedule.next_deadline(spec, status.model_copy(update={"services": [attached]})) is None


def test_holds_cool_downs_observe_for_and_the_budget_are_deadlines(clock):
    spec = plan({"name": "a"}, restorationBudget="1h", validation={"observeFor": "5m"})
    status = RecoveryPlanStatus(phase=Phase.OBSERVING, observingSince=format_time(clock.now),
                                traffic=TrafficStatus(state=TrafficState.DONE))
    assert schedule.next_deadline(spec, status) == clock.now + timedelta(minutes=5)
    hold_end = format_time(clock.now + timedelta(seconds=30))
    held = status.model_copy(update={"traffic": TrafficStatus(state=TrafficState.HOLDING, holdUntil=hold_end)})
    assert schedule.next_deadline(spec, held) == clock.now + timedelta(seconds=30)
    assert schedule.next_deadline(spec, status.model_copy(update={"phase": Phase.RESTORED})) is None


def test_busy_only_while_actions_run():
    ramping = RecoveryPlanStatus(phase=Phase.TRAFFIC_REENTRY, traffic=TrafficStatus(state=TrafficState.APPLYING))
    assert not schedule.busy(ramping, [])  # targets are followed by watches; holds are deadlines
    assert schedule.busy(RecoveryPlanStatus(phase=Phase.STATE_RECONCILIATION), ["flush-cache"])
    assert not schedule.busy(RecoveryPlanStatus(phase=Phase.PAUSED), ["flush-cache"])
    assert not schedule.busy(RecoveryPlanStatus(phase=Phase.RESTORED), [])
    assert not schedule.busy(None, [])


def test_the_loop_sleeps_until_the_earliest_probe_or_deadline(clock):
    spec = plan({"name": "a"}, technicalRecovery={"checks": [{"name": "lag", "interval": "4s", "resource": {
        "apiVersion": "v1", "kind": "ConfigMap", "name": "x", "path": ".data.lag", "max": 5}}]})
    status = RecoveryPlanStatus(phase=Phase.ARMED)
    memory = controller.PlanMemory(spec=spec)
    now = datetime.now(UTC)
    # Not probed yet (as when its stage just began): at once.
    assert controller.next_wake(status, memory, now, resync=300) == 0.0
    memory.probed["lag"] = (spec.technicalRecovery.checks[0], now)
    assert 3.5 < controller.next_wake(status, memory, now, resync=300) <= 4.0
    # At rest (restored): only the resync.
    restored = status.model_copy(update={"phase": Phase.RESTORED})
    assert controller.next_wake(restored, memory, now, resync=300) == 300
    # Right after an evaluation that changed the status: at once (a bounded number of times).
    assert controller.next_wake(restored, memory, now, resync=300, hurried=1) == 0.0
    assert controller.next_wake(restored, memory, now, resync=300,
                                hurried=controller.MAX_HURRIED + 1) == 300
    # An invalid spec waits for a change of its spec, or the resync.
    memory.spec = None
    assert controller.next_wake(status, memory, now, resync=300) == 300


def test_a_released_pod_counts_as_released_until_the_watch_shows_it():
    memory = controller.PlanMemory()
    now = datetime.now(UTC)
    memory.releasing["a"] = now
    held = cache.CachedPod("a", {}, gated=True, released=False, deleting=False)
    assert memory.expect_released([held], now)[0].released
    # The watch caught up: forgotten; so is an expectation older than the bound.
    assert memory.expect_released([held._replace(released=True)], now)[0].released
    assert "a" not in memory.releasing
    memory.releasing["b"] = now - controller.RELEASE_EXPECTATION - timedelta(seconds=1)
    assert not memory.expect_released([held._replace(name="b")], now)[0].released
    assert memory.releasing == {}


def test_a_written_version_counts_as_delivered_once_reached_or_passed():
    from reentry.handlers import _at_least

    assert _at_least("120", "120") and _at_least("121", "120")
    assert not _at_least("119", "120") and not _at_least(None, "120")
    assert _at_least("anything", None)  # nothing was written
    assert _at_least("v2", "v2") and not _at_least("v3", "v2")  # opaque versions: equality only


def _releasing(released: int, ready: int, message: str = "releasing") -> RecoveryPlanStatus:
    return RecoveryPlanStatus(phase=Phase.DEPENDENCY_CONVERGENCE, message=message, services=[
        ServiceStatus(name="api", state=ServiceState.RELEASING, releasedPods=released, totalPods=500,
                      readyEndpoints=ready)])


def test_only_counts_and_words_changing_is_progress_anything_else_is_a_step():
    before = _releasing(10, 4)
    assert schedule.progress_only(before, _releasing(20, 9, "releasing: 20/500"))
    assert not schedule.progress_only(before, before)  # no change at all
    assert not schedule.progress_only(None, before)  # the first status is written at once
    attached = before.model_copy(update={"services": [before.services[0].model_copy(
        update={"state": ServiceState.ATTACHED})]})
    assert not schedule.progress_only(before, attached)
    assert not schedule.progress_only(before, before.model_copy(update={"phase": Phase.TRAFFIC_REENTRY}))


class _Writes:
    def __init__(self) -> None:
        self.written: list[RecoveryPlanStatus] = []

    async def write_status(self, namespace: str, name: str, status: RecoveryPlanStatus) -> str:
        self.written.append(status)
        return str(len(self.written))


def test_progress_is_written_at_most_once_per_interval_and_the_loop_wakes_for_it(monkeypatch):
    from reentry.engine.reconcile import Decision

    decisions = iter([_releasing(10, 4), _releasing(20, 9), _releasing(30, 9)])
    monkeypatch.setattr(controller, "observe", _no_observations)
    monkeypatch.setattr(controller, "evaluate", lambda *_: Decision(next(decisions)))
    kube, memory = _Writes(), controller.PlanMemory()
    body = {"metadata": {"namespace": "ns", "name": "p"}, "spec": plan({"name": "api"}).model_dump(mode="json"),
            "status": _releasing(0, 0).model_dump(mode="json")}
    def reconcile() -> Decision:
        return asyncio.run(controller.reconcile(kube, None, None, body, memory=memory))  # type: ignore[arg-type]

    first = reconcile()
    assert kube.written == [_releasing(10, 4)] and first.status == _releasing(10, 4)
    body["status"] = first.status.model_dump(mode="json")
    second = reconcile()
    # Within the interval: not written, the decision keeps the status it started from, and the loop
    # is woken when the interval ends.
    assert len(kube.written) == 1 and second.status == first.status
    assert memory.progress_due == memory.written_at + schedule.PROGRESS_INTERVAL
    wake = controller.next_wake(second.status, memory, datetime.now(UTC), resync=300)
    assert 0 < wake <= schedule.PROGRESS_INTERVAL.total_seconds()
    memory.written_at -= schedule.PROGRESS_INTERVAL  # the interval has passed
    third = reconcile()
    assert kube.written[-1] == _releasing(30, 9) and third.status == _releasing(30, 9)
    assert memory.progress_due is None


async def _no_observations(*_args, **_kwargs):
    return None
