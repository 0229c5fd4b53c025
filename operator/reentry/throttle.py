"""The operator's manners toward the API server: a client-side rate limit, and its 429s honoured.

Every request of the operator's own clients (reads and writes through lightkube's httpx; pod
releases, and the lists and watches of its caches, through aiohttp: ``reentry.aioapi``; not kopf's
watch of the plans, which kopf paces itself) passes
through one :class:`Pacer`, whichever library sends it (:class:`Throttle` is the httpx transport
that puts it around lightkube's):

- a token bucket (``qps`` requests per second on average, up to ``burst`` at once), so that a
  thousand plans waking together queue in the operator instead of flooding the API server;
- an answer 429 (Too Many Requests: API Priority and Fairness rejecting, or the server still
  starting) is retried after its ``Retry-After`` (1 s when absent, at most 30 s), up to 5 times,
  then handed to the caller like any other error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import httpx2 as httpx

#: Shipped defaults: generous enough that releasing 500 pods is not slowed (one burst), tight enough
#: that a runaway loop cannot send more than this for long. ``reentry run --qps/--burst`` set them.
log = logging.getLogger(__name__)

DEFAULT_QPS = 100.0
DEFAULT_BURST = 500
RETRIES_ON_429 = 5
MAX_RETRY_AFTER = 30.0

Answer = TypeVar("Answer")


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` saved up; :meth:`delay` says how long a taker waits."""

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"a rate limit needs qps > 0 and burst >= 1 (got {rate}, {capacity})")
        self.rate, self.capacity, self._clock = rate, capacity, clock
        self._tokens, self._at = float(capacity), clock()

    def delay(self) -> float:
        """Take one token; the seconds to wait before using it (0 when one was saved up)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds a 429 asks the client to wait: its ``Retry-After`` (seconds), else 1, at most 30.
    ``headers`` look names up without regard to case (httpx's and aiohttp's both do)."""
    try:
        seconds = float(headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


class Pacer:
    """One token bucket and the 429 policy, for requests sent by any HTTP library."""

    def __init__(self, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST) -> None:
        self._bucket = TokenBucket(qps, burst)

    async def send(self, attempt: Callable[[], Awaitable[Answer]], status: Callable[[Answer], int],
                   headers: Callable[[Answer], Mapping[str, str]],
                   discard: Callable[[Answer], Awaitable[None]]) -> Answer:
        """``attempt()`` once its token is there; again after a 429's ``Retry-After`` (the refused answer
        ``discard``ed), up to :data:`RETRIES_ON_429` times; the last answer is the caller's."""
        for tries in range(RETRIES_ON_429 + 1):
            wait = self._bucket.delay()
            if wait > 0:
                await asyncio.sleep(wait)
            answer = await attempt()
            if status(answer) != 429 or tries == RETRIES_ON_429:
                return answer
            pause = retry_after(headers(answer))
            log.info("the API server answered 429 (Too Many Requests); asking again in %.1f s", pause)
            await discard(answer)
            await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns")


class Throttle(httpx.AsyncBaseTransport):
    """An httpx transport that sends every request around ``inner`` through a :class:`Pacer`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST
                 ) -> None:
        self._inner = inner
        self.pacer = Pacer(qps, burst)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.pacer.send(lambda: self._inner.handle_async_request(request),
                                     status=lambda r: r.status_code, headers=lambda r: r.headers,
                                     discard=lambda r: r.aclose())

    async def aclose(self) -> None:
        await self._inner.aclose()
