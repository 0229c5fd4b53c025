"""Keep Python's garbage collector off the engine's clock.

A full collection scans every container object the process holds. At 200 plans over 5,000 pods
one took about 120 ms, and a traffic step that fell on it waited that long (measured with
``reentry_gc_pause_seconds`` during the rest benchmark's loaded ramps). Most of that heap lives as
long as the process (kopf's bookkeeping for every watched object, the caches), so the operator
*settles* it: unfreezes, collects everything once, then ``gc.freeze()``s what survived, moving it
out of the collector's sight. Automatic collections from then on scan only what came since.

It settles at startup (the imports) and then only when there is a reason to:

- a full collection (other than a settle's own) took :data:`SLOW_COLLECTION` or longer:
  the unfrozen heap has grown (5,000 pods listed after the operator started), so it is put out of
  sight before the next one;
- :data:`SETTLE_BACKSTOP` passed since the last settle: cyclic garbage among frozen objects (which
  the collector cannot see) lives at most that long.

A settle is itself one full collection (about 220 ms at 200 plans over 5,000 pods), so it waits
while any plan is re-entering (a stage under way: pods being released, a ramp), up to
:data:`SETTLE_PATIENCE`. It used to run every minute: a settle then fell, by construction, on the
release benchmark's plan (started a minute after the operator) and took 136 ms of a 2.4 s release
(profiled with py-spy), and at rest it cost a full collection a minute for nothing.

Freezing the survivors of every automatic full collection instead (tried) kept the heap frozen
without a periodic pause, but froze objects that became cyclic garbage later: the operator's RSS
grew from 140 to 327 MiB over five minutes at 200 plans resting.

Every collection's pause is observed (``reentry_gc_pause_seconds``, by generation), so the effect
is measured where it matters: on the operator that runs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Histogram

#: A full collection the collector started by itself that took this long calls for a settle.
SLOW_COLLECTION = 0.02
#: Seconds after which the heap is settled anyway (one full collection: ~220 ms at 200 plans over
#: 5,000 pods).
SETTLE_BACKSTOP = 1800.0
#: How often the settler looks whether a settle is due, and, while the operator is busy (a plan
#: re-entering), whether it is quiet yet...
QUIET_POLL = 5.0
#: ...but no longer than this: a ramp of an hour must not leave the heap unsettled for an hour.
SETTLE_PATIENCE = 300.0

logger = logging.getLogger("reentry.heap")


def settle() -> tuple[float, int]:
    """Collect everything, then freeze the survivors. Returns (seconds taken, objects frozen)."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started, gc.get_freeze_count()


class PauseObserver:
    """Times every collection into a histogram labelled by generation, and notes a slow full one.

    Installed as a ``gc.callbacks`` entry: the collector calls it at the start and at the end of
    each collection. :attr:`slow` is set by a full collection of :data:`SLOW_COLLECTION` or longer
    (the settler clears it once it has settled: its own collection is not a reason for another).
    """

    def __init__(self, histogram: Histogram, slow_after: float = SLOW_COLLECTION) -> None:
        self._by_generation = [histogram.labels(str(generation)) for generation in range(3)]
        self._slow_after = slow_after
        self._started = 0.0
        self.slow = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        self._by_generation[info["generation"]].observe(seconds)
        if info["generation"] == 2 and seconds >= self._slow_after:
            self.slow = True

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


async def keep_settled(busy: Callable[[], bool], observer: PauseObserver, poll: float = QUIET_POLL,
                       patience: float = SETTLE_PATIENCE, backstop: float = SETTLE_BACKSTOP,
                       clock: Callable[[], float] = time.monotonic) -> None:
    """Settle the heap when a full collection was slow (``observer.slow``) or ``backstop`` seconds
    after the last settle, looking every ``poll`` seconds.

    While ``busy()`` is true a due settle is put off, by ``poll`` at a time and ``patience`` at most.
    """
    settled_at = clock()
    while True:
        await asyncio.sleep(poll)
        if not observer.slow and clock() - settled_at < backstop:
            continue
        waited = 0.0
        while busy() and waited < patience:
            await asyncio.sleep(poll)
            waited += poll
        why = "a slow full collection" if observer.slow else "the backstop"
        seconds, frozen = settle()
        observer.slow, settled_at = False, clock()
        logger.debug("heap settled in %.0f ms (%s): %d objects out of the collector's full scans",
                     seconds * 1000, why, frozen)
