"""The traffic benchmark's pure parts: reading step latencies and writes out of watch journals, the report."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bench import report, run
from bench.rest import RestSample
from bench.traffic import KEY, Shape, StepSample, TrafficResult, Trial, Writes, count_writes, step_samples

from reentry.engine.timeutil import parse_time

NAMES = ["a", "b"]
HOLD_1 = "2026-11-23T10:00:01.000Z"
HOLD_2 = "2026-11-23T10:00:03.000Z"


def at(stamp: str, plus: float) -> float:
    return parse_time(stamp).timestamp() + plus


def plan_event(step: int, state: str, hold: str | None = None, reasons: tuple[str, ...] = ()) -> dict[str, Any]:
    traffic: dict[str, Any] = {"step": step, "state": state,
                               "history": [{"weight": 0, "at": HOLD_1, "reason": r} for r in reasons]}
    if hold:
        traffic["holdUntil"] = hold
    return {"metadata": {"name": "plan-1"}, "status": {"traffic": traffic}}


def cm(name: str, value: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {KEY: value}}


def test_a_step_runs_from_the_previous_hold_end_to_the_last_target_showing_its_value():
    # Given a ramp 50 -> 100 whose step 1 held until HOLD_1
    plans = [
        (at(HOLD_1, -1.5), "MODIFIED", plan_event(1, "Applying", reasons=("step 1/2",))),
        (at(HOLD_1, -1.0), "MODIFIED", plan_event(1, "Holding", HOLD_1, ("step 1/2",))),
        (at(HOLD_1, 0.050), "MODIFIED", plan_event(2, "Applying", reasons=("step 1/2", "step 2/2"))),
        (at(HOLD_1, 0.300), "MODIFIED", plan_event(2, "Holding", HOLD_2, ("step 1/2", "step 2/2"))),
    ]
    maps = [
        (at(HOLD_1, -1.4), "MODIFIED", cm("a", "50")), (at(HOLD_1, -1.4), "MODIFIED", cm("b", "50")),
        (at(HOLD_1, 0.080), "MODIFIED", cm("b", "100")), (at(HOLD_1, 0.120), "MODIFIED", cm("a", "100")),
    ]
    # When the journals are read
    [sample] = step_samples(1, plans, maps, NAMES, [50, 100])
    # Then step 2 counts from HOLD_1: status, first and last target
    assert sample.step == 2
    assert sample.status == pytest.approx(0.050, abs=1e-6)
    assert sample.first == pytest.approx(0.080, abs=1e-6)
    assert sample.last == pytest.approx(0.120, abs=1e-6)


def test_a_ramp_that_stepped_back_is_refused_rather_than_counted():
    plans = [(at(HOLD_1, 0), "MODIFIED", plan_event(1, "Holding", HOLD_1, ("step 1/2", "step back: x")))]
    with pytest.raises(AssertionError, match="did not go straight up"):
        step_samples(1, plans, [], NAMES, [50, 100])


def test_a_target_never_seen_at_a_step_is_named():
    plans = [(at(HOLD_1, -1), "MODIFIED", plan_event(1, "Holding", HOLD_1, ("step 1/2",))),
             (at(HOLD_1, 0.05), "MODIFIED", plan_event(2, "Applying", reasons=("step 1/2", "step 2/2")))]
    maps = [(at(HOLD_1, 0.1), "MODIFIED", cm("a", "100"))]
    with pytest.raises(AssertionError, match=r"targets missing: \['b'\]"):
        step_samples(1, plans, maps, NAMES, [50, 100])


def test_writes_count_changes_value_changes_and_repeated_requests():
    events = [
        (0.0, "ADDED", cm("a", "0")),
        (1.0, "MODIFIED", cm("a", "50")),
        (2.0, "MODIFIED", cm("a", "50")),  # a change that left the value alone (e.g. labels)
        (3.0, "MODIFIED", cm("a", "100")),
    ]
    writes = count_writes(events, ["a"], 2, Counter({"APPLY": 4, "GET": 9, "LIST": 1}))
    assert (writes.changes, writes.transitions, writes.requests, writes.reads) == (3, 2, 4, 9)
    assert writes.expected == 2
    assert writes.repeats == 2


def test_step_weights_are_even_and_end_at_100():
    assert Shape(steps=10).weights == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert Shape(steps=3).weights == [33, 67, 100]


def test_the_traffic_report_is_written_beside_the_main_one():
    assert run.traffic_path(Path("docs/benchmarks.md")) == Path("docs/benchmarks-traffic.md")


def test_only_names_known_benchmarks():
    assert run.parse_args(["--only", "traffic"]).only == ("traffic",)
    assert run.parse_args([]).only == run.BENCHMARKS
    with pytest.raises(argparse.ArgumentTypeError, match="choose from"):
        run._selection("traffik")
    with pytest.raises(SystemExit):  # --out would drop the other half of the (a)+(b) report
        run.parse_args(["--only", "latency", "--out", "x.md"])


def test_the_report_states_the_goal_and_the_ratio():
    shape = Shape(targets=2, steps=2, hold_ms=1000)
    tick = {part: [0.01] for part in ("pods", "service", "targets", "observe", "decide")}
    writes = Writes(2, 2, changes=4, transitions=4, requests=4, reads=20)
    trial = Trial([StepSample(1, 2, 0.05, 0.08, 0.12)], [0.04], writes, Writes(2, 2, 4, 4, 4, 4), tick)
    machine = report.Machine("today", 2, "1.00, 1.00, 1.00", "3.11", "Linux", "v1.34.4")
    text = report.traffic_markdown(machine, TrafficResult(shape, [trial]))
    assert "**Step latency p99: 120 ms** (goal < 200 ms: met)" in text
    assert "Ratio operator / baseline: p50 3.0, p99 3.0" in text
    assert "**Operator writes per target per step: 1.00, repeats 0**" in text
    assert "**Target reads per step from step 2: 0.0** (goal 0, the targets read from their watches: met)" in text
    assert "| operator | 4 | 4 | 4 | 4 | 1.00 | 0 | 20.0 | 0.0 |" in text
    assert "goal is missed" not in text


def test_the_rest_report_counts_the_operators_requests_per_plan_per_minute():
    sample = RestSample(plans=40, pods_per_plan=2, window=60.0, running=Counter({"LIST": 5, "PATCH": 80, "GET": 3}),
                        stopped=Counter({"LIST": 5, "GET": 3}), cpu_seconds=0.6, rss_bytes=100 * 2**20,
                        restored_after=7.0)
    assert sample.operator_requests == 80 and sample.per_plan_per_minute == 2.0 and sample.cpu_share == 0.01
    assert sample.by_verb() == {"PATCH": 80}
    row = report.rest_table([sample])[-1]
    assert row.startswith("| 40 | 80 | 1.33 | 2.00 | met | 1.0% | 100 MiB | PATCH 80 | 7 s |")
    noisy = RestSample(40, 2, 60.0, Counter({"GET": 1}), Counter({"GET": 4}), 0.0, 0, 1.0)
    assert noisy.operator_requests == 0  # less with the operator running than stopped: noise, not negative
    text = report.rest_markdown(report.Machine("today", 2, "1.00", "3.11", "Linux", "v1.34.4"), [sample])
    assert "--only rest --rest-plans 40 --rest-pods 2 --rest-window 60" in text and "shorter than the resync" in text


def test_the_rest_report_scales_the_quiet_window_to_the_running_one():
    # 330 s running, 60 s stopped: the stopped window's 6 GETs are 33 over 330 s, so the operator made 7.
    sample = RestSample(plans=10, pods_per_plan=2, window=330.0, running=Counter({"GET": 40}),
                        stopped=Counter({"GET": 6}), cpu_seconds=0.0, rss_bytes=0, restored_after=1.0,
                        quiet_window=60.0, phases=Counter({"Armed": 2, "Restored": 8}))
    assert sample.operator_requests == 7 and sample.by_verb() == {"GET": 7}
    assert sample.per_plan_per_minute == pytest.approx(7 / 10 / 5.5)
    text = report.rest_markdown(report.Machine("today", 2, "1.00", "3.11", "Linux", "v1.34.4"), [sample])
    assert "longer than the resync" in text and "Armed 2, Restored 8" in text and "over 60 s with it stopped" in text


def test_the_rest_report_compares_step_latency_under_load_with_one_plan():
    shape = Shape(targets=2, steps=2, hold_ms=1000)
    tick = {part: [0.01] for part in ("pods", "service", "targets", "observe", "decide")}
    writes = Writes(2, 2, 4, 4, 4, 0)

    def result(last: float) -> TrafficResult:
        return TrafficResult(shape, [Trial([StepSample(1, 2, 0.01, 0.02, last)], [0.03], writes, writes, tick)])

    sample = RestSample(200, 25, 330.0, Counter(), Counter(), 0.0, 0, 1.0, 60.0)
    machine = report.Machine("today", 2, "1.00", "3.11", "Linux", "v1.34.4")
    text = report.rest_markdown(machine, [sample], result(0.050), result(0.120))
    assert "200 plans resting over 5000 gated pods" in text
    assert "**Step latency p99 with 200 plans resting / with one plan: 2.40** (goal <= 2: **missed**)" in text
    assert "--only traffic,rest" in text
    assert "(goal <= 2: met)" in report.rest_markdown(machine, [sample], result(0.050), result(0.060))


def test_the_plans_at_rest_rest_in_each_of_the_five_phases_and_are_valid_plans():
    from bench import rest

    from reentry import model

    seen = []
    for index in range(5):
        *pods, service, plan = rest.manifests(index, 3)
        assert len(pods) == 3 and service["kind"] == "Service"
        model.RecoveryPlanSpec.model_validate(plan["spec"])
        seen.append(plan["metadata"]["labels"][rest.RESTS_IN])
    assert seen == ["Armed", "Paused", "Validating", "Observing", "Restored"]
    assert rest.manifests(1, 1)[-1]["metadata"]["annotations"] == {model.PAUSED_ANNOTATION: "true"}


def test_the_throughput_ratio_ends_both_runs_at_the_watch_and_includes_the_operators_reaction():
    from bench.throughput import ThroughputResult

    r = ThroughputResult(pods=500, concurrency=32, setup_seconds=(20.0, 20.0), raw_seconds=1.8,
                         raw_observed_seconds=2.0, operator_seconds=2.1, operator_reaction=0.1)
    assert r.ratio == pytest.approx(2.0 / 2.1) and r.release_phase_ratio == pytest.approx(1.0)
    assert r.response_ratio == pytest.approx(1.8 / 2.1)
    text = "\n".join(report.throughput_table([r]))
    assert "**Ratio operator / raw throughput, median of 1 round(s): 0.95** (goal >= 0.95: met" in text
