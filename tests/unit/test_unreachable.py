"""Which failed evaluations are the API server being away (retried within seconds), and which are not."""

from __future__ import annotations

import httpx2 as httpx

from reentry import errors
from reentry.kube import unreachable


def test_an_unreachable_or_unready_api_server_is_told_apart_from_a_bug_or_a_refusal() -> None:
    assert unreachable(httpx.ConnectError("connection refused"))
    assert unreachable(httpx.ReadTimeout("timed out"))
    assert unreachable(errors.api_refusal(503, "ServiceUnavailable", "etcd is starting"))
    assert unreachable(errors.api_refusal(429, "TooManyRequests", "slow down"))
    assert unreachable(ConnectionResetError())
    assert not unreachable(errors.api_refusal(403, "Forbidden", "no"))
    assert not unreachable(errors.api_refusal(422, "Invalid", "bad field"))
    assert not unreachable(KeyError("a bug"))
