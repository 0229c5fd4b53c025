"""Watches that stamp events on arrival: the benchmark's clock for everything the cluster does.

A :class:`Recorder` lists one kind in one namespace, then follows a watch from that list's
resourceVersion, so nothing that happens after :meth:`Recorder.start` returns is missed. Listeners
see every event with its arrival time (``time.monotonic()``, or ``time.time()`` for a recorder whose
times are compared with timestamps the operator wrote) and resolve futures the benchmark awaits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from contextlib import suppress
from typing import Any, Protocol

from lightkube import ApiError, AsyncClient

#: ``(event type, object) -> bool``.
Predicate = Callable[[str, Any], bool]


class Listener(Protocol):
    def observe(self, event: str, obj: Any, now: float) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class FirstMatch:
    """Resolves with the arrival time of the first event that satisfies a predicate."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def observe(self, event: str, obj: Any, now: float) -> None:
        if not self.arrived.done() and event != "DELETED" and self.predicate(event, obj):
            self.arrived.set_result(now)

    def fail(self, error: BaseException) -> None:
        if not self.arrived.done():
            self.arrived.set_exception(error)


class Tally:
    """Counts distinct objects that satisfy a predicate: arrival times of the first one and of the ``total``-th."""

    def __init__(self, predicate: Predicate, total: int, key: Callable[[Any], str]) -> None:
        self.predicate, self.total, self.key = predicate, total, key
        self.seen: set[str] = set()
        loop = asyncio.get_running_loop()
        self.first: asyncio.Future[float] = loop.create_future()
        self.all: asyncio.Future[float] = loop.create_future()

    def observe(self, event: str, obj: Any, now: float) -> None:
        if event == "DELETED" or not self.predicate(event, obj):
            return
        self.seen.add(self.key(obj))
        if not self.first.done():
            self.first.set_result(now)
        if len(self.seen) >= self.total and not self.all.done():
            self.all.set_result(now)

    def fail(self, error: BaseException) -> None:
        for future in (self.first, self.all):
            if not future.done():
                future.set_exception(error)


class Journal:
    """Keeps every event (arrival time, type, object) of the named objects, for reading afterwards.

    For recorders of plain-dict resources (``create_namespaced_resource``), whose objects index like JSON.
    """

    def __init__(self, names: Collection[str]) -> None:
        self.names = set(names)
        self.events: list[tuple[float, str, Any]] = []

    def observe(self, event: str, obj: Any, now: float) -> None:
        if obj["metadata"]["name"] in self.names:
            self.events.append((now, event, obj))

    def fail(self, error: BaseException) -> None:
        """Nothing awaits a journal; the futures of the same recorder report the failure."""


class Recorder:
    """Follows one resource kind in one namespace and hands each event, stamped, to its listeners."""

    def __init__(self, client: AsyncClient, resource: Any, namespace: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.resource, self.namespace, self.clock = client, resource, namespace, clock
        self.listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30) -> Recorder:
        """List (to learn the resourceVersion), then follow the watch in the background.

        A 429 is retried until ``timeout``: a custom resource's storage answers so for a moment after
        its CRD became Established.
        """
        deadline = time.monotonic() + timeout
        while True:
            listing = self.client.list(self.resource, namespace=self.namespace)
            try:
                async for _ in listing:
                    pass
            except ApiError as err:
                if err.status.code != 429 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            break
        self._task = asyncio.create_task(self._follow(listing.resourceVersion))
        return self

    def first(self, predicate: Predicate) -> asyncio.Future[float]:
        """The arrival time of the first event from now on that satisfies ``predicate``."""
        match = FirstMatch(predicate)
        self.listeners.append(match)
        return match.arrived

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        """Stop handing events to ``listener`` (a finished trial's journal)."""
        self.listeners.remove(listener)

    async def _follow(self, resource_version: str | None) -> None:
        try:
            async for event, obj in self.client.watch(self.resource, namespace=self.namespace,
                                                      resource_version=resource_version):
                now = self.clock()
                for listener in self.listeners:
                    listener.observe(event, obj, now)
        except Exception as err:
            for listener in self.listeners:
                listener.fail(RuntimeError(f"watch of {self.namespace} failed: {err!r}"))
            raise

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
