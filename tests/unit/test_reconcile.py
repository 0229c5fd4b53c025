"""The engine walks the fixed stages and releases services bottom-up, with a fake clock."""

from reentry.engine.observations import ServiceObservation
from reentry.engine.reconcile import evaluate
from reentry.engine.sections import STAGE_ORDER
from reentry.model import Phase, ServiceState, StageState
from tests.unit.builders import observed, plan, pods

SHOP = plan({"name": "auth", "minReadyEndpoints": 2}, {"name": "orders", "dependsOn": ["auth"]},
            {"name": "checkout", "dependsOn": ["orders"]})


def services(status):
    return {s.name: s for s in status.services}


def conditions(status):
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_manual_plan_stays_armed_until_started(clock):
    spec = plan({"name": "auth"}, start="Manual")
    decision = evaluate(spec, 1, None, observed(auth=ServiceObservation(pods("auth", 2))), clock.now)
    assert decision.status.phase == Phase.ARMED
    assert decision.releases == []
    assert conditions(decision.status)["Progressing"] == ("False", "Armed")

    started = evaluate(spec, 1, decision.status, observed(start=True, auth=ServiceObservation(pods("auth", 2))),
                       clock.tick())
    assert started.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert started.status.technicalRecoveryAt == "2026-11-23T14:00:01.000Z"


def test_stages_pass_in_fixed_order_and_checkless_stages_pass_through(clock):
    decision = evaluate(SHOP, 1, None, observed(auth=ServiceObservation(pods("auth", 2))), clock.now)
    stages = decision.status.stages
    assert [s.name for s in stages] == list(STAGE_ORDER)
    assert [s.state for s in stages] == [StageState.PASSED, StageState.PASSED, StageState.RUNNING,
                                         StageState.PENDING, StageState.PENDING]
    assert decision.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert decision.status.stage == "dependencies"
    assert [(e.reason, e.message) for e in decision.events[:5]] == [
        ("StageStarted", "stage identity started"), ("StagePassed", "stage identity passed"),
        ("StageStarted", "stage state started"), ("StagePassed", "stage state passed"),
        ("StageStarted", "stage dependencies started")]


def test_services_are_released_bottom_up_and_the_plan_restores(clock):
    status = None
    released_order = []

    def run(obs):
        nonlocal status
        decision = evaluate(SHOP, 1, status, obs, clock.tick())
        status = decision.status
        released_order.extend(a.service for a in decision.releases)
        return decision

    # auth's deps are none: released at once; orders and checkout held.
    run(observed(auth=ServiceObservation(pods("auth", 2)), orders=ServiceObservation(pods("orders", 2)),
                 checkout=ServiceObservation(pods("checkout", 1))))
    s = services(status)
    assert (s["auth"].state, s["orders"].state, s["checkout"].state) == (
        ServiceState.RELEASING, ServiceState.HELD, ServiceState.HELD)
    assert s["orders"].waitingFor == ["auth"]

    # auth released but only one endpoint ready: minReadyEndpoints 2 keeps orders held.
    run(observed(auth=ServiceObservation(pods("auth", 2, released=[0, 1]), ready_endpoints=1),
                 orders=ServiceObservation(pods("orders", 2)), checkout=ServiceObservation(pods("checkout", 1))))
    assert services(status)["auth"].state == ServiceState.RELEASING
    assert released_order == ["auth"]

    run(observed(auth=ServiceObservation(pods("auth", 2, released=[0, 1]), ready_endpoints=2),
                 orders=ServiceObservation(pods("orders", 2)), checkout=ServiceObservation(pods("checkout", 1))))
    assert services(status)["auth"].state == ServiceState.ATTACHED
    assert services(status)["orders"].state == ServiceState.RELEASING  # let in by the same evaluation
    assert released_order == ["auth", "orders"]

    run(observed(auth=ServiceObservation(pods("auth", 2, released=[0, 1]), ready_endpoints=2),
                 orders=ServiceObservation(pods("orders", 2, released=[0, 1]), ready_endpoints=2),
                 checkout=ServiceObservation(pods("checkout", 1))))
    assert released_order == ["auth", "orders", "checkout"]
    final = run(observed(auth=ServiceObservation(pods("auth", 2, released=[0, 1]), ready_endpoints=2),
                         orders=ServiceObservation(pods("orders", 2, released=[0, 1]), ready_endpoints=2),
                         checkout=ServiceObservation(pods("checkout", 1, released=[0]), ready_endpoints=1)))
    assert status.phase == Phase.RESTORED
    assert status.operationallyRestoredAt is not None
    assert all(st.state == StageState.PASSED for st in status.stages)
    assert conditions(status) == {"Ready": ("True", "Restored"), "Progressing": ("False", "Restored"),
                                  "Stalled": ("False", "AsExpected"), "PlanReady": ("True", "ReferencesResolved")}
    a, o, c = (services(status)[n] for n in ("auth", "orders", "checkout"))
    assert a.attachedAt <= o.releaseStartedAt < o.attachedAt <= c.releaseStartedAt < c.attachedAt
    assert "Restored" in [e.reason for e in final.events]


