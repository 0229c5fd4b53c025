"""One loop per plan, started and stopped by the plans' own watch events.

kopf's daemons would run these loops, but kopf keeps a finalizer on every object that has a daemon,
for the object's whole life: a finished plan would then block its namespace's deletion whenever
the operator is not running. Here a plan's loop starts with the first event that shows the plan,
reads the newest version of it (each event replaces it), and stops when the plan is deleted or
starts being deleted. The only finalizer left is the one kopf keeps for the plan's delete handler,
and only while the plan protects something (``reentry.engine.protection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

log = logging.getLogger(__name__)

PlanKey = tuple[str, str]


class LivePlan:
    """The newest version of one plan that the watch delivered (the loop reads it at each turn)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body

    @property
    def resource_version(self) -> str | None:
        version = (self.body.get("metadata") or {}).get("resourceVersion")
        return str(version) if version is not None else None


class PlanLoops:
    """The running loops of one operator process, by plan."""

    def __init__(self) -> None:
        self._loops: dict[PlanKey, tuple[LivePlan, asyncio.Task[None]]] = {}

    def seen(self, key: PlanKey, body: Mapping[str, Any],
             start: Callable[[LivePlan], Coroutine[Any, Any, None]]) -> bool:
        """The watch delivered ``body`` of plan ``key``: it becomes the newest, and the plan's loop
        is started (``start(live)``) unless one runs. True when a loop was started."""
        running = self._loops.get(key)
        if running is not None and not running[1].done():
            running[0].body = body
            return False
        live = LivePlan(body)
        task = asyncio.get_running_loop().create_task(start(live), name=f"plan {key[0]}/{key[1]}")
        task.add_done_callback(lambda done: _report(key, done))
        self._loops[key] = (live, task)
        return True

    def gone(self, key: PlanKey) -> None:
        """The plan was deleted (or its deletion began): its loop is cancelled."""
        running = self._loops.pop(key, None)
        if running is not None:
            running[1].cancel()

    def running(self) -> list[PlanKey]:
        return [key for key, (_, task) in self._loops.items() if not task.done()]

    async def stop(self, timeout: float) -> None:
        """Cancel every loop and wait (at most ``timeout`` seconds) for them to end."""
        tasks = [task for _, task in self._loops.values()]
        self._loops.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)


def _report(key: PlanKey, task: asyncio.Task[None]) -> None:
    """A loop that ended by itself is a bug: say so (the plan's next event starts it again)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("the loop of plan %s/%s ended: %r; the plan's next event restarts it", key[0], key[1], error,
                  exc_info=error)
