"""Keep Python's garbage collector off the engine's clock.

A full collection scans every container object the process holds. At 200 plans over 5,000 pods
one took about 120 ms, and a traffic step that fell on it waited that long (measured with
``reentry_gc_pause_seconds`` during the rest benchmark's loaded ramps). Most of that heap lives as
long as the process (kopf's bookkeeping for every watched object, the caches), so the operator
*settles* it: unfreezes, collects everything once, then ``gc.freeze()``s what survived, moving it
out of the collector's sight. Automatic collections from then on scan only what came since.

It settles at startup (the imports) and then every :data:`SETTLE_INTERVAL`, so a heap that grew
(5,000 pods listed after the operator started) is out of sight within a minute, and cyclic garbage
among frozen objects (which the collector cannot see) lives at most that long. A settle is itself
one full collection (about 220 ms at 200 plans over 5,000 pods), so it waits while any plan is
re-entering (a stage under way: pods being released, a ramp), up to :data:`SETTLE_PATIENCE`.

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

#: Seconds between two settles of the heap (one full collection each: ~220 ms at 200 plans over
#: 5,000 pods, so 0.4 % of a core).
SETTLE_INTERVAL = 60.0
#: A settle waits while the operator is busy (a plan re-entering), checking again this often...
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
    """Times every collection into a histogram labelled by generation.

    Installed as a ``gc.callbacks`` entry: the collector calls it at the start and at the end of
    each collection.
    """

    def __init__(self, histogram: Histogram) -> None:
        self._by_generation = [histogram.labels(str(generation)) for generation in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


async def keep_settled(busy: Callable[[], bool], interval: float = SETTLE_INTERVAL,
                       quiet_poll: float = QUIET_POLL, patience: float = SETTLE_PATIENCE) -> None:
    """Settle the heap every ``interval``.

    While ``busy()`` is true a settle is put off, by ``quiet_poll`` at a time and ``patience`` at most.
    """
    while True:
        await asyncio.sleep(interval)
        waited = 0.0
        while busy() and waited < patience:
            await asyncio.sleep(quiet_poll)
            waited += quiet_poll
        seconds, frozen = settle()
        logger.debug("heap settled in %.0f ms: %d objects out of the collector's full scans", seconds * 1000, frozen)
