"""The re-entry storm model: a ramp stays within capacity where a binary cutover does not."""

from __future__ import annotations

from itertools import pairwise

import pytest

from reentry.engine.storm import Assumptions, Step, StormInputError, compare, plan_steps, simulate
from reentry.model import TrafficStage

# A service that normally runs at two thirds of its capacity, with a minute of demand queued up.
GIVEN = Assumptions(demand=1000, capacity=1500, backlog=60_000, drain=60, cold_factor=2, warmup=120,
                    retry_factor=0.5)
RAMP = [Step(5, 120), Step(25, 180), Step(50, 180), Step(100, 300)]


def test_the_binary_cutover_overloads_where_the_ramp_does_not():
    result = compare(RAMP, GIVEN)
    assert result.ramp.overloaded_seconds == 0
    assert result.ramp.failed == 0
    # At t=0: 1000 req/s of demand plus 1000 req/s of backlog (60,000 over 60 s), each costing 2x.
    first = result.cutover.seconds[0]
    assert (first.demand, first.backlog, first.cost) == (1000, 1000, 2)
    assert first.load == 4000
    assert result.cutover.overloaded_seconds > 60
    assert result.cutover.peak_load > 2.5 * GIVEN.capacity
    assert result.cutover.failed > 50_000
    # Both carry the same span of time, and the cutover is one step at the ramp's top weight.
    assert len(result.cutover.seconds) == len(result.ramp.seconds) == 780
    assert [s.weight for s in result.cutover.steps] == [100]


def test_the_ramps_steps_add_demand_and_their_share_of_the_backlog():
    run = simulate("ramp", RAMP, GIVEN)
    # Step 2 at t=120: the cache is warm, 250 req/s of demand and 20% more of the backlog over 60 s.
    second = run.seconds[120]
    assert second.cost == 1
    assert second.demand == 250
    assert second.backlog == pytest.approx(60_000 * 0.20 / 60)
    assert [s.peak_load for s in run.steps] == pytest.approx([100 * 2, 250 + 200, 500 + 250, 1000 + 500])
    # Every share of the backlog arrives exactly once: the whole backlog for a ramp to 100%.
    assert sum(s.backlog for s in run.seconds) == pytest.approx(60_000)


def test_retries_compound_while_overloaded_and_stop_when_the_load_fits():
    given = Assumptions(demand=2000, capacity=1000, retry_factor=0.5)
    run = simulate("cutover", [Step(100, 60)], given)
    retries = [s.retries for s in run.seconds]
    assert retries[0] == 0
    assert retries[1] == 500  # half of the 1000 that failed
    assert all(a < b for a, b in pairwise(retries[1:11]))
    # Steady state: offered = 2000 + 0.5 * (offered - 1000) -> 3000 req/s.
    assert run.seconds[-1].offered == pytest.approx(3000, rel=1e-3)

    calm = simulate("cutover", [Step(100, 60)], Assumptions(demand=900, capacity=1000, retry_factor=0.9))
    assert calm.failed == 0
    assert all(s.retries == 0 for s in calm.seconds)


def test_the_cold_cache_decays_linearly_from_the_first_traffic():
    given = Assumptions(demand=100, capacity=1000, cold_factor=3, warmup=100)
    run = simulate("ramp", [Step(0, 10), Step(10, 200)], given)
    costs = [s.cost for s in run.seconds]
    assert costs[:10] == [1.0] * 10  # no traffic, nothing to warm
    assert costs[10] == 3
    assert costs[60] == pytest.approx(2)
    assert costs[110:] == [1.0] * 100


@pytest.mark.parametrize("field", ["demand", "backlog", "cold_factor", "retry_factor"])
def test_more_pressure_never_lowers_the_peak(field):
    """Monotonic: raising demand, backlog, cold factor or retry factor never lowers either peak."""
    values = {"demand": [500, 1000, 1500, 2500], "backlog": [0, 30_000, 90_000],
              "cold_factor": [1, 1.5, 3], "retry_factor": [0, 0.3, 0.6, 0.9]}[field]
    peaks = []
    for value in values:
        result = compare(RAMP, Assumptions(**{**GIVEN.__dict__, field: value}))
        peaks.append((result.ramp.peak_load, result.cutover.peak_load, result.cutover.failed))
    for lower, higher in pairwise(peaks):
        assert all(h >= lo for h, lo in zip(higher, lower, strict=True))


def test_more_capacity_never_adds_overload():
    failed = [compare(RAMP, Assumptions(**{**GIVEN.__dict__, "capacity": c})).cutover.failed
              for c in (1000, 1500, 2500, 5000)]
    assert failed == sorted(failed, reverse=True)
    assert failed[-1] == 0


def test_a_longer_drain_flattens_the_backlog():
    peaks = [compare(RAMP, Assumptions(**{**GIVEN.__dict__, "drain": d})).cutover.seconds[0].backlog
             for d in (30, 60, 300)]
    assert peaks == [2000, 1000, 200]


def test_plan_steps_read_the_holds_and_the_adaptive_ramp():
    fixed = TrafficStage.model_validate({"steps": [{"weight": 10, "hold": "1m"}, {"weight": 40},
                                                   {"weight": 100, "hold": "30s"}]})
    # A step without a hold moves on at once; the last step is held long enough to watch it settle.
    assert plan_steps(fixed, tail=300) == [Step(10, 60), Step(40, 1), Step(100, 300)]
    adaptive = TrafficStage.model_validate({"adaptive": {"start": 5, "increase": 30, "max": 80, "interval": "2m"}})
    assert plan_steps(adaptive, tail=60) == [Step(5, 120), Step(35, 120), Step(65, 120), Step(80, 120)]


def test_a_plan_without_steps_and_bad_inputs_are_named():
    with pytest.raises(StormInputError, match="no steps and no adaptive ramp"):
        plan_steps(TrafficStage())
    with pytest.raises(StormInputError, match="retry factor must be at least 0 and below 1"):
        simulate("x", RAMP, Assumptions(demand=1, capacity=1, retry_factor=1))
    with pytest.raises(StormInputError, match=r"capacity must be positive.*cold factor must be at least 1"):
        simulate("x", RAMP, Assumptions(demand=1, capacity=0, cold_factor=0.5))
