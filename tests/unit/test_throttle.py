"""The client-side rate limit and the 429 handling, against a fake clock and httpx's mock transport."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import pytest

from reentry import throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_at_once_then_requests_wait_their_turn():
    clock = FakeClock()
    bucket = throttle.TokenBucket(rate=10, capacity=3, clock=clock)
    assert [bucket.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.delay() == pytest.approx(0.1)
    assert bucket.delay() == pytest.approx(0.2)  # queued behind the previous one
    clock.now += 1.0  # refills, never beyond the burst
    assert [bucket.delay() for _ in range(1)] == [0.0]


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError, match="qps > 0 and burst >= 1"):
        throttle.TokenBucket(rate=0, capacity=1)


@pytest.mark.parametrize(("header", "seconds"), [("2", 2.0), (None, 1.0), ("soon", 1.0), ("600", 30.0)])
def test_retry_after(header, seconds):
    headers = {"retry-after": header} if header is not None else {}
    assert throttle.retry_after(httpx.Response(429, headers=headers).headers) == seconds


def test_a_429_is_sent_again_after_retry_after_and_then_answered():
    answers = [httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(429, headers={"retry-after": "0"}),
               httpx.Response(200, json={"ok": True})]
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return answers.pop(0)

    transport = throttle.Throttle(httpx.MockTransport(handler))

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="https://api") as client:
            return await client.patch("/api/v1/namespaces/shop/pods/a/status", json={"status": {}})

    response = asyncio.run(main())
    assert response.status_code == 200
    assert seen == [b'{"status":{}}'] * 3  # the same body each time


def test_a_429_that_persists_reaches_the_caller():
    sent = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(429, headers={"retry-after": "0"})

    transport = throttle.Throttle(httpx.MockTransport(refuse))

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="https://api") as client:
            return await client.get("/api/v1/pods")

    assert asyncio.run(main()).status_code == 429
    assert len(sent) == 1 + throttle.RETRIES_ON_429
