"""Any Kubernetes object by apiVersion, kind and name, as plain JSON dicts.

Checks and actions name objects the way manifests do (``apiVersion: apps/v1, kind: Deployment``),
so the resource behind a kind is found by API discovery (``/api/v1``, ``/apis/<group>/<version>``)
the first time it is needed and cached after that: built-in kinds and custom resources alike.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lightkube import AsyncClient
from lightkube.core import resource as res
from lightkube.generic_resource import GenericGlobalResource, GenericNamespacedResource
from lightkube.types import PatchType

from reentry import errors, model
from reentry.errors import NamedCause
from reentry.kube import api_errors, http_client, label_filter, raise_for_response
from reentry.model import ObjectRef

#: A GenericNamespacedResource or GenericGlobalResource subclass. Typed loosely because lightkube's
#: overloads tell the two apart by type, and here only the API server knows which one a kind is.
GenericResource = Any

# Every verb lightkube knows: the API server, not the client, decides what a resource allows.
_VERBS = ["delete", "deletecollection", "get", "global_list", "global_watch", "list", "patch", "post", "put", "watch"]


class UnknownKind(NamedCause, LookupError):
    """The API server serves no such kind in that apiVersion."""


class InvalidName(NamedCause, ValueError):
    """A name, namespace or apiVersion that is not a Kubernetes one: refused before any request is made.

    The model refuses them already; this is the boundary's own guard, so that no code path can put a
    path segment such as ``..`` into a URL and read another resource than the one it names.
    """


class UnexpectedObject(NamedCause, LookupError):
    """The API server answered with another kind than the one asked for (its content is not shown)."""


def checked(value: str, pattern: str, what: str, max_length: int) -> str:
    """``value`` when it matches ``pattern`` in full, else :class:`InvalidName` (the value quoted with repr)."""
    if len(value) > max_length or not re.fullmatch(pattern, value):
        raise InvalidName(f"{what} {value[:80]!r} is not a valid Kubernetes {what}")
    return value


def checked_name(value: str) -> str:
    """An object's name, checked (:class:`InvalidName` otherwise)."""
    return checked(value, model.NAME_PATTERN, "name", model.NAME_MAX_LENGTH)


def checked_namespace(value: str) -> str:
    """A namespace's name, checked (:class:`InvalidName` otherwise)."""
    return checked(value, model.DNS_LABEL_PATTERN, "namespace", model.LABEL_MAX_LENGTH)


def _checked_ref(ref: ObjectRef) -> None:
    checked_name(ref.name)
    if ref.namespace is not None:
        checked_namespace(ref.namespace)


