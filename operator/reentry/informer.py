"""Watch-backed caches: each kind the engine reads is listed once, then followed through its watch.

What client-go calls a reflector and an indexer, cut down to what this operator needs. An
:class:`Informer` lists one kind (cluster-wide or in one namespace), keeps a slim projection of each
object in a :class:`Store` (``reentry.cache`` says what is kept of a pod, an EndpointSlice, a
Service), then watches from the list's resourceVersion:

- every change updates the store, then calls ``on_change(key, before, after)`` (``None`` for an
  object that did not exist before, or no longer does), which wakes the plans it concerns;
- bookmarks only move the resourceVersion forward;
- a 410 Gone (the API server no longer keeps that version: the operator was cut off too long)
  relists, and every difference between the store and the fresh list is reported as a change, so
  nothing that happened meanwhile goes unnoticed;
- a stream that ends (the API server closes every watch after ``timeoutSeconds``) is resumed from
  the last resourceVersion seen, a failed one after a back-off (0.5 s doubling to 30 s).

Why not kopf's indexes, which did this before: kopf runs every watch event of every kind through
its handler machinery (a task and a queue per object, a handler state, a cause), which cost about
half of the operator's CPU while 500 pods were released (profiled with py-spy); here an event is
one JSON decode, one projection and one dict update. kopf still watches the plans themselves.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from reentry import errors
from reentry.aioapi import AioApi

V = TypeVar("V")
Json = Mapping[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name)
#: Called after each change: the object's key, its projection before and after (None: absent).
OnChange = Callable[[ObjectKey, Any, Any], None]
Change = tuple[ObjectKey, V | None, V | None]

#: Objects per page of a list.
PAGE_SIZE = 500
#: A watch is asked to last between these many seconds (drawn at random, so the watches of many
#: replicas and kinds do not all end together), as client-go's reflector does.
WATCH_SECONDS = (300, 600)
#: Back-off after a failed list or watch: doubling from the first to the last.
BACKOFF = (0.5, 30.0)
#: A watch that ends sooner than this (seconds) without an event counts as failed: an API server
#: that closes every watch at once must not be asked again in a tight loop.
QUIET_END = 1.0

logger = logging.getLogger("reentry.informer")


@dataclass(frozen=True)
class Kind(Generic[V]):
    """One kind to follow: where it is served, what is kept of each object and under which index key."""

    plural: str
    prefix: str
    """``api/v1`` for the core group, ``apis/GROUP/VERSION`` otherwise."""
    project: Callable[[Json], V]
    group: Callable[[str, str, V], Hashable | None]
    """The index key an object's projection is listed under (from its namespace, name and projection);
    None keeps it out of the index (and the store)."""

    def path(self, namespace: str | None) -> str:
        if namespace is None:
            return f"{self.prefix}/{self.plural}"
        return f"{self.prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"


class Store(Generic[V]):
    """The projections of one kind, by object and by index key.

    Read by ``reentry.cache.View`` as an index: ``get(key, ())`` is the collection of projections
    listed under ``key``. Written only by the informers following the kind.
    """

    def __init__(self, group: Callable[[str, str, V], Hashable | None]) -> None:
        self._group = group
        self._objects: dict[ObjectKey, tuple[Hashable, V]] = {}
        self._index: dict[Hashable, dict[ObjectKey, V]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def kept(self) -> Collection[ObjectKey]:
        """Every object kept."""
        return self._objects.keys()

    def get(self, key: Hashable, default: Collection[V] = ()) -> Collection[V]:
        found = self._index.get(key)
        return found.values() if found else default

    def projection(self, key: ObjectKey) -> V | None:
        kept = self._objects.get(key)
        return kept[1] if kept else None

    def put(self, key: ObjectKey, value: V) -> V | None:
        """Keep ``value`` for the object (or drop the object if its index key is None); the one before."""
        before = self.remove(key)
        group = self._group(key[0], key[1], value)
        if group is not None:
            self._objects[key] = (group, value)
            self._index.setdefault(group, {})[key] = value
        return before

    def remove(self, key: ObjectKey) -> V | None:
        """Forget the object; its projection, if it was kept."""
        kept = self._objects.pop(key, None)
        if kept is None:
            return None
        group, value = kept
        members = self._index[group]
        del members[key]
        if not members:
            del self._index[group]
        return value

    def replace(self, fresh: Mapping[ObjectKey, V], namespace: str | None) -> list[Change[V]]:
        """Make the objects of ``namespace`` (None: all) those of ``fresh`` (a new list); the changes
        as (key, before, after), objects whose projection did not change left out."""
        changes: list[Change[V]] = []
        stale = [k for k in self._objects if (namespace is None or k[0] == namespace) and k not in fresh]
        for key in stale:
            changes.append((key, self.remove(key), None))
        for key, value in fresh.items():
            before = self.put(key, value)
            after = self.projection(key)
            if before != after:
                changes.append((key, before, after))
        return changes


def object_key(obj: Json) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace") or "", metadata.get("name") or ""


class Informer(Generic[V]):
    """Lists one kind, then follows its watch, keeping ``store`` current (see the module's docstring)."""

    def __init__(self, api: AioApi, kind: Kind[V], store: Store[V], on_change: OnChange,
                 namespace: str | None = None, on_relist: Callable[[], None] = lambda: None) -> None:
        self._api, self.kind, self.store, self._on_change, self.namespace = api, kind, store, on_change, namespace
        self._on_relist = on_relist
        self.synced = asyncio.Event()
        """Set once the first list is in the store."""
        self.relists = 0
        """Lists made after the first (410 Gone)."""
        self.version: str | None = None
        """The resourceVersion the store is at."""

    @property
    def scope(self) -> str:
        return f"{self.kind.plural} in {self.namespace}" if self.namespace else f"{self.kind.plural} (all namespaces)"

    async def run(self) -> None:
        """List, then watch, until cancelled; never raises otherwise."""
        failures = 0
        while True:
            try:
                if self.version is None:
                    await self.list()
                began = time.monotonic()
                if await self.watch():
                    failures = 0
                elif time.monotonic() - began < QUIET_END:
                    raise ConnectionError("the watch ended at once without an event")
            except errors.Expired:
                logger.info("%s: the API server no longer keeps version %s; listing again", self.scope, self.version)
                self.version = None
                self.relists += 1
                self._on_relist()
            except (ConnectionError, TimeoutError, errors.ApiRefused, ValueError) as err:
                delay = min(BACKOFF[1], BACKOFF[0] * 2 ** failures)
                failures += 1
                log = logger.warning if failures > 1 or not isinstance(err, ConnectionError) else logger.info
                log("%s: %s; again in %.1f s", self.scope, err, delay)
                await asyncio.sleep(delay)

    async def list(self) -> None:
        """List every object (page by page), make the store exactly that, report the differences."""
        fresh: dict[ObjectKey, V] = {}
        params = {"limit": str(PAGE_SIZE)}
        while True:
            page = await self._api.get(self.kind.path(self.namespace), params)
            for item in page.get("items") or []:
                fresh[object_key(item)] = self.kind.project(item)
            metadata = page.get("metadata") or {}
            if not metadata.get("continue"):
                break
            params = {"limit": str(PAGE_SIZE), "continue": metadata["continue"]}
        for key, before, after in self.store.replace(fresh, self.namespace):
            self._on_change(key, before, after)
        self.version = metadata.get("resourceVersion")
        self.synced.set()

    async def watch(self) -> bool:
        """Follow one watch stream from :attr:`version` until it ends; whether it delivered anything.

        Raises :class:`reentry.errors.Expired` when the version is too old, as the API server says."""
        seconds = random.randint(*WATCH_SECONDS)
        params = {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": self.version or "",
                  "timeoutSeconds": str(seconds)}
        delivered = False
        async for event in self._api.watch(self.kind.path(self.namespace), params, seconds):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise errors.api_refusal(obj.get("code"), obj.get("reason"), obj.get("message"))
            self.version = (obj.get("metadata") or {}).get("resourceVersion") or self.version
            delivered = True
            if kind == "BOOKMARK":
                continue
            key = object_key(obj)
            if kind == "DELETED":
                before, after = self.store.remove(key), None
            else:
                before = self.store.put(key, self.kind.project(obj))
                after = self.store.projection(key)
            if before != after:
                self._on_change(key, before, after)
        return delivered
