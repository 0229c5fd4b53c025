"""``prometheus``: a PromQL instant query (``/api/v1/query``) whose one value is judged by equals, min, max.

The query must come back as a scalar or as an instant vector of at most one series. No series (or
a NaN, as ``errors / requests`` gives with no requests) is NoData, which the check's ``onNoData``
turns into Hold, Pass or Fail. More than one series is a configuration error: the plan must say
how to aggregate them (``max(...)``), the check will not pick one. Prometheus refusing the query
(``bad_data``: a syntax error, an unknown function) is a configuration error carrying Prometheus'
own words; 401/403 is Unauthorized; no answer, a 5xx or a timeout is Unreachable.
"""

from __future__ import annotations

import math
from typing import Any

import httpx2 as httpx

from reentry import model, paths
from reentry.checks import failures
from reentry.engine.observations import CheckResult
from reentry.httpclient import describe_transport_error, session, shown_url
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects

_SHOWN = 200  # characters of Prometheus' error text kept in a message


def query_url(base: str) -> str:
    """The instant-query endpoint under ``base`` (which may carry a path prefix, e.g. behind a proxy)."""
    return base.rstrip("/") + "/api/v1/query"


def series_name(metric: dict[str, Any]) -> str:
    """A series as PromQL writes it: ``lag{replica="db-1"}``, ``{}`` for an aggregate without labels."""
    labels = {k: v for k, v in metric.items() if k != "__name__"}
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric.get('__name__', '')}{{{inner}}}"


def _number(sample: Any) -> float:
    """The value of a ``[timestamp, "value"]`` pair; Prometheus sends numbers as strings (NaN, +Inf too)."""
    if not isinstance(sample, list) or len(sample) != 2:
        raise ValueError(f"not a [timestamp, value] pair: {sample!r}")
    return float(sample[1])


def judge(spec: model.PrometheusCheck, status_code: int, body: Any) -> CheckResult:
    """Judge one answer of ``/api/v1/query``: ``body`` is its parsed JSON (None when it was not JSON)."""
    threshold = paths.threshold(spec)
    where = shown_url(spec.url)
    if status_code in (401, 403):
        return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.UNAUTHORIZED,
                           message=f"Prometheus at {where} refused the credentials ({status_code})")
    if not isinstance(body, dict) or "status" not in body:
        failure = failures.for_status(status_code) if status_code >= 400 else FailureClass.INVALID_CONFIGURATION
        return CheckResult(Outcome.ERROR, threshold=threshold, failure=failure,
                           message=f"{where} answered {status_code} without a Prometheus API response")
    if body["status"] != "success":
        error_type, error = body.get("errorType", "error"), str(body.get("error", ""))[:_SHOWN]
        # bad_data (400) and execution (422) are the query's fault; timeout, canceled, unavailable are Prometheus'.
        failure = (FailureClass.INVALID_CONFIGURATION if error_type in ("bad_data", "execution")
                   else failures.for_status(status_code if status_code >= 400 else 503))
        return CheckResult(Outcome.ERROR, threshold=threshold, failure=failure,
                           message=f"Prometheus refused the query ({error_type}): {error}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "scalar":
            return _compare(spec, _number(result), "scalar", threshold)
        if kind != "vector":
            return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.INVALID_CONFIGURATION,
                               message=f"the query returns a {kind}; it must return an instant vector or a scalar")
        if not result:
            return CheckResult(Outcome.NO_DATA, threshold=threshold, failure=FailureClass.NO_DATA,
                               message="the query returns no series")
        if len(result) > 1:
            names = ", ".join(series_name(s.get("metric") or {}) for s in result[:3])
            names += ", ..." if len(result) > 3 else ""
            return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.INVALID_CONFIGURATION,
                               message=f"the query returns {len(result)} series ({names}); it must return one: "
                               "aggregate them, e.g. max(...)")
        return _compare(spec, _number(result[0].get("value")), series_name(result[0].get("metric") or {}), threshold)
    except (ValueError, TypeError, AttributeError) as err:
        return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.INVALID_CONFIGURATION,
                           message=f"{where} answered with a result that is not Prometheus' ({err})")


def _compare(spec: model.PrometheusCheck, value: float, series: str, threshold: str) -> CheckResult:
    if math.isnan(value):
        return CheckResult(Outcome.NO_DATA, "NaN", threshold, f"{series} is NaN (no samples to compute it from)",
                           failure=FailureClass.NO_DATA)
    passes, threshold = paths.compare(value, spec)
    observed = paths.as_text(value)
    if passes:
        return CheckResult(Outcome.PASS, observed, threshold, f"{series} = {observed}")
    return CheckResult(Outcome.FAIL, observed, threshold, f"{series} = {observed}, wanted {threshold}",
                       failure=FailureClass.THRESHOLD_MISSED)


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.PrometheusCheck) -> CheckResult:
    """Run the query once and judge the answer."""
    async with session(objects, namespace, spec) as http:
        try:
            response = await http.request("GET", query_url(spec.url), params={"query": spec.query})
        except httpx.TransportError as err:
            return CheckResult(Outcome.ERROR, threshold=paths.threshold(spec), failure=FailureClass.UNREACHABLE,
                               message="Prometheus at " + describe_transport_error(err, spec.url, spec.timeout))
    try:
        body = response.json()
    except ValueError:
        body = None
    return judge(spec, response.status_code, body)
