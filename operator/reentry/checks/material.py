"""Reading what the identity checks judge: keys of Secrets and ConfigMaps, documents at URLs.

Values go back to the caller only, never into a message or a log line. When something cannot be
read, :class:`MaterialError` names what (kind, name, namespace, key, URL without query) and
classifies why, so a probe turns it into a result in one line (:meth:`MaterialError.result`):

- a key that does not exist, or an object the plan uses as a reference (a CA bundle, the clients'
  JWKS): InvalidConfiguration, the plan names something that is not there;
- the operator may not read it (403) or the URL answers 401/403: Unauthorized;
- no answer (refused, timed out, TLS not verified, 5xx): Unreachable.

The object a check judges (the restored TLS Secret, the issuer's JWKS) being absent is a
different matter, the restored system lacks it: :func:`load` returns None and the probe decides.
URLs are fetched through :mod:`reentry.httpclient`, the one HTTP client of the operator.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx2 as httpx

from reentry import errors, httpclient, model
from reentry.checks import failures
from reentry.engine.observations import CheckResult
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects, describe_error


class MaterialError(Exception):
    """Material could not be read or understood; ``failure`` says why, the message says what."""

    def __init__(self, failure: FailureClass, message: str) -> None:
        super().__init__(message)
        self.failure = failure

    def result(self, threshold: str | None = None, observed: str | None = None) -> CheckResult:
        """The check's result: an Error (nothing could be judged) with this failure class."""
        return CheckResult(Outcome.ERROR, observed, threshold, str(self), self.failure)


def invalid(message: str) -> MaterialError:
    """Material that is there but cannot be used as configured (not PEM, not a JWKS, ...)."""
    return MaterialError(FailureClass.INVALID_CONFIGURATION, message)


def where(kind: str, name: str, namespace: str) -> str:
    """``Secret tls-orders in namespace shop``: how messages name an object."""
    return f"{kind} {name} in namespace {namespace}"


@dataclass(frozen=True)
class Material:
    """The keys of one Secret or ConfigMap, decoded to bytes, and its annotations."""

    kind: str
    name: str
    namespace: str
    data: Mapping[str, bytes] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def what(self) -> str:
        return where(self.kind, self.name, self.namespace)

    def value(self, key: str) -> bytes:
        """The value of ``key``; an InvalidConfiguration error naming the keys there are when it is missing."""
        if key not in self.data:
            present = ", ".join(sorted(self.data)) or "none"
            raise invalid(f"{self.what} has no key {key} (keys: {present})")
        return self.data[key]

    def text(self, key: str) -> str:
        """The value of ``key`` as UTF-8 text (PEM, JSON, a token)."""
        try:
            return self.value(key).decode()
        except UnicodeDecodeError as err:
            raise invalid(f"{self.what}: key {key} is not UTF-8 text") from err


async def load(objects: Objects, kind: str, name: str, namespace: str) -> Material | None:
    """Read a Secret or ConfigMap; None when it does not exist. A Secret's base64 is undone."""
    ref = model.ObjectRef(apiVersion="v1", kind=kind, name=name, namespace=namespace)
    try:
        obj = await objects.get(ref, namespace)
    except errors.ApiRefused as err:
        raise _api_error(err, f"reading {where(kind, name, namespace)}") from err
    if obj is None:
        return None
    metadata = obj.get("metadata") or {}
    annotations = dict(metadata.get("annotations") or {})
    data: dict[str, bytes] = {}
    if kind == "Secret":
        for key, value in (obj.get("data") or {}).items():
            try:
                data[key] = base64.b64decode(value, validate=True)
            except binascii.Error as err:
                raise invalid(f"{where(kind, name, namespace)}: key {key} is not base64") from err
    else:
        data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return Material(kind, name, namespace, data, annotations)


async def require(objects: Objects, kind: str, name: str, namespace: str) -> Material:
    """Like :func:`load` for an object the plan refers to: its absence is an InvalidConfiguration error."""
    found = await load(objects, kind, name, namespace)
    if found is None:
        raise invalid(f"{where(kind, name, namespace)} not found")
    return found


async def read_key(objects: Objects, kind: str, ref: model.KeyRef, namespace: str) -> bytes:
    """One key of a Secret or ConfigMap the plan refers to (``ref.namespace`` wins over ``namespace``)."""
    return (await require(objects, kind, ref.name, ref.namespace or namespace)).value(ref.key)


def describe_source(source: model.KeySource, namespace: str) -> str:
    """How messages name a source: ``ConfigMap jwks key keys.json in namespace shop`` or the URL without query."""
    for kind, ref in (("Secret", source.secret), ("ConfigMap", source.configMap)):
        if ref is not None:
            return f"{kind} {ref.name} key {ref.key} in namespace {ref.namespace or namespace}"
    assert source.url is not None  # KeySource holds exactly one
    return httpclient.shown_url(source.url)


async def read(objects: Objects, source: model.KeySource, namespace: str, *,
               tls: model.TlsOptions | None = None, timeout: str = "5s") -> bytes:
    """The material ``source`` points at: a Secret key, a ConfigMap key, or the body of a GET on its URL."""
    if source.secret is not None:
        return await read_key(objects, "Secret", source.secret, namespace)
    if source.configMap is not None:
        return await read_key(objects, "ConfigMap", source.configMap, namespace)
    assert source.url is not None  # KeySource holds exactly one
    return await fetch(objects, source.url, namespace, tls=tls, timeout=timeout)


async def fetch(objects: Objects, url: str, namespace: str, *, tls: model.TlsOptions | None = None,
                timeout: str = "5s") -> bytes:
    """GET ``url`` (TLS as ``tls`` says) and return the body of a 2xx answer."""
    shown = httpclient.shown_url(url)
    try:
        async with httpclient.session(objects, namespace, model.HttpClient(timeout=timeout, tls=tls)) as session:
            response = await session.request("GET", url)
    except httpclient.MissingReference as err:
        raise invalid(f"{shown}: {err}") from err
    except ValueError as err:  # a CA bundle that is not PEM
        raise invalid(f"{shown}: {err}") from err
    except httpx.TransportError as err:
        raise MaterialError(FailureClass.UNREACHABLE, httpclient.describe_transport_error(err, url, timeout)) from err
    if not response.is_success:
        raise MaterialError(failures.for_status(response.status_code),
                            f"{shown} answered {response.status_code} {response.reason_phrase}")
    return response.content


async def fetch_from_api_server(objects: Objects, path: str, timeout: str = "5s") -> bytes:
    """GET ``path`` (e.g. ``/openid/v1/jwks``) from the API server with the operator's own credentials and TLS."""
    seconds = model.parse_duration(timeout).total_seconds()
    try:
        response = await objects.get_path(path, seconds)
    except httpx.TransportError as err:
        raise MaterialError(FailureClass.UNREACHABLE, f"the API server's {path}: {describe_error(err)}") from err
    if not response.is_success:
        raise MaterialError(failures.for_status(response.status_code),
                            f"the API server's {path} answered {response.status_code} {response.reason_phrase}")
    content: bytes = response.content
    return content


def _api_error(err: errors.ApiRefused, doing: str) -> MaterialError:
    if isinstance(err, errors.Forbidden):
        return MaterialError(FailureClass.UNAUTHORIZED, f"{doing}: the operator may not ({describe_error(err)})")
    return MaterialError(FailureClass.UNREACHABLE, f"{doing}: {describe_error(err)}")
