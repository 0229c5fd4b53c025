"""The one place that talks to the Kubernetes API server (through lightkube), with ``objects``.

It turns cluster objects into the engine's observation values, and the engine's actions into
patches. The client library's errors are translated here, once (:func:`api_errors`), into the
typed errors of ``reentry.errors``: nothing above tests a status code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
from lightkube import ApiError, AsyncClient, Client
from lightkube import operators as op
from lightkube.config.client_adapter import user_auth, verify_cluster
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import User
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec, TokenReviewSpec
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authentication_v1 import TokenReview
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod, ServiceAccount
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from reentry import cache, errors, model
from reentry.aioapi import AioApi
from reentry.engine.lease import LeaseRecord
from reentry.throttle import DEFAULT_BURST, DEFAULT_QPS, Throttle

RecoveryPlanResource = create_namespaced_resource(model.GROUP, model.VERSION, model.KIND, model.PLURAL)
FIELD_MANAGER = "reentry"


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn the client library's error into the typed :class:`reentry.errors.ApiRefused` it stands for."""
    try:
        yield
    except ApiError as err:
        raise errors.api_refusal(err.status.code, err.status.reason, err.status.message) from err


def unreachable(err: BaseException) -> bool:
    """The API server could not be reached or is not serving yet (connection refused or reset, a
    timeout, 429/5xx): worth asking again soon, unlike a bug or a refusal."""
    return isinstance(err, errors.Unavailable | httpx.TransportError | ConnectionError | TimeoutError)


def http_client(client: AsyncClient | Client) -> Any:
    """The httpx client inside lightkube's: it carries the server URL, TLS, auth and the throttle.
    lightkube has no public raw request; this is the one place that reaches for it."""
    return client._client._client


def raise_for_response(response: Any) -> None:
    """The typed :class:`reentry.errors.ApiRefused` for an error answer with a Status body."""
    if response.is_error and response.headers.get("content-type") == "application/json":
        raise errors.refusal_from_body(response.status_code, response.content)
    response.raise_for_status()


@dataclass(frozen=True)
class TokenReviewAnswer:
    """What a TokenReview said of a token."""

    authenticated: bool
    username: str | None
    audiences: tuple[str, ...]
    error: str | None


def label_filter(selector: model.LabelSelector) -> Any:
    """The selector as lightkube label pairs (matchLabels and matchExpressions).

    A list of pairs rather than a dict, so two expressions on one key both apply; lightkube accepts
    both shapes although its annotations name only the dict.
    """
    pairs: list[tuple[str, Any]] = list(selector.matchLabels.items())
    for req in selector.matchExpressions:
        if req.operator == "In":
            pairs.append((req.key, op.in_(req.values)))
        elif req.operator == "NotIn":
            pairs.append((req.key, op.not_in(req.values)))
        elif req.operator == "Exists":
            pairs.append((req.key, op.exists()))
        else:
            pairs.append((req.key, op.not_exists()))
    return pairs


def count_ready_endpoints(slices: list[EndpointSlice]) -> int:
    """Distinct ready endpoints across a Service's EndpointSlices (``ready`` unset counts as ready)."""
    return cache.ready_count(cache.ready_addresses(eps.to_dict()) for eps in slices)


def operator_client(qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST) -> AsyncClient:
    """The operator's client (kubeconfig, else in-cluster), every request paced by :class:`Throttle`.

    The throttle wraps the transport lightkube's httpx client built (it carries the cluster's TLS),
    so reads, writes, pod releases and the caches' lists and watches share one rate limit (the last two
    through :func:`aioapi_for`); kopf's watch of the plans has its own client, and so has leader
    election (:func:`election_client`).
    """
    client = AsyncClient(config=KubeConfig.from_env(), field_manager=FIELD_MANAGER)
    http = http_client(client)
    keep_alive(http._transport)
    http._transport = Throttle(http._transport, qps, burst)
    return client


def election_client() -> AsyncClient:
    """A client of its own for the Lease, outside the throttle: a renewal queued behind a release of
    thousands of pods would miss its deadline and fence the leader mid-release. One read and at most
    one write every two seconds."""
    return AsyncClient(config=KubeConfig.from_env(), field_manager=FIELD_MANAGER)


#: Connections kept open between requests: at least as many as pods released at once, so a release
#: reuses its connections instead of opening (TLS handshake included) those beyond httpx's 20.
KEEPALIVE_CONNECTIONS = 64


