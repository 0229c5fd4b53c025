"""The soak's verdict: the first window after the warm-up against the last, memory and connections."""

from __future__ import annotations

import pytest
from bench import soak

MIB = 1024 * 1024


def _samples(rss: list[float], sockets: list[int] | None = None) -> list[soak.Sample]:
    """One sample a minute, RSS in MiB."""
    sockets = sockets or [10] * len(rss)
    return [soak.Sample(seconds=60.0 * i, rss=int(r * MIB), sockets=s, descriptors=s + 5, threads=3, cycles=i)
            for i, (r, s) in enumerate(zip(rss, sockets, strict=True))]


def test_memory_that_grows_then_levels_off_is_flat_after_the_warm_up() -> None:
    rss = [60, 80, 95, 100, 101, 100, 102, 101, 100, 103, 102]  # the warm-up: the first 2 minutes
    verdict = soak.judge(_samples(rss), warmup=120, window=180)
    assert [s.seconds for s in verdict.first] == [120, 180, 240]
    assert [s.seconds for s in verdict.last] == [480, 540, 600]
    assert verdict.flat and 0 < verdict.rss_growth < 0.03


def test_a_leak_is_not_flat() -> None:
    rss = [100 + 3 * i for i in range(11)]  # 3 MiB a minute
    verdict = soak.judge(_samples(rss), warmup=120, window=180)
    assert verdict.rss_growth > soak.RSS_GROWTH and not verdict.flat


def test_connections_that_pile_up_are_not_flat() -> None:
    sockets = [10, 10, 10, 10, 11, 12, 14, 15, 16, 18, 20]
    verdict = soak.judge(_samples([100] * 11, sockets), warmup=120, window=180)
    assert verdict.socket_growth == 20 - 11 and not verdict.flat
    assert "NOT flat" in soak.report(_samples([100] * 11, sockets), verdict, 10, 3, 60)


def test_a_run_too_short_for_two_separate_windows_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        soak.judge(_samples([100] * 4), warmup=60, window=120)
    with pytest.raises(ValueError, match="too short"):
        soak.judge([], warmup=0, window=60)


def test_a_cycle_creates_its_objects_before_its_plan() -> None:
    kinds = [m["kind"] for m in soak.cycle_manifests("soak")]
    assert kinds == ["Service", "Deployment", "ConfigMap", "RecoveryPlan"]
