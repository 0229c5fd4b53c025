"""reentry.heap: settling the heap, timing collections, and when a settle waits."""

from __future__ import annotations

import asyncio
import gc

import pytest
from prometheus_client import CollectorRegistry, Histogram

from reentry import heap


def test_settle_freezes_what_survives_and_frees_cyclic_garbage() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    kept = [Node() for _ in range(100)]
    try:
        garbage = Node()
        garbage_id = id(garbage)
        del garbage
        seconds, frozen = heap.settle()
        assert seconds >= 0
        assert frozen == gc.get_freeze_count() > 100
        assert all(id(n) != garbage_id for n in gc.get_objects(generation=2))  # frozen objects are out of sight
        assert not any(o is kept[0] for o in gc.get_objects())  # the survivor is frozen: no generation lists it
    finally:
        gc.unfreeze()


def test_pause_observer_times_each_collection_by_generation() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("pause_seconds", "pauses", ["generation"], registry=registry)
    observer = heap.PauseObserver(histogram)
    observer.install()
    observer.install()  # installing twice keeps one callback
    try:
        assert gc.callbacks.count(observer) == 1
        gc.collect(0)
        gc.collect(2)
    finally:
        observer.remove()
    assert observer not in gc.callbacks
    assert registry.get_sample_value("pause_seconds_count", {"generation": "0"}) >= 1
    assert registry.get_sample_value("pause_seconds_count", {"generation": "2"}) >= 1
    assert registry.get_sample_value("pause_seconds_sum", {"generation": "2"}) > 0


def _run_settles(monkeypatch: pytest.MonkeyPatch, busy_for: int, patience: float,
                 settles_wanted: int) -> tuple[list[int], int]:
    """Run keep_settled until it settled ``settles_wanted`` times; return the busy() calls before each settle."""
    calls = 0
    at_settle: list[int] = []

    def busy() -> bool:
        nonlocal calls
        calls += 1
        return calls <= busy_for

    async def scenario() -> None:
        done = asyncio.Event()

        def counting_settle() -> tuple[float, int]:
            at_settle.append(calls)
            if len(at_settle) == settles_wanted:
                done.set()
            return 0.0, 0

        monkeypatch.setattr(heap, "settle", counting_settle)
        task = asyncio.create_task(heap.keep_settled(busy, interval=0.01, quiet_poll=0.01, patience=patience))
        await asyncio.wait_for(done.wait(), timeout=5)
        task.cancel()

    asyncio.run(scenario())
    return at_settle, calls


def test_a_settle_waits_while_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    at_settle, _ = _run_settles(monkeypatch, busy_for=3, patience=10, settles_wanted=2)
    assert at_settle[0] == 4  # three busy answers waited out, the fourth said quiet
    assert at_settle[1] == 5  # quiet since: the next settle asks once


def test_a_settle_waits_no_longer_than_its_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    at_settle, _ = _run_settles(monkeypatch, busy_for=10_000, patience=0.03, settles_wanted=1)
    assert at_settle[0] <= 5  # settled although still busy
