"""The operator's two hot paths over aiohttp: pod releases, and the watches behind its caches.

A release of 500 pods is 500 PATCH requests. Through lightkube's HTTP client (httpx, pure Python
down to the HTTP parser) each cost the operator about 1.8 ms of CPU; through aiohttp (kopf's HTTP
client, a dependency already, with its parser in C) 0.2 to 0.3 ms (600 patches 32 at a time against
the sandbox's API server, the process's CPU time; see the README, "Why lightkube, and aiohttp for
pod releases"). While it releases, the operator also takes in the watch events of every pod it
releases, on the same thread: the release path went from 37 % of that thread's busy time to 12 %.

The same client lists and watches the kinds the operator keeps in memory (``reentry.informer``):
:meth:`AioApi.get` and :meth:`AioApi.watch`, one JSON event per line of the stream.

Everything else the operator sends stays on lightkube. This client is made from the same
credentials (``kube.Kube`` hands over the server, its TLS context and the authorization header of
lightkube's own auth flow, asked for afresh at every release) and paced by the same
:class:`reentry.throttle.Pacer`, so the rate limit and the 429 handling cover releases too. Its
answers are typed as ``kube``'s are: an error answer becomes :class:`reentry.errors.ApiRefused`, a
connection that failed a :class:`ConnectionError`.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from reentry import errors
from reentry.throttle import Pacer

#: How long one request (a patch, one page of a list) may take, connection included.
REQUEST_TIMEOUT = 30.0
#: How long a watch stream may stay silent beyond the time the API server was asked to keep it open.
WATCH_SILENCE = 30.0


@dataclass(frozen=True)
class Answer:
    """One answer, read in full (the connection then goes back to the pool)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class AioApi:
    """Requests to the API server over a pool of kept-alive connections (opened at first use).

    ``connections``: the pool's limit, 0 for none (a pool that only carries watches holds one
    connection per watch for as long as the operator runs). ``field_manager``: the name its writes
    are recorded under in managedFields."""

    def __init__(self, server: str, tls: ssl.SSLContext | bool, authorization: Callable[[], Awaitable[dict[str, str]]],
                 pacer: Pacer | None = None, connections: int = 64, field_manager: str | None = None) -> None:
        self._server = server.rstrip("/")
        self._writes = {"fieldManager": field_manager} if field_manager else {}
        """The query of every write: who the API server records in the object's managedFields."""
        self._tls = tls
        self._authorization = authorization
        self._pacer = pacer if pacer is not None else Pacer()
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        return self._session

    async def headers(self) -> dict[str, str]:
        """The headers of a batch of requests: the authorization as lightkube would send it now."""
        return await self._authorization()

    async def patch(self, path: str, body: object, content_type: str,
                    headers: Mapping[str, str] | None = None) -> Answer | None:
        """PATCH ``path`` (already escaped) with ``body``; the answer, or None for a 404. ``headers``: those
        of a batch (:meth:`headers`), asked for when None.

        Raises :class:`reentry.errors.ApiRefused` for any other error answer and :class:`ConnectionError`
        when the API server could not be reached."""
        if headers is None:
            headers = await self.headers()
        sending = {**headers, "Content-Type": content_type, "Accept": "application/json"}
        answer = await self._request("PATCH", path, data=json.dumps(body), headers=sending, params=self._writes)
        if answer.status == 404:
            return None
        if answer.status >= 400:
            raise errors.refusal_from_body(answer.status, answer.body)
        return answer

    async def get(self, path: str, params: Mapping[str, str]) -> Any:
        """GET ``path`` (already escaped) and return its JSON body.

        Raises :class:`reentry.errors.ApiRefused` for an error answer (404 included: a list's path
        that is not served) and :class:`ConnectionError` when the API server could not be reached."""
        headers = {**await self.headers(), "Accept": "application/json"}
        answer = await self._request("GET", path, params=params, headers=headers)
        if answer.status >= 400:
            raise errors.refusal_from_body(answer.status, answer.body)
        return json.loads(answer.body)

    async def watch(self, path: str, params: Mapping[str, str], seconds: float) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch on ``path``: one decoded JSON object per line, until the API server ends
        the stream (``seconds`` after it began, as ``params`` asked it) or it stays silent for
        :data:`WATCH_SILENCE` seconds more than that.

        Raises as :meth:`get` does; the stream breaking off midway raises :class:`ConnectionError`."""
        session, url, headers = self._open(), f"{self._server}/{path}", await self.headers()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT, sock_read=seconds + WATCH_SILENCE)

        async def attempt() -> aiohttp.ClientResponse:
            try:
                return await session.get(url, params=params, timeout=timeout,
                                         headers={**headers, "Accept": "application/json"})
            except (TimeoutError, aiohttp.ClientError) as err:
                raise ConnectionError(f"WATCH {path}: {err or type(err).__name__}") from err

        response = await self._pacer.send(attempt, status=lambda r: r.status, headers=lambda r: r.headers,
                                          discard=_release)
        try:
            if response.status >= 400:
                raise errors.refusal_from_body(response.status, await response.read())
            partial: list[bytes] = []  # the pieces of a line that spans chunks
            async for chunk in response.content.iter_any():
                if b"\n" not in chunk:
                    partial.append(chunk)
                    continue
                first, *lines, rest = chunk.split(b"\n")
                for line in (b"".join([*partial, first]), *lines):
                    if line.strip():
                        yield json.loads(line)
                partial = [rest]
            if b"".join(partial).strip():
                yield json.loads(b"".join(partial))
        except (TimeoutError, aiohttp.ClientError) as err:
            raise ConnectionError(f"WATCH {path}: {err or type(err).__name__}") from err
        finally:
            response.release()

    async def _request(self, method: str, path: str, **options: Any) -> Answer:
        """One request to ``path``, paced, its answer read in full (the connection then goes back to the
        pool); a connection that failed raises :class:`ConnectionError`."""
        session, url = self._open(), f"{self._server}/{path}"

        async def attempt() -> Answer:
            try:
                async with session.request(method, url, **options) as response:
                    return Answer(response.status, response.headers, await response.read())
            except (TimeoutError, aiohttp.ClientError) as err:
                raise ConnectionError(f"{method} {path}: {err or type(err).__name__}") from err

        return await self._pacer.send(attempt, status=lambda a: a.status, headers=lambda a: a.headers,
                                      discard=_nothing)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _nothing(_: Answer) -> None:
    """An :class:`Answer` is already read: nothing to hand back."""


async def _release(response: aiohttp.ClientResponse) -> None:
    """A refused watch's connection goes back to the pool."""
    response.release()
