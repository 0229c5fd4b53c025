"""What the operator's watches keep in memory, and how an evaluation reads it instead of listing.

The operator follows the kinds the engine reads through watch-backed caches (``reentry.informer``:
each kind listed once, then watched, relisted after a 410 Gone). The functions here turn an object
into the small projection the engine needs, so that a pod costs a name, its labels and three flags,
not a whole pod object:

- pods, by namespace: :class:`CachedPod`;
- EndpointSlices, by (namespace, Service): :class:`CachedSlice`, the set of ready addresses of each;
- Services, by (namespace, name): that it exists;
- plans, by namespace: their service selectors (a kopf index; for the pods no plan selects, see
  :func:`reentry.wakeups.plan_selectors`).

:class:`View` answers the controller's questions from those indexes. An evaluation then makes no
read request to the API server for pods, endpoints or Services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from reentry import model
from reentry.engine import selectors
from reentry.engine.observations import PodObservation, ServiceObservation

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class CachedPod(NamedTuple):
    """One pod as the engine sees it: labels to match selectors, and its readiness gate."""

    name: str
    labels: Mapping[str, str]
    gated: bool
    released: bool
    """The gate's condition is True, or the pod carries no gate."""
    deleting: bool

    @property
    def observation(self) -> PodObservation:
        return PodObservation(name=self.name, gated=self.gated, released=self.released)


def pod_projection(body: Mapping[str, Any]) -> CachedPod:
    """The slim projection of a pod (a raw pod object as the watch delivers it)."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    gated = any(g.get("conditionType") == model.READINESS_GATE for g in spec.get("readinessGates") or [])
    gate_open = any(c.get("type") == model.READINESS_GATE and c.get("status") == "True"
                    for c in status.get("conditions") or [])
    return CachedPod(name=metadata.get("name", ""), labels=dict(metadata.get("labels") or {}), gated=gated,
                     released=gate_open or not gated, deleting=metadata.get("deletionTimestamp") is not None)


class CachedSlice(NamedTuple):
    """One EndpointSlice as the engine sees it: the Service it belongs to and its ready addresses."""

    service: str
    addresses: frozenset[str]


def slice_projection(body: Mapping[str, Any]) -> CachedSlice:
    """The slim projection of an EndpointSlice (its service "" when it carries no service-name label)."""
    return CachedSlice(service=slice_service(body) or "", addresses=ready_addresses(body))


def ready_addresses(body: Mapping[str, Any]) -> frozenset[str]:
    """The ready endpoints of one EndpointSlice, by first address (``ready`` unset counts as ready)."""
    ready = set()
    for endpoint in body.get("endpoints") or []:
        is_ready = (endpoint.get("conditions") or {}).get("ready")
        if (is_ready is None or is_ready) and endpoint.get("addresses"):
            ready.add(endpoint["addresses"][0])
    return frozenset(ready)


def ready_count(address_sets: Iterable[frozenset[str]]) -> int:
    """Distinct ready endpoints across a Service's EndpointSlices (each given by :func:`ready_addresses`)."""
    ready: set[str] = set()
    for addresses in address_sets:
        ready |= addresses
    return len(ready)


def slice_service(body: Mapping[str, Any]) -> str | None:
    """The Service an EndpointSlice belongs to (its ``kubernetes.io/service-name`` label)."""
    labels: Mapping[str, str] = (body.get("metadata") or {}).get("labels") or {}
    return labels.get(SERVICE_NAME_LABEL)


class Index(Protocol):
    """An index as the informers' stores and kopf's keep one: key -> the values of every object under it."""

    def get(self, key: Any, default: Any, /) -> Any: ...


class View:
    """The controller's reads, answered from the watch-backed indexes."""

    def __init__(self, pods: Index, slices: Index, services: Index, plans: Index) -> None:
        self._pods, self._slices, self._services, self._plans = pods, slices, services, plans

    def namespace_pods(self, namespace: str) -> list[CachedPod]:
        """Every pod of the namespace that is not terminating."""
        return [p for p in self._pods.get(namespace, ()) if not p.deleting]

    def observe_service(self, namespace: str, spec: model.ServiceSpec, pods: Iterable[CachedPod]
                        ) -> ServiceObservation:
        """The service's pods (from ``pods``), its Service's ready endpoints, whether the Service exists."""
        selected = sorted((p.observation for p in pods if selectors.matches(spec.selector, p.labels)),
                          key=lambda p: p.name)
        ready = ready_count(s.addresses for s in self._slices.get((namespace, spec.service), ()))
        return ServiceObservation(pods=tuple(selected), ready_endpoints=ready,
                                  service_exists=bool(self._services.get((namespace, spec.service), ())))

    def unmatched_gated_pods(self, namespace: str, pods: Iterable[CachedPod]) -> tuple[str, ...]:
        """Held pods of the namespace that no plan's services select (they would wait forever)."""
        held = [p for p in pods if p.gated and not p.released]
        if not held:
            return ()
        known = [s for found in self._plans.get(namespace, ()) for s in found]
        return tuple(p.name for p in held if not any(selectors.matches(s, p.labels) for s in known))
