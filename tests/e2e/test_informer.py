"""reentry.informer against a real API server: list, watch, and a relist after 410 Gone.

The informer is generic; Events stand in here for the kinds the operator follows (pods,
EndpointSlices and Services go through it in every e2e test with an operator). Events because the
API server serves their watches from etcd (it keeps no watch cache for them): once etcd's history
is compacted, a watch from an older resourceVersion is answered 410 Gone, as after an operator was
cut off longer than the cluster keeps history. The test runs on a sandbox of its own, since it
compacts etcd.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.core_v1 import ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event, Namespace

from reentry.informer import Informer, Kind, ObjectKey, Store
from reentry.kube import aioapi_for
from reentry.sandbox import cluster as sandbox
from tests.e2e.conftest import Cluster, with_crd

REASON = "InformerTest"
#: The test's Events, by message; the namespace's other Events (none expected) are not kept.
EVENTS = Kind("events", "api/v1", lambda body: (body.get("reason"), body.get("message")),
              lambda ns, name, seen: ns if seen[0] == REASON else None)
DEADLINE = 30.0


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sandbox.Sandbox, Cluster]]:
    directory = tmp_path_factory.mktemp("compacted-sandbox")
    box = sandbox.up(directory)
    try:
        yield box, with_crd(box.kubeconfig, str(box.bin_dir / "kubectl"))
    finally:
        sandbox.down(directory)


async def _until(what: str, probe: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _messages(store: Store[Any], namespace: str) -> dict[str, str]:
    """What ``store`` keeps of ``namespace``'s objects: each one's message, by name."""
    return {key[1]: store.projection(key)[1] for key in store.kept() if key[0] == namespace}


def _changes(changes: list[tuple[ObjectKey, Any, Any]]) -> list[tuple[str, str | None, str | None]]:
    return sorted((key[1], before and before[1], after and after[1]) for key, before, after in changes)


def test_an_informer_lists_follows_and_relists_after_410_gone(own_sandbox: tuple[sandbox.Sandbox, Cluster],
                                                              tmp_path: Path) -> None:
    box, cluster = own_sandbox
    namespace, other = "informed", "elsewhere"
    for name in (namespace, other):
        cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))

    def create(name: str, message: str, where: str = namespace) -> None:
        cluster.client.create(Event(metadata=ObjectMeta(name=name, namespace=where), reason=REASON, message=message,
                                    involvedObject=ObjectReference(kind="ConfigMap", name=name, namespace=where)))

    def change(name: str, message: str) -> None:
        cluster.client.patch(Event, name, {"message": message}, namespace=namespace)

    def delete(name: str) -> None:
        cluster.client.delete(Event, name, namespace=namespace)

    for name in ("a", "b"):
        create(name, "1")
    create("there", "1", other)
    changes: list[tuple[ObjectKey, Any, Any]] = []

    async def scenario() -> None:
        client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
        api = aioapi_for(client, connections=0)
        store: Store[tuple[str, str]] = Store(EVENTS.group)
        relisted: list[bool] = []
        informer = Informer(api, EVENTS, store, lambda *seen: changes.append(seen), namespace,
                            on_relist=lambda: relisted.append(True))
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.synced.wait(), DEADLINE)
            assert _messages(store, namespace) == {"a": "1", "b": "1"}
            assert not _messages(store, other), "an informer of one namespace kept another's objects"
            assert _changes(changes) == [("a", None, "1"), ("b", None, "1")]

            # Followed: an addition, a change, a deletion, each reported with what it was before.
            changes.clear()
            create("c", "1")
            change("a", "2")
            delete("b")
            await _until("the watch to deliver three changes", lambda: len(changes) >= 3)
            assert _changes(changes) == [("a", "1", "2"), ("b", "1", None), ("c", None, "1")]
            assert _messages(store, namespace) == {"a": "2", "c": "1"}
            assert informer.relists == 0

            # Cut off while the namespace changes, and etcd's history compacted meanwhile: the watch
            # resumed from the last version seen is answered 410 Gone. The informer lists again and
            # reports exactly what it missed.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            changes.clear()
            create("d", "1")
            delete("c")
            change("a", "3")
            compacted = sandbox.compact_etcd(box)
            assert int(informer.version or 0) < compacted
            task = asyncio.create_task(informer.run())
            await _until("the relist", lambda: informer.relists == 1 and int(informer.version or 0) >= compacted)
            assert relisted == [True]  # what reentry_cache_relists_total counts
            await _until("the missed changes", lambda: len(changes) >= 3)
            assert _changes(changes) == [("a", "2", "3"), ("c", "1", None), ("d", None, "1")]
            assert _messages(store, namespace) == {"a": "3", "d": "1"}

            # And followed again after the relist.
            changes.clear()
            create("e", "1")
            await _until("the watch after the relist", lambda: len(changes) >= 1)
            assert _changes(changes) == [("e", None, "1")]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
            await client.close()

    asyncio.run(scenario())
