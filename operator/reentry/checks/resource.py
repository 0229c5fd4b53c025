"""``resource``: one field of any Kubernetes object, judged by equals, min and max.

The object missing is a Fail (what the plan waits for is not there); the field missing is NoData
(the object exists but has not reported it yet, e.g. a status not written); a malformed path is an
Error (the plan itself is wrong). A Secret's values are shown only as a fingerprint.
"""

from __future__ import annotations

from typing import Any

from reentry import model, paths
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import Outcome
from reentry.objects import Objects, fingerprint, is_secret

_SHOWN = 120  # characters of a value kept in status; a status is for people, not a dump


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.ResourceCheck) -> CheckResult:
    """Read the object, resolve the path, compare the value."""
    what = f"{spec.kind} {spec.name}" + (f" in namespace {spec.namespace}" if spec.namespace else "")
    try:
        paths.parse(spec.path)
    except paths.InvalidPath as err:
        return CheckResult(Outcome.ERROR, message=str(err))
    obj = await objects.get(spec, namespace)
    if obj is None:
        return CheckResult(Outcome.FAIL, message=f"{what} not found")
    threshold = paths.threshold(spec)
    try:
        value = paths.resolve(obj, spec.path)
    except paths.MissingField as err:
        reason = f" ({err.reason})" if err.reason else ""
        return CheckResult(Outcome.NO_DATA, threshold=threshold, message=f"{what} has no {err.path}{reason}")
    passes, threshold = paths.compare(value, spec)
    # Decided by what was read as well as what was declared (Objects.get refuses another kind, too).
    observed = _shown(value, secret=is_secret(spec.kind) or is_secret(obj.get("kind")))
    if passes:
        return CheckResult(Outcome.PASS, observed, threshold)
    if (spec.min is not None or spec.max is not None) and paths.as_number(value) is None:
        return CheckResult(Outcome.FAIL, observed, threshold, f"{what}: {spec.path} is {observed}, not a number")
    return CheckResult(Outcome.FAIL, observed, threshold, f"{what}: {spec.path} is {observed}, wanted {threshold}")


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return f"sha256:{fingerprint(value)[:16]}"
    text = paths.as_text(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."
