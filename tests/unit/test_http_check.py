"""The http kind's judgement of an answer: status codes, a JSON field by path, failure classes."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, cast

import httpx2 as httpx
import pytest

from reentry.checks.http import judge
from reentry.httpclient import describe_transport_error, session, shown_url, system_trust
from reentry.model import FailureClass, HttpCheck, Outcome
from reentry.objects import Objects


def spec(**fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"url": "http://orders-db.shop:8080/replication", **fields})


BODY = json.dumps({"replication": {"lag": 0.4, "state": "streaming"},
                   "replicas": [{"name": "db-1", "lag": 3}, {"name": "db-2", "lag": 0}]})


def test_an_expected_status_without_a_path_passes() -> None:
    result = judge(spec(), 200, "ok")
    assert (result.outcome, result.observed, result.threshold) == (Outcome.PASS, "status 200", "status 200")


def test_an_unexpected_status_misses_the_threshold() -> None:
    result = judge(spec(expectedStatus=[200, 204]), 503, "down")
    assert (result.outcome, result.failure) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert (result.observed, result.threshold) == ("status 503", "status 200 or 204")


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_are_unauthorized(code: int) -> None:
    result = judge(spec(path=".replication.lag", max=1), code, "")
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)


def test_an_expected_401_is_just_an_expected_status() -> None:
    assert judge(spec(expectedStatus=[401]), 401, "").outcome == Outcome.PASS


@pytest.mark.parametrize(("fields", "outcome", "observed"), [
    ({"path": ".replication.lag", "max": 1}, Outcome.PASS, "0.4"),
    ({"path": ".replication.lag", "max": 0.1}, Outcome.FAIL, "0.4"),
    ({"path": ".replication.state", "equals": "streaming"}, Outcome.PASS, "streaming"),
    ({"path": ".replicas[name=db-1].lag", "max": 1}, Outcome.FAIL, "3"),
    ({"path": ".replicas[1].lag", "equals": "0"}, Outcome.PASS, "0"),
    ({"path": ".replication"}, Outcome.PASS, '{"lag":0.4,"state":"streaming"}'),
])
def test_a_json_field_by_path(fields: dict[str, Any], outcome: Outcome, observed: str) -> None:
    result = judge(spec(**fields), 200, BODY)
    assert (result.outcome, result.observed) == (outcome, observed)
    if outcome == Outcome.FAIL:
        assert result.failure == FailureClass.THRESHOLD_MISSED
        assert fields["path"] in result.message


def test_a_missing_field_is_no_data_naming_the_gap() -> None:
    result = judge(spec(path=".replication.slots.active", min=1), 200, BODY)
    assert (result.outcome, result.failure) == (Outcome.NO_DATA, FailureClass.NO_DATA)
    assert ".replication.slots" in result.message


def test_a_body_that_is_not_json_cannot_be_read_by_path() -> None:
    result = judge(spec(path=".lag", max=1), 200, "<html>maintenance</html>")
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "not JSON" in result.message


def test_a_malformed_path_is_a_configuration_error() -> None:
    result = judge(spec(path=".replicas[name=db-1"), 200, BODY)
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)


def test_without_a_path_the_whole_body_is_compared_as_text() -> None:
    assert judge(spec(equals="READY"), 200, "READY\n").outcome == Outcome.PASS
    assert judge(spec(max=10), 200, "12").outcome == Outcome.FAIL


def test_long_values_are_cut_for_status() -> None:
    long_body = json.dumps({"blob": "x" * 500})
    result = judge(spec(path=".blob", equals="y"), 200, long_body)
    assert result.observed is not None and len(result.observed) == 120 and result.observed.endswith("...")


def test_urls_shown_in_status_carry_no_credentials() -> None:
    assert shown_url("https://user:pw@cache.shop:8443/flush?token=s3cret") == "https://cache.shop:8443/flush"


def test_a_request_that_could_not_be_put_together_is_described_without_its_headers() -> None:
    # h11 quotes the offending header value, which may be a credential
    err = httpx.LocalProtocolError("Illegal header value b'Bearer s3cret\\n'")
    described = describe_transport_error(err, "https://cache.shop/flush?token=t", "5s")
    assert described == "https://cache.shop/flush: the request could not be sent (LocalProtocolError)"


def _ssl_context(check: HttpCheck) -> Any:
    async def opened() -> Any:
        # Without Secrets or a caBundle nothing is read through Objects.
        async with session(cast(Objects, None), "shop", check) as http:
            return http.client._transport._pool._ssl_context  # httpx's own: where its connections take TLS from
    return asyncio.run(opened())


def test_probes_without_a_ca_bundle_share_the_system_trust_loaded_once() -> None:
    # Loading the system's CA store costs ~40 ms of CPU; a probe runs twice a second per check.
    assert _ssl_context(spec()) is system_trust()
    assert _ssl_context(spec(url="https://orders.shop/", tls={"serverName": "orders"})) is system_trust()
    assert system_trust().verify_mode == ssl.CERT_REQUIRED and system_trust().check_hostname
    skipped = _ssl_context(spec(tls={"insecureSkipVerify": True}))
    assert skipped is not system_trust() and skipped.verify_mode == ssl.CERT_NONE
