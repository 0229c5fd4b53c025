"""``http``: GET a URL; the status code must be one expected and, with a ``path``, a JSON field is judged.

The path uses the same syntax as ``resource`` (``.replication.lag``, ``.items[0].state``,
``.checks[name=db].status``). A field that is absent is NoData (the service answers but has not
reported it yet). Without a path, ``equals``/``min``/``max`` judge the whole body as text.
An unexpected status is a Fail (ThresholdMissed), except 401/403, which is Unauthorized; no
answer or a timeout is Unreachable.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx

from reentry import model, paths
from reentry.engine.observations import CheckResult
from reentry.httpclient import describe_transport_error, session, shown_url
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects

_SHOWN = 120  # characters of a value kept in status


def shown(value: Any) -> str:
    """A value as status shows it, cut to a length people read."""
    text = paths.as_text(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _has_comparison(spec: model.HttpCheck) -> bool:
    return spec.equals is not None or spec.min is not None or spec.max is not None


def judge(spec: model.HttpCheck, status_code: int, text: str) -> CheckResult:
    """Judge one answer: its status code, then (with a path or a comparison) its body."""
    where = shown_url(spec.url)
    expected = "status " + " or ".join(str(c) for c in spec.expectedStatus)
    if status_code not in spec.expectedStatus:
        if status_code in (401, 403):
            return CheckResult(Outcome.ERROR, f"status {status_code}", expected, failure=FailureClass.UNAUTHORIZED,
                               message=f"GET {where} was refused ({status_code}): check the credentials")
        return CheckResult(Outcome.FAIL, f"status {status_code}", expected, failure=FailureClass.THRESHOLD_MISSED,
                           message=f"GET {where} answered {status_code}, wanted {expected}")
    if spec.path is None and not _has_comparison(spec):
        return CheckResult(Outcome.PASS, f"status {status_code}", expected)
    threshold = paths.threshold(spec)
    value: Any = text.strip()
    if spec.path is not None:
        try:
            value = paths.resolve(json.loads(text), spec.path)
        except ValueError as err:
            if isinstance(err, paths.InvalidPath):
                return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.INVALID_CONFIGURATION,
                                   message=str(err))
            return CheckResult(Outcome.ERROR, threshold=threshold, failure=FailureClass.INVALID_CONFIGURATION,
                               message=f"GET {where}: the body is not JSON, so path {spec.path} cannot be read")
        except paths.MissingField as err:
            reason = f" ({err.reason})" if err.reason else ""
            return CheckResult(Outcome.NO_DATA, threshold=threshold, failure=FailureClass.NO_DATA,
                               message=f"GET {where}: the body has no {err.path}{reason}")
    passes, threshold = paths.compare(value, spec)
    observed = shown(value)
    field = spec.path or "the body"
    if passes:
        return CheckResult(Outcome.PASS, observed, threshold)
    return CheckResult(Outcome.FAIL, observed, threshold, f"GET {where}: {field} is {observed}, wanted {threshold}",
                       failure=FailureClass.THRESHOLD_MISSED)


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.HttpCheck) -> CheckResult:
    """GET the URL once and judge the answer."""
    if spec.path is not None:
        paths.parse(spec.path)  # a malformed path is the plan's error, whatever the server says
    async with session(objects, namespace, spec) as http:
        try:
            response = await http.request("GET", spec.url)
        except httpx.TransportError as err:
            return CheckResult(Outcome.ERROR, failure=FailureClass.UNREACHABLE,
                               message="GET " + describe_transport_error(err, spec.url, spec.timeout))
    return judge(spec, response.status_code, response.text)
