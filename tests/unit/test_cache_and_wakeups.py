"""The caches' projections and views, and which plan loops a change wakes: pure, no API server."""

from __future__ import annotations

import asyncio
import sys

from reentry import cache, model
from reentry.wakeups import Interest, Wakeups

GATE = model.READINESS_GATE


def pod(name: str, labels: dict[str, str], gated: bool = True, released: bool = False,
        deleting: bool = False) -> dict:
    conditions = [{"type": "Ready", "status": "False"}] + ([{"type": GATE, "status": "True"}] if released else [])
    return {"metadata": {"name": name, "labels": labels, **({"deletionTimestamp": "x"} if deleting else {})},
            "spec": {"containers": [{"name": "c", "image": "i"}],
                     **({"readinessGates": [{"conditionType": GATE}]} if gated else {})},
            "status": {"conditions": conditions}}


def endpoint_slice(service: str, *endpoints: tuple[str, bool | None]) -> dict:
    return {"metadata": {"labels": {cache.SERVICE_NAME_LABEL: service}},
            "endpoints": [{"addresses": [ip], **({"conditions": {"ready": ready}} if ready is not None else {})}
                          for ip, ready in endpoints]}


def test_a_pod_is_kept_as_name_labels_and_its_gate():
    held = cache.pod_projection(pod("orders-0", {"app": "orders"}))
    assert held == cache.CachedPod("orders-0", {"app": "orders"}, gated=True, released=False, deleting=False)
    assert cache.pod_projection(pod("o", {}, released=True)).released
    assert cache.pod_projection(pod("o", {}, gated=False)).released  # no gate: nothing to release
    assert cache.pod_projection(pod("o", {}, deleting=True)).deleting


def test_a_cached_pod_is_small():
    held = cache.pod_projection(pod("orders-7d9f8c6b5-x2k9q", {"app": "orders", "pod-template-hash": "7d9f8c6b5"}))
    size = sys.getsizeof(held) + sys.getsizeof(held.name) + sys.getsizeof(held.labels) + sum(
        sys.getsizeof(k) + sys.getsizeof(v) for k, v in held.labels.items())
    assert size < 1024, size


def test_ready_addresses_count_unset_ready_as_ready():
    assert cache.ready_addresses(endpoint_slice("db", ("10.0.0.1", True), ("10.0.0.2", None), ("10.0.0.3", False))
                                 ) == {"10.0.0.1", "10.0.0.2"}
    assert cache.slice_service(endpoint_slice("db")) == "db"
    assert cache.slice_service({"metadata": {}}) is None


def test_the_view_answers_from_the_indexes():
    spec = model.ServiceSpec.model_validate({"name": "orders", "selector": {"matchLabels": {"app": "orders"}},
                                             "service": "orders"})
    pods = {"shop": [cache.pod_projection(pod("orders-1", {"app": "orders"})),
                     cache.pod_projection(pod("orders-0", {"app": "orders"}, released=True)),
                     cache.pod_projection(pod("orders-9", {"app": "orders"}, deleting=True)),
                     cache.pod_projection(pod("stray", {"app": "stray"}))]}
    slices = {("shop", "orders"): [cache.CachedSlice("orders", frozenset({"10.0.0.1"})),
                                   cache.CachedSlice("orders", frozenset({"10.0.0.1", "10.0.0.2"}))]}
    plans = {"shop": [(spec.selector,)]}
    view = cache.View(pods, slices, {("shop", "orders"): [True]}, plans)
    found = view.namespace_pods("shop")
    assert [p.name for p in found] == ["orders-1", "orders-0", "stray"]
    seen = view.observe_service("shop", spec, found)
    assert [p.name for p in seen.pods] == ["orders-0", "orders-1"]
    assert (seen.ready_endpoints, seen.service_exists) == (2, True)
    assert view.unmatched_gated_pods("shop", found) == ("stray",)
    other = view.observe_service("elsewhere", spec, view.namespace_pods("elsewhere"))
    assert (other.pods, other.ready_endpoints, other.service_exists) == ((), 0, False)


def _plan(wakeups: Wakeups, name: str, app: str, service: str) -> asyncio.Event:
    spec = {"services": [{"name": app, "selector": {"matchLabels": {"app": app}}, "service": service}]}
    wakeups.declare(("shop", name), Interest.of(spec))
    return wakeups.event(("shop", name))


def test_only_the_plans_a_change_concerns_wake():
    wakeups = Wakeups()
    orders, auth = _plan(wakeups, "orders", "orders", "orders-svc"), _plan(wakeups, "auth", "auth", "auth-svc")
    wakeups.pod_changed("shop", "orders-0", None, {"app": "orders"})
    assert (orders.is_set(), auth.is_set()) == (True, False)
    orders.clear()
    wakeups.service_changed("shop", "auth-svc")
    assert (orders.is_set(), auth.is_set()) == (False, True)
    auth.clear()
    wakeups.pod_changed("other-namespace", "orders-0", None, {"app": "orders"})
    wakeups.service_changed("shop", "unrelated")
    assert not orders.is_set() and not auth.is_set()


def test_a_pod_that_leaves_a_selector_wakes_the_plan_it_left():
    wakeups = Wakeups()
    orders = _plan(wakeups, "orders", "orders", "orders")
    wakeups.pod_changed("shop", "p", None, {"app": "orders"})
    orders.clear()
    wakeups.pod_changed("shop", "p", {"app": "orders"}, {"app": "moved"})
    assert orders.is_set()
    orders.clear()
    wakeups.pod_changed("shop", "p", {"app": "moved"}, None)  # deleted, with labels no plan selects: nothing to do
    assert not orders.is_set()


def test_a_held_pod_no_plan_selects_wakes_every_plan_of_its_namespace():
    wakeups = Wakeups()
    orders, auth = _plan(wakeups, "orders", "orders", "orders"), _plan(wakeups, "auth", "auth", "auth")
    wakeups.pod_changed("shop", "stray", None, {"app": "stray"}, held=False)
    assert not orders.is_set() and not auth.is_set()
    wakeups.pod_changed("shop", "stray", {"app": "stray"}, {"app": "stray"}, held=True)
    assert orders.is_set() and auth.is_set()


def test_a_plan_wakes_for_what_people_say_not_for_its_own_status():
    wakeups = Wakeups()
    orders = _plan(wakeups, "orders", "orders", "orders")
    wakeups.plan_changed(("shop", "orders"), (1, ()))
    assert orders.is_set()
    orders.clear()
    wakeups.plan_changed(("shop", "orders"), (1, ()))  # a status write: same generation and annotations
    assert not orders.is_set()
    wakeups.plan_changed(("shop", "orders"), (1, (("reentry.dev/paused", "true"),)))
    assert orders.is_set()
    wakeups.forget(("shop", "orders"))
    orders.clear()
    wakeups.plan_changed(("shop", "orders"), (2, ()))  # forgotten: no error, nothing registered again
    assert not orders.is_set()