def test_batches_respect_count_percent_and_interval(clock):
    spec = plan({"name": "auth", "release": {"batch": "25%", "interval": "10s"}})
    obs = observed(auth=ServiceObservation(pods("auth", 8)))
    first = evaluate(spec, 1, None, obs, clock.now)
    assert first.releases[0].pods == ("auth-0", "auth-1")
    obs = observed(auth=ServiceObservation(pods("auth", 8, released=[0, 1])))
    too_soon = evaluate(spec, 1, first.status, obs, clock.tick(9))
    assert too_soon.releases == []
    second = evaluate(spec, 1, too_soon.status, obs, clock.tick(1))
    assert second.releases[0].pods == ("auth-2", "auth-3")


def test_new_gated_pod_of_an_attached_service_is_released_even_after_restored(clock):
    spec = plan({"name": "auth"})
    d1 = evaluate(spec, 1, None, observed(auth=ServiceObservation(pods("auth", 1))), clock.now)
    d2 = evaluate(spec, 1, d1.status, observed(auth=ServiceObservation(pods("auth", 1, [0]), 1)), clock.tick())
    assert d2.status.phase == Phase.RESTORED
    scaled = observed(auth=ServiceObservation(pods("auth", 3, released=[0]), 1))
    d3 = evaluate(spec, 1, d2.status, scaled, clock.tick())
    assert [a.pods for a in d3.releases] == [("auth-1", "auth-2")]
    assert d3.status.phase == Phase.RESTORED


def test_pods_without_the_gate_count_as_released_and_are_never_patched(clock):
    spec = plan({"name": "auth"})
    d = evaluate(spec, 1, None, observed(auth=ServiceObservation(pods("auth", 2, gated=False), 2)), clock.now)
    assert d.releases == []
    assert services(d.status)["auth"].releasedPods == 2


def test_cycle_fails_the_plan_with_the_cycle_named_and_no_action(clock):
    spec = plan({"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]})
    d = evaluate(spec, 4, None, observed(a=ServiceObservation(pods("a", 1)), b=ServiceObservation(pods("b", 1))),
                 clock.now)
    assert d.status.phase == Phase.FAILED
    assert d.releases == []
    stalled = next(c for c in d.status.conditions if c.type == "Stalled")
    assert (stalled.status, stalled.reason) == ("True", "InvalidSpec")
    assert "dependsOn cycle: a -> b -> a" in stalled.message
    assert stalled.observedGeneration == 4
    assert d.events[0].warning

    again = evaluate(spec, 4, d.status, observed(), clock.tick())
    assert again.events == []  # no event storm while nothing changes
    assert again.status == d.status


def test_fixed_spec_leaves_failed_and_resumes(clock):
    broken = plan({"name": "a", "dependsOn": ["ghost"]})
    d = evaluate(broken, 1, None, observed(), clock.now)
    fixed = plan({"name": "a"})
    d2 = evaluate(fixed, 2, d.status, observed(a=ServiceObservation(pods("a", 1))), clock.tick())
    assert d2.status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert conditions(d2.status)["Stalled"] == ("False", "AsExpected")


def test_transition_time_changes_only_when_a_condition_flips(clock):
    spec = plan({"name": "auth"})
    d1 = evaluate(spec, 1, None, observed(auth=ServiceObservation(pods("auth", 1))), clock.now)
    d2 = evaluate(spec, 1, d1.status, observed(auth=ServiceObservation(pods("auth", 1, [0]))), clock.tick(5))
    ready1 = next(c for c in d1.status.conditions if c.type == "Stalled")
    ready2 = next(c for c in d2.status.conditions if c.type == "Stalled")
    assert ready1.lastTransitionTime == ready2.lastTransitionTime