def keep_alive(transport: Any, connections: int = KEEPALIVE_CONNECTIONS) -> None:
    """Let ``transport``'s pool (httpx's own, which lightkube builds) keep ``connections`` open."""
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_max_keepalive_connections"):
        pool._max_keepalive_connections = min(connections, pool._max_connections)


def aioapi_for(client: AsyncClient, connections: int = KEEPALIVE_CONNECTIONS) -> AioApi:
    """An aiohttp client (``reentry.aioapi``) with ``client``'s server, TLS and credentials, and its
    rate limit when ``client`` is the operator's (:func:`operator_client`); ``connections``: its pool's
    limit (0: none)."""
    config = client._client.config
    if config is None:
        raise ValueError("this lightkube client has no configuration to build an aiohttp client from")
    server, user = config.cluster.server, config.user or User()
    tls = verify_cluster(config.cluster, user, config.abs_file)
    auth = user_auth(user)

    async def authorization() -> dict[str, str]:
        if auth is None:
            return {}
        flow = auth.async_auth_flow(httpx.Request("PATCH", server))
        request = await flow.__anext__()
        await flow.aclose()
        value = request.headers.get("authorization")
        return {"Authorization": value} if value else {}

    transport = http_client(client)._transport
    pacer = transport.pacer if isinstance(transport, Throttle) else None
    return AioApi(server, tls, authorization, pacer, connections=connections, field_manager=FIELD_MANAGER)


