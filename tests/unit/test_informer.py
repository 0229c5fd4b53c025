"""reentry.informer's store: projections by object and by index key, and the differences a relist reports.

The list and watch themselves run against the sandbox's API server (tests/e2e/test_informer.py).
"""

from __future__ import annotations

from collections.abc import Hashable

from reentry import cache
from reentry.informer import Kind, Store, object_key
from reentry.watched import PODS, SLICES


def _by_colour(namespace: str, _name: str, value: str) -> Hashable | None:
    return (namespace, value) if value != "invisible" else None


def test_the_store_lists_each_projection_under_its_index_key_and_moves_it_when_the_key_changes():
    store: Store[str] = Store(_by_colour)
    assert store.put(("shop", "a"), "red") is None
    store.put(("shop", "b"), "red")
    assert sorted(store.get(("shop", "red"), ())) == ["red", "red"]
    assert store.put(("shop", "a"), "blue") == "red"
    assert list(store.get(("shop", "red"), ())) == ["red"] and list(store.get(("shop", "blue"), ())) == ["blue"]
    assert store.remove(("shop", "b")) == "red"
    assert store.get(("shop", "red"), ()) == ()  # an emptied key is dropped, not kept empty
    assert store.remove(("shop", "b")) is None
    assert len(store) == 1 and store.projection(("shop", "a")) == "blue"


def test_an_object_whose_index_key_is_none_is_not_kept():
    store: Store[str] = Store(_by_colour)
    store.put(("shop", "a"), "red")
    assert store.put(("shop", "a"), "invisible") == "red"
    assert store.projection(("shop", "a")) is None and len(store) == 0


def test_a_relist_reports_what_was_missed_and_only_that():
    store: Store[str] = Store(_by_colour)
    for key, value in {("shop", "same"): "red", ("shop", "changed"): "red", ("shop", "gone"): "red",
                       ("other", "kept"): "red"}.items():
        store.put(key, value)
    changes = store.replace({("shop", "same"): "red", ("shop", "changed"): "blue", ("shop", "new"): "red"},
                            namespace="shop")
    assert sorted(changes) == [(("shop", "changed"), "red", "blue"), (("shop", "gone"), "red", None),
                               (("shop", "new"), None, "red")]
    assert store.projection(("other", "kept")) == "red", "a namespace's relist touched another namespace"
    assert sorted(store.replace({}, namespace=None)) == [
        (("other", "kept"), "red", None), (("shop", "changed"), "blue", None), (("shop", "new"), "red", None),
        (("shop", "same"), "red", None)]


def test_kinds_are_served_where_the_api_server_serves_them():
    assert PODS.path(None) == "api/v1/pods"
    assert PODS.path("shop") == "api/v1/namespaces/shop/pods"
    assert SLICES.path("a/b") == "apis/discovery.k8s.io/v1/namespaces/a%2Fb/endpointslices"
    assert Kind("x", "api/v1", str, _by_colour).path(None) == "api/v1/x"


def test_slices_are_indexed_by_their_service_and_pods_by_their_namespace():
    labelled = {"metadata": {"name": "db-x", "namespace": "shop", "labels": {cache.SERVICE_NAME_LABEL: "db"}},
                "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}
    slices: Store[cache.CachedSlice] = Store(SLICES.group)
    slices.put(object_key(labelled), cache.slice_projection(labelled))
    slices.put(("shop", "orphan"), cache.slice_projection({"metadata": {"name": "orphan"}}))
    assert [s.addresses for s in slices.get(("shop", "db"), ())] == [frozenset({"10.0.0.1"})]
    assert len(slices) == 1, "a slice of no Service was kept"
    pods: Store[cache.CachedPod] = Store(PODS.group)
    pod = {"metadata": {"name": "p", "namespace": "shop", "labels": {"app": "db"}}}
    pods.put(object_key(pod), cache.pod_projection(pod))
    assert [p.name for p in pods.get("shop", ())] == ["p"]


def test_an_api_server_that_ends_every_watch_at_once_is_not_asked_again_in_a_tight_loop() -> None:
    """A loopback server stands in for an API server that answers every watch with an empty stream
    (one a healthy sandbox never gives)."""
    import asyncio

    from aiohttp import web

    from reentry import throttle
    from reentry.aioapi import AioApi
    from reentry.informer import Informer
    from reentry.sandbox.cluster import free_port

    watches: list[float] = []

    async def pods(request: web.Request) -> web.Response:
        if request.query.get("watch"):
            watches.append(asyncio.get_running_loop().time())
            return web.Response(text="")
        return web.json_response({"metadata": {"resourceVersion": "5"}, "items": []})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/pods", pods)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()

        async def authorization() -> dict[str, str]:
            return {}

        api = AioApi(f"http://127.0.0.1:{port}", False, authorization, throttle.Pacer(qps=1000, burst=100),
                     connections=0)
        informer = Informer(api, PODS, Store(PODS.group), lambda *_: None)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.sleep(1.6)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
            await runner.cleanup()
        assert informer.synced.is_set()

    asyncio.run(scenario())
    assert 2 <= len(watches) <= 4, f"{len(watches)} watches in 1.6 s"  # backing off: 0.5 s, then 1 s
