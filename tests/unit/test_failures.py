"""Failure classes for what a probe raises, so every check kind reports why it could not pass."""

from __future__ import annotations

import ssl

import httpx2 as httpx
import pytest

from reentry import errors, paths
from reentry.checks.failures import classify, for_status
from reentry.httpclient import InvalidMaterial, MissingReference
from reentry.model import FailureClass
from reentry.objects import UnknownKind

REQUEST = httpx.Request("GET", "http://prometheus:9090/api/v1/query")


def api_error(code: int) -> errors.ApiRefused:
    return errors.api_refusal(code, "", "no")


@pytest.mark.parametrize(("err", "failure"), [
    (httpx.ConnectError("connection refused", request=REQUEST), FailureClass.UNREACHABLE),
    (httpx.ConnectTimeout("timed out", request=REQUEST), FailureClass.UNREACHABLE),
    (httpx.ReadTimeout("timed out", request=REQUEST), FailureClass.UNREACHABLE),
    (httpx.RemoteProtocolError("server hung up", request=REQUEST), FailureClass.UNREACHABLE),
    (httpx.HTTPStatusError("401", request=REQUEST, response=httpx.Response(401, request=REQUEST)),
     FailureClass.UNAUTHORIZED),
    (httpx.HTTPStatusError("503", request=REQUEST, response=httpx.Response(503, request=REQUEST)),
     FailureClass.UNREACHABLE),
    (api_error(403), FailureClass.UNAUTHORIZED),
    (api_error(401), FailureClass.UNAUTHORIZED),
    (api_error(404), FailureClass.INVALID_CONFIGURATION),
    (api_error(500), FailureClass.UNREACHABLE),
    (api_error(429), FailureClass.UNREACHABLE),
    (MissingReference("Secret prom-auth not found in namespace shop"), FailureClass.INVALID_CONFIGURATION),
    (InvalidMaterial("the CA bundle is not a PEM certificate bundle"), FailureClass.INVALID_CONFIGURATION),
    (UnknownKind("no such kind Widget in example.com/v1"), FailureClass.INVALID_CONFIGURATION),
    (paths.InvalidPath("path '.a[' unclosed"), FailureClass.INVALID_CONFIGURATION),
    (ssl.SSLError("bad PEM"), FailureClass.INVALID_CONFIGURATION),
])
def test_causes_map_to_classes(err: BaseException, failure: FailureClass) -> None:
    assert classify(err) == failure


def test_a_bug_is_not_classified() -> None:
    assert classify(KeyError("status")) is None
    assert classify(AttributeError("'NoneType' object has no attribute 'spec'")) is None


@pytest.mark.parametrize(("code", "failure"), [
    (401, FailureClass.UNAUTHORIZED), (403, FailureClass.UNAUTHORIZED), (404, FailureClass.INVALID_CONFIGURATION),
    (400, FailureClass.INVALID_CONFIGURATION), (429, FailureClass.UNREACHABLE), (500, FailureClass.UNREACHABLE),
    (503, FailureClass.UNREACHABLE),
])
def test_http_status_classes(code: int, failure: FailureClass) -> None:
    assert for_status(code) == failure


def test_a_missing_reference_reads_as_its_message_alone() -> None:
    from reentry.objects import describe_error
    assert describe_error(MissingReference("Secret nope not found in namespace shop")) \
        == "Secret nope not found in namespace shop"
    assert describe_error(InvalidMaterial("the CA bundle is not a PEM certificate bundle")) \
        == "the CA bundle is not a PEM certificate bundle"
    assert describe_error(KeyError("x")) == "KeyError: 'x'"  # a bare message needs its type to be read
