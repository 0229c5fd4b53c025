"""The prometheus kind's judgement of /api/v1/query answers: values, comparisons, every failure class."""

from __future__ import annotations

from typing import Any

import pytest

from reentry.checks.prometheus import judge, query_url, series_name
from reentry.model import FailureClass, Outcome, PrometheusCheck


def spec(**comparison: Any) -> PrometheusCheck:
    return PrometheusCheck(url="http://prometheus.monitoring:9090", query="max(replica_lag_seconds)", **comparison)


def vector(*samples: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [1732370000.123, v]} for m, v in samples]}}


def test_a_single_series_under_max_passes_and_names_the_series() -> None:
    result = judge(spec(max=1), 200, vector(({"__name__": "lag", "replica": "db-1"}, "0.25")))
    assert result.outcome == Outcome.PASS
    assert (result.observed, result.threshold) == ("0.25", "max 1")
    assert 'lag{replica="db-1"}' in result.message
    assert result.failure is None


def test_a_value_over_max_misses_the_threshold() -> None:
    result = judge(spec(max=1), 200, vector(({}, "5")))
    assert result.outcome == Outcome.FAIL
    assert result.failure == FailureClass.THRESHOLD_MISSED
    assert (result.observed, result.threshold) == ("5", "max 1")
    assert "wanted max 1" in result.message


@pytest.mark.parametrize(("comparison", "value", "outcome"), [
    ({"min": 2}, "2", Outcome.PASS),
    ({"min": 2}, "1.99", Outcome.FAIL),
    ({"min": 1, "max": 3}, "3", Outcome.PASS),
    ({"min": 1, "max": 3}, "3.5", Outcome.FAIL),
    ({"equals": "1"}, "1", Outcome.PASS),
    ({"equals": "1"}, "0", Outcome.FAIL),
    ({"max": 0.02}, "+Inf", Outcome.FAIL),
    ({}, "42", Outcome.PASS),  # no comparison: any value is there, so it passes
])
def test_comparisons(comparison: dict[str, Any], value: str, outcome: Outcome) -> None:
    assert judge(spec(**comparison), 200, vector(({}, value))).outcome == outcome


def test_a_scalar_result_is_judged_like_a_single_sample() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1732370000, "0.5"]}}
    result = judge(spec(max=1), 200, body)
    assert (result.outcome, result.observed) == (Outcome.PASS, "0.5")


def test_no_series_is_no_data() -> None:
    result = judge(spec(max=1), 200, vector())
    assert (result.outcome, result.failure) == (Outcome.NO_DATA, FailureClass.NO_DATA)
    assert result.threshold == "max 1"


def test_nan_is_no_data_not_a_failure() -> None:
    # errors / requests with no requests at all: nothing to judge yet.
    result = judge(spec(max=0.02), 200, vector(({}, "NaN")))
    assert (result.outcome, result.failure, result.observed) == (Outcome.NO_DATA, FailureClass.NO_DATA, "NaN")


def test_several_series_are_a_configuration_error_naming_the_count() -> None:
    body = vector(*[({"__name__": "lag", "replica": f"db-{i}"}, "0") for i in range(5)])
    result = judge(spec(max=1), 200, body)
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "returns 5 series" in result.message
    assert 'lag{replica="db-0"}' in result.message and ", ..." in result.message
    assert "max(...)" in result.message


def test_bad_promql_is_a_configuration_error_with_prometheus_own_words() -> None:
    body = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unexpected right parenthesis \')\''}
    result = judge(spec(max=1), 400, body)
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "bad_data" in result.message and "unexpected right parenthesis" in result.message


def test_a_query_prometheus_cannot_execute_is_the_plans_error_a_timeout_is_prometheus() -> None:
    execution = judge(spec(), 422, {"status": "error", "errorType": "execution", "error": "many-to-many matching"})
    assert execution.failure == FailureClass.INVALID_CONFIGURATION
    timeout = judge(spec(), 503, {"status": "error", "errorType": "timeout", "error": "query timed out"})
    assert (timeout.outcome, timeout.failure) == (Outcome.ERROR, FailureClass.UNREACHABLE)


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_are_unauthorized(code: int) -> None:
    result = judge(spec(), code, None)
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)
    assert str(code) in result.message


@pytest.mark.parametrize(("code", "failure"), [
    (404, FailureClass.INVALID_CONFIGURATION),  # no Prometheus API at that URL
    (502, FailureClass.UNREACHABLE),            # a proxy in front of a Prometheus that is down
    (200, FailureClass.INVALID_CONFIGURATION),  # something else answers there
])
def test_an_answer_that_is_not_prometheus(code: int, failure: FailureClass) -> None:
    result = judge(spec(), code, None)
    assert (result.outcome, result.failure) == (Outcome.ERROR, failure)


def test_a_range_vector_is_refused_with_the_reason() -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    result = judge(spec(), 200, body)
    assert result.failure == FailureClass.INVALID_CONFIGURATION
    assert "matrix" in result.message


def test_a_malformed_sample_is_a_configuration_error_not_a_crash() -> None:
    body = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": "7"}]}}
    assert judge(spec(), 200, body).failure == FailureClass.INVALID_CONFIGURATION


def test_urls_and_series_names() -> None:
    assert query_url("http://p:9090/") == "http://p:9090/api/v1/query"
    assert query_url("https://gw.example/prometheus") == "https://gw.example/prometheus/api/v1/query"
    assert series_name({}) == "{}"
    assert series_name({"__name__": "up", "job": "db", "instance": "a"}) == 'up{instance="a",job="db"}'