class Objects:
    """A generic object client over the operator's lightkube client."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._resources: dict[tuple[str, str], GenericResource] = {}
        self._followed: dict[_Key, _Followed] = {}

    # -- objects followed by a watch of their own ------------------------------------------------

    def follow(self, ref: ObjectRef, namespace: str, owner: Hashable, on_change: Callable[[], None]) -> None:
        """Keep ``ref`` current through a watch of that one object while ``owner`` needs it.

        :meth:`get` then answers from memory (no request), and ``on_change`` is called whenever the
        object changes, whoever changed it. The watch ends when no owner follows the object any more.
        """
        key = _key(ref, namespace)
        entry = self._followed.get(key)
        if entry is None:
            entry = self._followed[key] = _Followed()
            entry.task = asyncio.get_running_loop().create_task(self._follow(ref, namespace, entry))
        entry.listeners[owner] = on_change

    def following(self) -> bool:
        """Whether any object is followed (a ramp is under way)."""
        return bool(self._followed)

    def followed_well(self, owner: Hashable) -> bool:
        """Whether every object ``owner`` follows is watched without trouble (no failure in the last
        :data:`FOLLOW_TRUST` seconds): if not, the owner should read by asking, on a short interval."""
        now = time.monotonic()
        return all(e.failed_at is None or now - e.failed_at > FOLLOW_TRUST
                   for e in self._followed.values() if owner in e.listeners)

    def unfollow(self, owner: Hashable) -> None:
        """``owner`` follows nothing any more; watches nobody follows are stopped."""
        for key, entry in list(self._followed.items()):
            entry.listeners.pop(owner, None)
            if not entry.listeners:
                del self._followed[key]
                if entry.task is not None:
                    entry.task.cancel()

    async def _follow(self, ref: ObjectRef, namespace: str, entry: _Followed) -> None:
        """Read the object, then follow its watch from that version; after any failure, read again."""
        while True:
            try:
                entry.synced = False
                resource = await self.resource(ref.apiVersion, ref.kind)
                ns = _namespace(resource, ref, namespace)
                current = await self._read(ref, namespace)
                entry.store(current)
                entry.synced = True
                version = (current or {}).get("metadata", {}).get("resourceVersion")
                with api_errors():
                    async for kind, obj in self.client.watch(resource, namespace=ns,
                                                             fields={"metadata.name": ref.name},
                                                             resource_version=version):
                        entry.store(None if kind == "DELETED" else dict(obj))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the API server gone, a 410, a refused watch: read again, a little later
                cause = describe_error(err)
                if cause != entry.last_error:  # a refusal that repeats is logged once
                    log.warning("following %s %s: %s; reading it again", ref.kind, ref.name, cause)
                entry.synced, entry.failed_at, entry.last_error = False, time.monotonic(), cause
                for on_change in list(entry.listeners.values()):
                    on_change()  # its owner learns that it must read by asking for a while
                await asyncio.sleep(FOLLOW_RETRY)

    def _remember(self, ref: ObjectRef, namespace: str, obj: dict[str, Any]) -> None:
        """A write's answer is the newest version: a followed object shows it at once (and says so)."""
        entry = self._followed.get(_key(ref, namespace))
        if entry is not None and entry.synced:
            entry.store(obj)

    async def resource(self, api_version: str, kind: str) -> GenericResource:
        """The lightkube resource for ``kind`` in ``api_version``; raises :class:`UnknownKind`."""
        key = (api_version, kind)
        checked(api_version, model.API_VERSION_PATTERN, "apiVersion", model.NAME_MAX_LENGTH)
        checked(kind, model.KIND_PATTERN, "kind", model.LABEL_MAX_LENGTH)
        if key not in self._resources:
            # A miss re-reads discovery: a CRD installed since the last look is found.
            for found_kind, resource in (await self._discover(api_version)).items():
                self._resources.setdefault((api_version, found_kind), resource)
        if key not in self._resources:
            raise UnknownKind(f"no such kind {kind} in {api_version}")
        return self._resources[key]

    async def _discover(self, api_version: str) -> dict[str, GenericResource]:
        group, _, version = api_version.rpartition("/")
        # Relative, as lightkube's own: a server URL with a path (behind a proxy) keeps its path.
        url = f"apis/{group}/{version}" if group else f"api/{version}"
        response = await http_client(self.client).get(url)
        if response.status_code == 404:
            raise UnknownKind(f"the API server serves no {api_version}")
        raise_for_response(response)
        resources = {}
        for item in response.json().get("resources", []):
            if "/" not in item["name"]:  # "deployments/status" and the like are subresources
                resources[item["kind"]] = _generic(group, version, item["kind"], item["name"], item["namespaced"])
        return resources

    async def get_path(self, path: str, timeout: float) -> Any:
        """GET a path of the API server that is not an object (``/openid/v1/jwks``) with the operator's
        credentials and TLS; the HTTP response as it came."""
        return await http_client(self.client).get(path.lstrip("/"), timeout=timeout)

    async def get(self, ref: ObjectRef, namespace: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist (``ref.namespace`` wins over ``namespace``).

        The answer must be the kind asked for, else :class:`UnexpectedObject`: what is shown of an
        object (a Secret only by fingerprint) is decided by what was read, never by what was declared.
        """
        entry = self._followed.get(_key(ref, namespace))
        if entry is not None and entry.synced:
            return copy.deepcopy(entry.obj)
        return await self._read(ref, namespace)

    async def _read(self, ref: ObjectRef, namespace: str) -> dict[str, Any] | None:
        resource = await self.resource(ref.apiVersion, ref.kind)
        try:
            with api_errors():
                obj = dict(await self.client.get(resource, ref.name, namespace=_namespace(resource, ref, namespace)))
        except errors.NotFound:
            return None
        if obj.get("kind") != ref.kind:
            raise UnexpectedObject(f"asked for {ref.kind} {ref.name}, the API server answered "
                                   f"{str(obj.get('kind'))[:63]!r}")
        return obj

    async def merge_patch(self, ref: ObjectRef, namespace: str, patch: dict[str, Any], *,
                          field_manager: str) -> dict[str, Any]:
        """Apply a JSON merge patch and return the object as the API server stored it."""
        resource = await self.resource(ref.apiVersion, ref.kind)
        with api_errors():
            obj = await self.client.patch(resource, ref.name, patch, namespace=_namespace(resource, ref, namespace),
                                          patch_type=PatchType.MERGE, field_manager=field_manager)
        self._remember(ref, namespace, dict(obj))
        return dict(obj)

    async def apply(self, ref: ObjectRef, namespace: str, fields: dict[str, Any], *, field_manager: str,
                    force: bool = False) -> dict[str, Any]:
        """Server-side apply ``fields`` (only the ones ``field_manager`` owns) and return the stored object.

        ``fields`` is the intent without identity (e.g. ``{"spec": {"replicas": 3}}``); apiVersion,
        kind, name and namespace come from ``ref``. With ``force`` the manager takes over fields another
        manager owns instead of getting a 409 conflict.
        """
        resource = await self.resource(ref.apiVersion, ref.kind)
        ns = _namespace(resource, ref, namespace)
        metadata = {**fields.get("metadata", {}), "name": ref.name, **({"namespace": ns} if ns else {})}
        body = {**fields, "apiVersion": ref.apiVersion, "kind": ref.kind, "metadata": metadata}
        with api_errors():
            obj = await self.client.patch(resource, ref.name, body, namespace=ns, patch_type=PatchType.APPLY,
                                          field_manager=field_manager, force=force)
        self._remember(ref, namespace, dict(obj))
        return dict(obj)

    async def json_patch(self, ref: ObjectRef, namespace: str, operations: list[dict[str, Any]], *,
                         field_manager: str) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch (``test`` operations guard the others) and return the stored object."""
        resource = await self.resource(ref.apiVersion, ref.kind)
        with api_errors():
            obj = await self.client.patch(resource, ref.name, operations,
                                          namespace=_namespace(resource, ref, namespace), patch_type=PatchType.JSON,
                                          field_manager=field_manager)
        self._remember(ref, namespace, dict(obj))
        return dict(obj)

    async def create(self, body: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
        """Create the object ``body`` describes: its apiVersion and kind name the resource, its
        ``metadata.namespace`` the namespace."""
        resource = await self.resource(body["apiVersion"], body["kind"])
        metadata = body.get("metadata") or {}
        checked_name(str(metadata.get("name", "")))
        if "namespace" in metadata:
            checked_namespace(str(metadata["namespace"]))
        with api_errors():
            return dict(await self.client.create(resource(body), field_manager=field_manager))

    async def list(self, api_version: str, kind: str, namespace: str,
                   selector: model.LabelSelector | None = None, labels: dict[str, str] | None = None
                   ) -> list[dict[str, Any]]:
        """Every object of the kind in ``namespace`` matching ``selector`` (or exact ``labels``)."""
        checked_namespace(namespace)
        resource = await self.resource(api_version, kind)
        chosen: Any = label_filter(selector) if selector is not None else labels
        with api_errors():
            return [dict(obj) async for obj in self.client.list(resource, namespace=namespace, labels=chosen)]

    async def delete(self, ref: ObjectRef, namespace: str, *, resource_version: str | None = None) -> bool:
        """Delete the object; False when it was already gone.

        With ``resource_version`` the API server deletes only that version of the object (a 409
        :class:`reentry.errors.Conflict` otherwise), so a decision made on what was read holds when it lands.
        """
        resource = await self.resource(ref.apiVersion, ref.kind)
        info = res.api_info(resource)
        group, version = info.resource.group, info.resource.version
        ns = _namespace(resource, ref, namespace)
        url = "/".join(["apis", group, version] if group else ["api", version])
        url += (f"/namespaces/{quote(ns, safe='')}" if ns else "") + f"/{info.plural}/{quote(ref.name, safe='')}"
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if resource_version is not None:
            options["preconditions"] = {"resourceVersion": resource_version}
        # lightkube's delete sends no body, and preconditions travel only in the body.
        response = await http_client(self.client).request("DELETE", url, json=options)
        if response.status_code == 404:
            return False
        raise_for_response(response)
        return True


_Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
#: After a followed object's watch failed, read it again this much later (seconds).
FOLLOW_RETRY = 1.0
#: A followed object whose watch failed within this many seconds is not trusted to wake its owner.
FOLLOW_TRUST = 10.0
log = logging.getLogger(__name__)


def _key(ref: ObjectRef, namespace: str) -> _Key:
    return ref.apiVersion, ref.kind, ref.namespace or namespace, ref.name


@dataclass
class _Followed:
    """One followed object: its latest version (None: it does not exist) and who wants to know."""

    obj: dict[str, Any] | None = None
    synced: bool = False
    listeners: dict[Hashable, Callable[[], None]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    failed_at: float | None = None
    last_error: str | None = None

    def store(self, obj: dict[str, Any] | None) -> None:
        """Keep ``obj`` unless it is older than what is kept (a write's answer can beat its watch event)."""
        if obj is not None and self.obj is not None and _older(obj, self.obj):
            return
        changed = obj != self.obj
        self.obj = obj
        if changed:
            for on_change in list(self.listeners.values()):
                on_change()


def _older(new: dict[str, Any], kept: dict[str, Any]) -> bool:
    """Whether ``new`` is an older version than ``kept`` (etcd revisions are increasing integers)."""
    a = str((new.get("metadata") or {}).get("resourceVersion", ""))
    b = str((kept.get("metadata") or {}).get("resourceVersion", ""))
    return a.isdigit() and b.isdigit() and int(a) < int(b)


def _generic(group: str, version: str, kind: str, plural: str, namespaced: bool) -> GenericResource:
    """A lightkube resource class for one kind, kept out of lightkube's global registry.

    The registry holds one class per kind for the whole process (``codecs.load_all_yaml`` and the
    typed resources use it); these classes are private to :class:`Objects`.
    """
    base = GenericNamespacedResource if namespaced else GenericGlobalResource
    info = res.ApiInfo(resource=res.ResourceDef(group, version, kind), plural=plural, verbs=_VERBS)
    cls: GenericResource = type(kind, (base,), {"_api_info": info})
    return cls


def _namespace(resource: GenericResource, ref: ObjectRef, default: str) -> str | None:
    """Where the object lives (None for cluster-scoped kinds), once its name and namespace are checked."""
    _checked_ref(ref)
    if issubclass(resource, GenericNamespacedResource):
        return checked_namespace(ref.namespace or default)
    return None


def describe_error(err: Exception) -> str:
    """One line naming what went wrong, for a status message: the API server's own words when it answered."""
    if isinstance(err, NamedCause):
        return str(err)
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def is_secret(kind: object) -> bool:
    """Whether values of this kind must never reach status, events or logs (any group's Secret, to be safe)."""
    return kind == "Secret"


def fingerprint(value: Any) -> str:
    """sha256 hex of the canonical JSON of ``value``: tells values apart without showing them."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
