"""The invalidate action's sequencing from its record: order, spacing across steps, errors by policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reentry.actions.invalidate import Call, Wait, after_call, format_instant, next_step
from reentry.model import ActionState, InvalidateAction

T0 = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)


def spec(calls: int = 3, **fields: Any) -> InvalidateAction:
    return InvalidateAction.model_validate({
        "calls": [{"url": f"http://cache-{i}.shop:8080/flush?token=s3cret"} for i in range(calls)], **fields})


def test_the_first_call_goes_at_once() -> None:
    assert next_step(spec(spacing="10s"), {}, T0) == Call(0)


def test_the_next_call_waits_for_the_spacing_from_the_end_of_the_last() -> None:
    record = {"done": 1, "lastFinishedAt": format_instant(T0)}
    assert next_step(spec(spacing="2s"), record, T0 + timedelta(seconds=0.5)) == Wait(1.5)
    assert next_step(spec(spacing="2s"), record, T0 + timedelta(seconds=2)) == Call(1)
    assert next_step(spec(spacing="2s"), record, T0 + timedelta(hours=1)) == Call(1)  # a long restart: no skip


def test_spacing_below_a_second_survives_the_record() -> None:
    finished = T0 + timedelta(milliseconds=250)
    record = {"done": 1, "lastFinishedAt": format_instant(finished)}
    assert record["lastFinishedAt"] == "2026-11-23T14:00:00.250Z"
    wait = next_step(spec(spacing="500ms"), record, T0 + timedelta(milliseconds=400))
    assert isinstance(wait, Wait) and abs(wait.seconds - 0.35) < 1e-6


def test_every_call_finished_means_nothing_left() -> None:
    assert next_step(spec(calls=2), {"done": 2, "lastFinishedAt": format_instant(T0)}, T0) is None


def test_calls_go_in_order_and_the_record_counts_them() -> None:
    action, record, seen = spec(calls=3, spacing="1s"), {}, []
    now = T0
    while (step := next_step(action, record, now)) is not None:
        if isinstance(step, Wait):
            now += timedelta(seconds=step.seconds)
            continue
        seen.append(step.index)
        progress = after_call(action, record, step.index, "204", None, now)
        record = progress.record
        now += timedelta(milliseconds=30)
    assert seen == [0, 1, 2]
    assert progress.state == ActionState.SUCCEEDED
    assert record["done"] == 3
    assert record["results"] == [f"POST http://cache-{i}.shop:8080/flush: 204" for i in range(3)]
    assert "s3cret" not in str(record) and "s3cret" not in progress.message


def test_a_step_in_the_middle_keeps_running_and_says_what_is_next() -> None:
    progress = after_call(spec(calls=3, spacing="5s"), {}, 0, "204", None, T0)
    assert progress.state == ActionState.RUNNING
    assert progress.message == "1 of 3 calls done, next in 5s"
    assert progress.record["lastFinishedAt"] == "2026-11-23T14:00:00.000Z"


def test_on_error_stop_fails_at_the_first_error_and_names_it() -> None:
    record = {"done": 1, "lastFinishedAt": format_instant(T0), "results": ["POST http://cache-0.shop:8080/flush: 204"]}
    progress = after_call(spec(calls=3), record, 1, "503", "POST http://cache-1.shop:8080/flush answered 503", T0)
    assert progress.state == ActionState.FAILED
    assert "call 2 of 3" in progress.message and "answered 503" in progress.message
    assert "onError Stop" in progress.message and "after 1 of 3 calls succeeded" in progress.message


def test_on_error_continue_goes_on_and_succeeds_naming_the_failures() -> None:
    action = spec(calls=2, onError="Continue")
    first = after_call(action, {}, 0, "no answer", "POST http://cache-0.shop:8080/flush: connection refused", T0)
    assert first.state == ActionState.RUNNING
    assert first.record["errors"] == ["call 1 of 2: POST http://cache-0.shop:8080/flush: connection refused"]
    last = after_call(action, first.record, 1, "204", None, T0 + timedelta(seconds=1))
    assert last.state == ActionState.SUCCEEDED
    assert "1 failed (onError Continue)" in last.message and "connection refused" in last.message
