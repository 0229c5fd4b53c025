"""reentry.api: answers typed as kube's are, 429s paced, connections refused named.

The releases themselves run against the sandbox's API server in the e2e tests; here a loopback HTTP
server answers what the API server would, to cover the answers a healthy sandbox never gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from reentry import errors, throttle
from reentry.aioapi import AioApi
from reentry.sandbox.cluster import free_port


async def _serving(answers: list[web.Response], seen: list[dict[str, object]],
                   then: Callable[[AioApi], Awaitable[object]]) -> object:
    async def handle(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "query": dict(request.query), "type": request.content_type,
                     "body": await request.json(),
                     "authorization": request.headers.get("Authorization")})
        return answers.pop(0)

    app = web.Application()
    app.router.add_route("PATCH", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    async def authorization() -> dict[str, str]:
        return {"Authorization": "Bearer t0ken"}

    api = AioApi(f"http://127.0.0.1:{port}", False, authorization, throttle.Pacer(qps=1000, burst=10),
                 field_manager="reentry")
    try:
        return await then(api)
    finally:
        await api.close()
        await runner.cleanup()


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "code": code, "reason": reason, "message": message}, status=code)


async def _patch(api: AioApi) -> object:
    return await api.patch("api/v1/namespaces/shop/pods/a/status", {"status": {}},
                           "application/strategic-merge-patch+json", await api.headers())


def test_an_answer_comes_back_read_after_a_429_was_waited_out() -> None:
    seen: list[dict[str, object]] = []
    answers = [web.Response(status=429, headers={"Retry-After": "0"}), web.json_response({"kind": "Pod"})]
    answer = asyncio.run(_serving(answers, seen, _patch))
    assert json.loads(answer.body) == {"kind": "Pod"}  # type: ignore[attr-defined]
    assert len(seen) == 2
    assert seen[0] == {"path": "/api/v1/namespaces/shop/pods/a/status", "query": {"fieldManager": "reentry"},
                       "type": "application/strategic-merge-patch+json", "body": {"status": {}},
                       "authorization": "Bearer t0ken"}


def test_a_404_is_none_and_other_refusals_are_typed() -> None:
    assert asyncio.run(_serving([_status(404, "NotFound", 'pods "a" not found')], [], _patch)) is None
    with pytest.raises(errors.Invalid, match=r"spec\.x: Invalid value"):
        asyncio.run(_serving([_status(422, "Invalid", "spec.x: Invalid value")], [], _patch))
    with pytest.raises(errors.Forbidden):
        asyncio.run(_serving([web.Response(status=403, text="no")], [], _patch))


def test_an_api_server_that_cannot_be_reached_is_a_connection_error() -> None:
    async def refused() -> None:
        async def authorization() -> dict[str, str]:
            return {}

        api = AioApi(f"http://127.0.0.1:{free_port()}", False, authorization)
        try:
            await _patch(api)
        finally:
            await api.close()

    with pytest.raises(ConnectionError, match="PATCH api/v1/namespaces/shop/pods/a/status"):
        asyncio.run(refused())
