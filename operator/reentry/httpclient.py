"""The one place that talks HTTP to systems outside Kubernetes (Prometheus, services, caches).

A kind that calls HTTP carries a :class:`reentry.model.HttpClient` (time limit, TLS, credentials,
headers); :func:`session` turns it into an open client. Credentials and CA bundles are read from
Secrets and ConfigMaps through :class:`reentry.objects.Objects` each time a session opens, so a
rotated Secret takes effect at the next probe. Their values go into requests only: never into a
message, a log line or status.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx

from reentry import model
from reentry.errors import NamedCause
from reentry.objects import Objects

__all__ = ["InvalidMaterial", "MissingReference", "Session", "describe_transport_error", "read_key", "session",
           "shown_url"]


class MissingReference(NamedCause, LookupError):
    """A Secret or ConfigMap the spec names, or one of its keys, does not exist (the spec is wrong)."""


class InvalidMaterial(NamedCause, ValueError):
    """What a referenced key holds cannot be used: a CA bundle that is not PEM, a value that is not text."""


# What h11 (under httpx) sends as a header value, ASCII only as httpx encodes it: words of anything but NUL and
# whitespace, spaces or tabs between them. Anything else fails inside httpx with the value quoted in the error.
_HEADER_VALUE = re.compile(r"(?:[^\x00 \t\n\r\x0b\x0c]+(?:[ \t]+[^\x00 \t\n\r\x0b\x0c]+)*)?")


def _header_value(value: str, where: str) -> str:
    """``value`` when it can be sent as a header; else :class:`InvalidMaterial` naming ``where``, never the value."""
    if not (value.isascii() and _HEADER_VALUE.fullmatch(value)):
        raise InvalidMaterial(f"{where} cannot be sent as an HTTP header value (a line break, a NUL or non-ASCII "
                              "character, or leading or trailing whitespace)")
    return value


def _ref(kind: str, name: str, namespace: str) -> model.ObjectRef:
    return model.ObjectRef(apiVersion="v1", kind=kind, name=name, namespace=namespace)


async def _data(objects: Objects, kind: str, name: str, namespace: str) -> dict[str, str]:
    """The decoded data of a Secret or a ConfigMap (text values; a Secret's base64 is undone)."""
    obj = await objects.get(_ref(kind, name, namespace), namespace)
    if obj is None:
        raise MissingReference(f"{kind} {name} not found in namespace {namespace}")
    if kind != "Secret":
        return dict(obj.get("data") or {})
    decoded = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value).decode()
        except (binascii.Error, UnicodeDecodeError) as err:
            raise InvalidMaterial(f"Secret {name} in namespace {namespace}: key {key} is not UTF-8 text") from err
    return decoded


async def read_key(objects: Objects, kind: str, ref: model.KeyRef, namespace: str) -> str:
    """One key of a Secret or ConfigMap (``ref.namespace`` wins); :class:`MissingReference` names what is missing."""
    ns = ref.namespace or namespace
    data = await _data(objects, kind, ref.name, ns)
    if ref.key not in data:
        raise MissingReference(f"{kind} {ref.name} in namespace {ns} has no key {ref.key}")
    return data[ref.key]


async def _ca_bundle(objects: Objects, source: model.KeySource, namespace: str) -> str:
    if source.secret is not None:
        return await read_key(objects, "Secret", source.secret, namespace)
    if source.configMap is not None:
        return await read_key(objects, "ConfigMap", source.configMap, namespace)
    assert source.url is not None  # KeySource holds exactly one
    async with httpx.AsyncClient(timeout=10) as client:  # a CA bundle by URL is verified by the system's trust
        response = await client.get(source.url)
    if not response.is_success:
        # httpx's own words would quote the whole URL, whose query may carry a credential.
        raise httpx.HTTPStatusError(f"the CA bundle at {shown_url(source.url)} answered {response.status_code} "
                                    f"{response.reason_phrase}", request=response.request, response=response)
    return response.text