class Kube:
    """Async access to the cluster for one operator process."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._aio: AioApi | None = None

    @property
    def aio(self) -> AioApi:
        """Pod releases and the plan's status writes go through this client (``reentry.aioapi``), made
        at the first one."""
        if self._aio is None:
            self._aio = aioapi_for(self.client)
        return self._aio

    async def close(self) -> None:
        """Close the aiohttp client's connections (lightkube's client is its owner's to close)."""
        if self._aio is not None:
            await self._aio.close()

    async def namespace_pods(self, namespace: str) -> list[cache.CachedPod]:
        """Every pod of the namespace that is not terminating, listed (evaluations read the cache instead)."""
        found = []
        with api_errors():
            async for pod in self.client.list(Pod, namespace=namespace):
                if pod.metadata and not pod.metadata.deletionTimestamp:
                    found.append(cache.pod_projection(pod.to_dict()))
        return found

    async def release_pods(self, namespace: str, names: list[str], concurrency: int = 32) -> int:
        """Release pods concurrently (bounded); return how many were still there to release."""
        limit = asyncio.Semaphore(concurrency)
        headers = await self.aio.headers()

        async def one(name: str) -> bool:
            async with limit:
                return await self.release_pod(namespace, name, headers)

        return sum(await asyncio.gather(*(one(n) for n in names)))

    async def release_pod(self, namespace: str, name: str, headers: dict[str, str] | None = None) -> bool:
        """Set the readiness-gate condition True; False if the pod is gone (nothing left to release).

        Sent through :attr:`aio` (aiohttp: a seventh of httpx's CPU per request) and the answer only
        checked: with hundreds of pods released at once, lightkube building a typed request and parsing
        the whole pod back cost more of the operator's CPU than the request itself (profiled with
        py-spy). ``headers``: the authorization of a batch (asked for when None)."""
        condition = {"type": model.READINESS_GATE, "status": "True", "reason": "ReleasedByReentry",
                     "message": "released by the reentry operator",
                     "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        # Strategic merge on pod status merges conditions by type: the kubelet's own stay intact.
        path = f"api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/status"
        answer = await self.aio.patch(path, {"status": {"conditions": [condition]}},
                                      "application/strategic-merge-patch+json", headers)
        return answer is not None

    async def write_status(self, namespace: str, name: str, status: model.RecoveryPlanStatus) -> str | None:
        """Replace the plan's status (merge patch; fields that became empty are removed); return the
        plan's resourceVersion after the write."""
        body: dict[str, Any] = status.model_dump(mode="json", exclude_none=True)
        for key in model.RecoveryPlanStatus.model_fields:
            body.setdefault(key, None)
        # Through :attr:`aio`: a status write opens every step of a ramp, and lightkube parsing the whole
        # plan back into a model cost more CPU than the write (see ``release_pod``).
        path = (f"apis/{model.GROUP}/{model.VERSION}/namespaces/{quote(namespace, safe='')}/{model.PLURAL}/"
                f"{quote(name, safe='')}/status")
        answer = await self.aio.patch(path, {"status": body}, "application/merge-patch+json")
        if answer is None:
            raise errors.api_refusal(404, "NotFound", f"{model.PLURAL}.{model.GROUP} {name!r} not found")
        version: str | None = (json.loads(answer.body).get("metadata") or {}).get("resourceVersion")
        return version

    async def write_finalizers(self, namespace: str, name: str, present: list[str], after: list[str],
                               version: str | None) -> str | None:
        """Set the plan's finalizers from ``present`` to ``after``; a Conflict (or Invalid: the test
        failed) if they changed since they were read. Returns the plan's resourceVersion after the write."""
        if present:  # compare-and-swap on the list itself: a status write meanwhile does not matter
            patch: Any = [{"op": "test", "path": "/metadata/finalizers", "value": present},
                          {"op": "replace", "path": "/metadata/finalizers", "value": after}]
            patch_type = PatchType.JSON
        else:  # no list to test: the version the list was read at
            patch, patch_type = {"metadata": {"finalizers": after, "resourceVersion": version}}, PatchType.MERGE
        with api_errors():
            written = await self.client.patch(RecoveryPlanResource, name, patch, namespace=namespace,
                                              patch_type=patch_type)
        return written.metadata.resourceVersion if written.metadata else None

    async def request_token(self, account: str, namespace: str, audiences: list[str], seconds: int) -> str:
        """A TokenRequest for the ServiceAccount; the token ("" when the answer holds none). Never logged."""
        request = ServiceAccount.Token(metadata=ObjectMeta(), spec=TokenRequestSpec(
            audiences=list(audiences), expirationSeconds=seconds))
        with api_errors():
            issued = await self.client.create(request, account, namespace=namespace)
        return (issued.status.token if issued.status else "") or ""

    async def review_token(self, token: str, audiences: list[str]) -> TokenReviewAnswer:
        """A TokenReview of ``token`` for ``audiences``."""
        with api_errors():
            answer = await self.client.create(TokenReview(metadata=ObjectMeta(),
                                                          spec=TokenReviewSpec(token=token, audiences=audiences)))
        status = answer.status
        return TokenReviewAnswer(bool(status and status.authenticated),
                                 status.user.username if status and status.user else None,
                                 tuple(status.audiences or ()) if status else (), status.error if status else None)

    # -- leader election (``reentry.leadership``) --------------------------------------------------

    async def read_lease(self, namespace: str, name: str) -> LeaseRecord | None:
        """The Lease, or None if there is none."""
        try:
            with api_errors():
                lease = await self.client.get(Lease, name, namespace=namespace)
        except errors.NotFound:
            return None
        return _lease_record(lease)

    async def write_lease(self, namespace: str, name: str, holder: str | None, duration: float,
                          before: LeaseRecord | None) -> LeaseRecord:
        """Write the Lease held by ``holder`` and renewed now: created if ``before`` is None, else
        replaced at ``before``'s version (a Conflict if it changed since). A new holder stamps
        acquireTime and counts a transition; ``holder`` None releases the Lease."""
        now = datetime.now(UTC)
        taking_over = holder is not None and (before is None or before.holder != holder)
        transitions = (before.transitions if before else 0) + int(taking_over and before is not None)
        spec = LeaseSpec(holderIdentity=holder, leaseDurationSeconds=max(1, round(duration)),
                         leaseTransitions=transitions,
                         acquireTime=now if taking_over else (before.acquired if before and holder else None),
                         renewTime=now if holder else None)
        lease = Lease(metadata=ObjectMeta(name=name, namespace=namespace,
                                          resourceVersion=before.version if before else None), spec=spec)
        with api_errors():
            written = await (self.client.create(lease) if before is None else self.client.replace(lease))
        return _lease_record(written)


def _lease_record(lease: Lease) -> LeaseRecord:
    spec = lease.spec or LeaseSpec()
    return LeaseRecord(holder=spec.holderIdentity or None,
                       duration=float(spec.leaseDurationSeconds) if spec.leaseDurationSeconds else None,
                       transitions=spec.leaseTransitions or 0,
                       version=lease.metadata.resourceVersion if lease.metadata else None,
                       acquired=spec.acquireTime)
