"""One loop per plan, started and stopped by the plans' own watch events, and only where this replica acts.

kopf's daemons would run these loops, but kopf keeps a finalizer on every object that has a daemon,
for the object's whole life: a finished plan would then block its namespace's deletion whenever
the operator is not running. Here a plan's loop starts with the first event that shows the plan,
reads the newest version of it (each event replaces it), and stops when the plan is gone. The loop
itself keeps the plan's finalizer, only while the plan protects something, and does what a
deletion must hand back (``handlers.reconcile``, ``reentry.engine.protection``).

With leader election (``reentry.leadership``) every replica follows every plan (its caches stay
warm, the newest version of each plan is kept) but only the leader runs loops: :meth:`PlanLoops.act`
starts them all when it becomes leader, :meth:`PlanLoops.fence` cancels them all at once when it
must stop acting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Collection, Coroutine, Mapping
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


Starter = Callable[[LivePlan], Coroutine[Any, Any, None]]


def context_for_loops(keep: Collection[str]) -> contextvars.Context:
    """A context for a plan's loop made from the current one, holding only the variables named in ``keep``.

    A loop must not run in a whole copy of the context of the handler that started it: kopf keeps the
    watch event there (the whole plan), and whatever the loop schedules holds its context, a cancelled
    timer included, which stays in the event loop's heap until it falls due (a plan's resync, minutes
    after the plan is gone). The plans' bodies then outlive their deletion; the soak found them.
    """
    slim = contextvars.Context()
    for var, value in contextvars.copy_context().items():
        if var.name in keep:
            slim.run(var.set, value)
    return slim


class PlanLoops:
    """The plans one operator process knows, and the loops it runs for them while it acts."""

    def __init__(self, acting: bool = True,
                 context: Callable[[], contextvars.Context] = contextvars.copy_context) -> None:
        self.acting = acting
        self._context = context
        self._known: dict[PlanKey, tuple[LivePlan, Starter, contextvars.Context]] = {}
        self._tasks: dict[PlanKey, asyncio.Task[None]] = {}

    def seen(self, key: PlanKey, body: Mapping[str, Any], start: Starter) -> bool:
        """The watch delivered ``body`` of plan ``key``: it becomes the newest, and, while this replica
        acts, the plan's loop is started (``start(live)``) unless one runs. True when a loop was started.

        The loop runs in a context made by ``context()`` during this call (in kopf's handler, where its
        event posting lives in context variables: see :func:`context_for_loops`), even when :meth:`act`
        starts it later from elsewhere."""
        known = self._known.get(key)
        live = LivePlan(body) if known is None else known[0]
        live.body = body
        self._known[key] = (live, start, self._context())
        return self._ensure(key) if self.acting else False

    def _ensure(self, key: PlanKey) -> bool:
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return False
        live, start, context = self._known[key]
        task = asyncio.get_running_loop().create_task(start(live), name=f"plan {key[0]}/{key[1]}",
                                                      context=context.copy())
        task.add_done_callback(lambda done: _report(key, done))
        self._tasks[key] = task
        return True

    def gone(self, key: PlanKey) -> None:
        """The plan was deleted: forgotten, its loop cancelled."""
        self._known.pop(key, None)
        running = self._tasks.pop(key, None)
        if running is not None:
            running.cancel()

    def act(self) -> int:
        """This replica acts from now on (it became leader): every known plan's loop starts. Returns how many."""
        self.acting = True
        return sum(self._ensure(key) for key in list(self._known))

    def fence(self) -> int:
        """This replica must stop acting now (it lost the lease): every loop is cancelled, none waited
        for. Returns how many were running."""
        self.acting = False
        tasks = [task for task in self._tasks.values() if not task.done()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        return len(tasks)

    def running(self) -> list[PlanKey]:
        return [key for key, task in self._tasks.items() if not task.done()]

    async def stop(self, timeout: float) -> None:
        """Cancel every loop and wait (at most ``timeout`` seconds) for them to end."""
        tasks = list(self._tasks.values())
        self.fence()
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
