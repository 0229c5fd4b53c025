"""The release benchmark's report: every round shown, the median round's ratio judged."""

from __future__ import annotations

from collections import Counter

from bench import report
from bench.throughput import ThroughputResult


def _round(operator_seconds: float, full_collections: int = 0) -> ThroughputResult:
    return ThroughputResult(pods=500, concurrency=32, setup_seconds=(24.0, 26.0), raw_seconds=1.5,
                            raw_observed_seconds=1.8, operator_seconds=operator_seconds, operator_reaction=0.1,
                            collections=(Counter(), Counter({"2:count": full_collections, "2:sum": 0.04})))


def test_the_median_round_is_judged_and_every_round_is_shown() -> None:
    rounds = [_round(2.0), _round(1.8, full_collections=1), _round(1.85)]  # ratios 0.90, 1.00, 0.97
    text = "\n".join(report.throughput_table(rounds))
    assert "median of 3 round(s): 0.97** (goal >= 0.95: met; lowest 0.90, highest 1.00)" in text
    assert sum(line.startswith("| ") and line[2].isdigit() for line in text.splitlines()) == 3  # one row a round
    assert "1 (40 ms each on average)" in text  # the round with a full collection during the operator's run


def test_a_median_below_the_goal_is_missed_even_if_one_round_met_it() -> None:
    text = "\n".join(report.throughput_table([_round(2.0), _round(1.7), _round(2.1)]))
    assert "median of 3 round(s): 0.90** (goal >= 0.95: **missed**" in text
