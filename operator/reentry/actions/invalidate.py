"""``invalidate``: HTTP calls one after another, ``spacing`` apart: a controlled cache invalidation.

After an outage every cache that stretched its TTLs would otherwise expire at once and send the
whole load to a cold backend; this action empties them one by one instead.

One call per execution step, and the record says how many calls are finished and when the last
one finished, so a restarted operator neither repeats a finished call nor skips one, and the
spacing (from the end of one call to the start of the next) holds across reconciles and restarts.
A step that finds less than :data:`MAX_SLEEP` left of the spacing sleeps it off; a longer wait
returns and comes back at the next reconcile. The call in flight when the operator dies is not
recorded as finished, so it is sent again: at least once, as invalidations allow.

``onError: Stop`` fails the action at the first call that gets no answer or an unexpected status;
``Continue`` records it and goes on, and the action succeeds naming the calls that failed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx

from reentry import model
from reentry.actions.context import ActionContext
from reentry.engine.observations import ActionProgress
from reentry.httpclient import describe_transport_error, session, shown_url
from reentry.kube import Kube
from reentry.model import ActionState, InvalidateOnError
from reentry.objects import Objects

#: The longest wait a step sleeps off itself; about one reconcile interval.
MAX_SLEEP = 0.5


@dataclass(frozen=True)
class Wait:
    """The spacing after the last call has not elapsed: this many seconds are left."""

    seconds: float


@dataclass(frozen=True)
class Call:
    """Send the call at this index (0-based) now."""

    index: int


def format_instant(at: datetime) -> str:
    """UTC with milliseconds: the spacing is often shorter than a second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def next_step(spec: model.InvalidateAction, record: dict[str, Any], now: datetime) -> Wait | Call | None:
    """What the action does next given its record: wait, call, or nothing (every call is finished)."""
    done = int(record.get("done", 0))
    if done >= len(spec.calls):
        return None
    last = record.get("lastFinishedAt")
    if done > 0 and last:
        ready_at = datetime.fromisoformat(last) + model.parse_duration(spec.spacing)
        if now < ready_at:
            return Wait((ready_at - now).total_seconds())
    return Call(done)


def _label(spec: model.InvalidateAction, index: int) -> str:
    return f"call {index + 1} of {len(spec.calls)}"


def after_call(spec: model.InvalidateAction, record: dict[str, Any], index: int, answer: str, error: str | None,
               finished: datetime) -> ActionProgress:
    """The progress once call ``index`` finished: ``answer`` for the record, ``error`` when it did not succeed."""
    results = [*record.get("results", []), f"{spec.calls[index].method} {shown_url(spec.calls[index].url)}: {answer}"]
    errors = list(record.get("errors", []))
    if error is not None:
        errors.append(f"{_label(spec, index)}: {error}")
    new = {**record, "done": index + 1, "lastFinishedAt": format_instant(finished), "results": results,
           **({"errors": errors} if errors else {})}
    if error is not None and spec.onError == InvalidateOnError.STOP:
        return ActionProgress(ActionState.FAILED, new, f"{_label(spec, index)}: {error}; stopped (onError Stop) "
                              f"after {index} of {len(spec.calls)} calls succeeded")
    if index + 1 < len(spec.calls):
        return ActionProgress(ActionState.RUNNING, new, f"{index + 1} of {len(spec.calls)} calls done, "
                              f"next in {spec.spacing}")
    return ActionProgress(ActionState.SUCCEEDED, new, _summary(spec, errors))


def _summary(spec: model.InvalidateAction, errors: list[str]) -> str:
    total = len(spec.calls)
    if not errors:
        return f"{total} calls done, {spec.spacing} apart"
    return f"{total} calls done, {len(errors)} failed (onError Continue): " + "; ".join(errors)


async def execute(kube: Kube, objects: Objects, namespace: str, context: ActionContext,
                  spec: model.InvalidateAction, record: dict[str, Any]) -> ActionProgress:
    """Send the next call when the spacing allows; report the wait otherwise."""
    step = next_step(spec, record, datetime.now(UTC))
    if step is None:
        return ActionProgress(ActionState.SUCCEEDED, record, _summary(spec, list(record.get("errors", []))))
    if isinstance(step, Wait):
        if step.seconds > MAX_SLEEP:
            done = int(record.get("done", 0))
            return ActionProgress(ActionState.RUNNING, record,
                                  f"{done} of {len(spec.calls)} calls done, next in {step.seconds:.1f}s")
        await asyncio.sleep(step.seconds)
        step = Call(int(record.get("done", 0)))
    call = spec.calls[step.index]
    async with session(objects, namespace, spec) as http:
        try:
            response = await http.request(call.method, call.url, content=call.body, headers=call.headers)
        except httpx.TransportError as err:
            cause = f"{call.method} {describe_transport_error(err, call.url, spec.timeout)}"
            return after_call(spec, record, step.index, "no answer", cause, datetime.now(UTC))
    answer = str(response.status_code)
    error = None if response.status_code in spec.expectedStatus else (
        f"{call.method} {shown_url(call.url)} answered {response.status_code}, "
        f"wanted {' or '.join(str(c) for c in spec.expectedStatus)}")
    return after_call(spec, record, step.index, answer, error, datetime.now(UTC))