@functools.cache
def system_trust() -> ssl.SSLContext:
    """The system's CA store, as httpx loads it for ``verify=True``, loaded once per process.

    Loading it takes some 40 ms of CPU, and each probe without a caBundle (most of them, plain http:// ones
    too) opens a client, twice a second per check. A caBundle's context is built from the Secret each time.
    """
    return httpx.create_ssl_context(verify=True, trust_env=False)


async def _verify(objects: Objects, tls: model.TlsOptions | None, namespace: str) -> ssl.SSLContext | bool:
    if tls is not None and tls.insecureSkipVerify:
        return False
    if tls is None or tls.caBundle is None:
        return system_trust()
    pem = await _ca_bundle(objects, tls.caBundle, namespace)
    try:
        return ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as err:
        raise InvalidMaterial(f"the CA bundle is not a PEM certificate bundle ({err})") from err


@dataclass
class Session:
    """An open client and the TLS server name to verify (``tls.serverName``), for one probe or action step."""

    client: httpx.AsyncClient
    server_name: str | None = None

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; transport errors (refused, timed out, TLS) raise httpx's own exceptions."""
        if self.server_name:
            kwargs["extensions"] = {**kwargs.get("extensions", {}), "sni_hostname": self.server_name}
        return await self.client.request(method, url, **kwargs)


@asynccontextmanager
async def session(objects: Objects, namespace: str, spec: model.HttpClient) -> AsyncIterator[Session]:
    """A client for ``spec``: its timeout per request, its TLS options, auth and headers from Secrets."""
    headers: dict[str, str] = {}
    auth: httpx.BasicAuth | None = None
    if spec.headersFrom:
        for key, value in (await _data(objects, "Secret", spec.headersFrom, namespace)).items():
            headers[key] = _header_value(value, f"Secret {spec.headersFrom} in namespace {namespace}: key {key}")
    if spec.auth and spec.auth.bearerToken:
        ref = spec.auth.bearerToken
        token = await read_key(objects, "Secret", ref, namespace)
        where = f"Secret {ref.name} in namespace {ref.namespace or namespace}: key {ref.key}"
        headers["Authorization"] = f"Bearer {_header_value(token.strip(), where)}"
    if spec.auth and spec.auth.basicAuthSecret:
        secret = spec.auth.basicAuthSecret
        credentials = await _data(objects, "Secret", secret, namespace)
        missing = [k for k in ("username", "password") if k not in credentials]
        if missing:
            raise MissingReference(f"Secret {secret} in namespace {namespace} has no key {' or '.join(missing)}")
        auth = httpx.BasicAuth(credentials["username"], credentials["password"])
    verify = await _verify(objects, spec.tls, namespace)
    timeout = model.parse_duration(spec.timeout).total_seconds()
    # trust_env off: an operator's environment proxy must not silently reroute probes of a restored system.
    async with httpx.AsyncClient(timeout=timeout, verify=verify, headers=headers, auth=auth, trust_env=False,
                                 follow_redirects=False) as client:
        yield Session(client, spec.tls.serverName if spec.tls else None)


def shown_url(url: str) -> str:
    """The URL as status may show it: no user info, no query (either can carry a credential)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_transport_error(err: httpx.TransportError, url: str, timeout: str) -> str:
    """One line for a request that got no answer (refused, timed out, TLS not verified), naming the URL."""
    where = shown_url(url)
    if isinstance(err, httpx.TimeoutException):
        return f"{where}: no answer within {timeout} ({type(err).__name__})"
    if isinstance(err, httpx.LocalProtocolError):
        # Raised while the request is put together; its words may quote a header value, which may be a credential.
        return f"{where}: the request could not be sent ({type(err).__name__})"
    cause = str(err) or type(err).__name__
    if "CERTIFICATE_VERIFY_FAILED" in cause or "certificate verify failed" in cause:
        return f"{where}: TLS: the server's certificate does not verify ({cause})"
    return f"{where}: {cause}"
