"""reentry.heap: settling the heap, timing collections, and when a settle waits."""

from __future__ import annotations

import asyncio
import gc
import itertools

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


def _observer(slow_after: float = heap.SLOW_COLLECTION) -> heap.PauseObserver:
    registry = CollectorRegistry()
    return heap.PauseObserver(Histogram("pause_seconds", "pauses", ["generation"], registry=registry), slow_after)


def test_a_slow_full_collection_is_noted_and_a_fast_one_or_a_young_one_is_not() -> None:
    fast, slow = _observer(slow_after=60), _observer(slow_after=0)
    for observer in (fast, slow):
        observer.install()
    try:
        gc.collect(0)
        assert not slow.slow  # a young collection never calls for a settle
        gc.collect(2)
    finally:
        fast.remove()
        slow.remove()
    assert slow.slow
    assert not fast.slow


def _run_settles(monkeypatch: pytest.MonkeyPatch, busy_for: int, patience: float, settles_wanted: int,
                 slow: bool = True, backstop: float = 3600) -> tuple[list[int], int]:
    """Run keep_settled until it settled ``settles_wanted`` times, a slow full collection noted
    before each look when ``slow``; return the busy() calls before each settle."""
    calls = 0
    at_settle: list[int] = []
    observer = _observer()

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

        async def collections() -> None:
            while slow:
                observer.slow = True
                await asyncio.sleep(0.005)

        monkeypatch.setattr(heap, "settle", counting_settle)
        noting = asyncio.create_task(collections())
        task = asyncio.create_task(heap.keep_settled(busy, observer, poll=0.01, patience=patience, backstop=backstop))
        await asyncio.wait_for(done.wait(), timeout=5)
        task.cancel()
        noting.cancel()

    asyncio.run(scenario())
    return at_settle, calls


def test_a_settle_waits_while_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    at_settle, _ = _run_settles(monkeypatch, busy_for=3, patience=10, settles_wanted=2)
    assert at_settle[0] == 4  # three busy answers waited out, the fourth said quiet
    assert at_settle[1] == 5  # quiet since: the next settle asks once


def test_a_settle_waits_no_longer_than_its_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    at_settle, _ = _run_settles(monkeypatch, busy_for=10_000, patience=0.03, settles_wanted=1)
    assert at_settle[0] <= 5  # settled although still busy


def test_no_settle_without_a_reason_until_the_backstop(monkeypatch: pytest.MonkeyPatch) -> None:
    settled: list[float] = []
    now = [0.0]

    async def scenario() -> None:
        monkeypatch.setattr(heap, "settle", lambda: (settled.append(now[0]), (0.0, 0))[1])
        task = asyncio.create_task(heap.keep_settled(lambda: False, _observer(), poll=0.001, backstop=100,
                                                     clock=lambda: now[0]))
        for second in range(1, 250):
            now[0] = float(second)
            await asyncio.sleep(0.002)
        task.cancel()

    asyncio.run(scenario())
    assert settled and settled[0] >= 100  # nothing was slow: only the backstop settled
    assert all(b - a >= 100 for a, b in itertools.pairwise(settled))


def test_a_slow_collection_calls_for_one_settle_not_a_settle_per_look(monkeypatch: pytest.MonkeyPatch) -> None:
    settles: list[int] = []
    observer = _observer()

    async def scenario() -> None:
        monkeypatch.setattr(heap, "settle", lambda: (settles.append(1), (0.0, 0))[1])
        task = asyncio.create_task(heap.keep_settled(lambda: False, observer, poll=0.001))
        observer.slow = True
        for _ in range(50):
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(scenario())
    assert settles == [1]
    assert not observer.slow  # cleared by the settle
