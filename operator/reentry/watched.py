"""The kinds the operator keeps in memory, and which plans a change to each of them wakes.

Pods, EndpointSlices and Services are followed by :class:`reentry.informer.Informer` s, cluster-wide
or one per watched namespace (an install limited to some namespaces has no right to list beyond
them). Their stores are the indexes :class:`reentry.cache.View` reads; their changes go to
:class:`reentry.wakeups.Wakeups`. A projection that did not change wakes nothing: a pod's status
updates that leave its labels and readiness gate as they were concern no plan.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from reentry import cache
from reentry.aioapi import AioApi
from reentry.informer import Informer, Kind, ObjectKey, Store
from reentry.wakeups import Wakeups


def _in_namespace(namespace: str, _name: str, _pod: cache.CachedPod) -> Hashable:
    return namespace


def _of_service(namespace: str, _name: str, found: cache.CachedSlice) -> Hashable | None:
    return (namespace, found.service) if found.service else None


def _exists(_body: object) -> bool:
    return True


def _by_name(namespace: str, name: str, _exists: bool) -> Hashable:
    return namespace, name


PODS = Kind("pods", "api/v1", cache.pod_projection, _in_namespace)
SLICES = Kind("endpointslices", "apis/discovery.k8s.io/v1", cache.slice_projection, _of_service)
SERVICES = Kind("services", "api/v1", _exists, _by_name)


class Caches:
    """The operator's watch-backed caches, and the informers keeping them."""

    def __init__(self, api: AioApi, wakeups: Wakeups, namespaces: Sequence[str] | None = None,
                 on_relist: Callable[[str], None] = lambda kind: None) -> None:
        """``namespaces``: exact names to follow, one informer each per kind; None: the whole cluster.
        ``on_relist`` is told the kind (its plural) each time an informer lists again after a 410 Gone."""
        self._api, self._wakeups = api, wakeups
        self.pods: Store[cache.CachedPod] = Store(PODS.group)
        self.slices: Store[cache.CachedSlice] = Store(SLICES.group)
        self.services: Store[bool] = Store(SERVICES.group)
        scopes: Sequence[str | None] = list(namespaces) if namespaces else [None]
        def relisted(plural: str) -> Callable[[], None]:
            return lambda: on_relist(plural)

        self.informers: list[Informer[Any]] = [
            Informer(api, kind, store, on_change, n, on_relist=relisted(kind.plural))
            for kind, store, on_change in ((PODS, self.pods, self._pod_changed),
                                           (SLICES, self.slices, self._slice_changed),
                                           (SERVICES, self.services, self._service_changed))
            for n in scopes]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(i.run(), name=f"informer: {i.scope}") for i in self.informers]

    async def synced(self) -> None:
        """Return once every informer has its first list in its store."""
        for informer in self.informers:
            await informer.synced.wait()

    def sizes(self) -> dict[str, int]:
        """Objects held, by kind (plural)."""
        return {PODS.plural: len(self.pods), SLICES.plural: len(self.slices), SERVICES.plural: len(self.services)}

    def view(self, plans: cache.Index) -> cache.View:
        return cache.View(self.pods, self.slices, self.services, plans)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._api.close()

    def _pod_changed(self, key: ObjectKey, before: cache.CachedPod | None, after: cache.CachedPod | None) -> None:
        held = after is not None and after.gated and not after.released
        self._wakeups.pod_changed(key[0], key[1], before.labels if before else None,
                                  after.labels if after else None, held=held)

    def _slice_changed(self, key: ObjectKey, before: cache.CachedSlice | None,
                       after: cache.CachedSlice | None) -> None:
        for service in {s.service for s in (before, after) if s is not None}:
            self._wakeups.service_changed(key[0], service)

    def _service_changed(self, key: ObjectKey, _before: bool | None, _after: bool | None) -> None:
        self._wakeups.service_changed(*key)
