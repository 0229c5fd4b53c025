"""reentry.logs: the JSON log lines and what they say about the plan a line concerns."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging

import pytest

from reentry import logs


def record(message: str = "released %d pod(s)", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("reentry.controller", logging.INFO, __file__, 1, message, args or (2,), None)
    made.__dict__.update(extra)
    return made


def formatted(made: logging.LogRecord) -> dict[str, object]:
    line = logs.JsonFormatter().format(made)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_a_line_outside_any_plan_has_the_four_fields() -> None:
    entry = contextvars.Context().run(formatted, record())
    assert set(entry) == {"time", "level", "logger", "message"}
    assert entry["level"] == "info" and entry["logger"] == "reentry.controller"
    assert entry["message"] == "released 2 pod(s)"
    assert str(entry["time"]).endswith("Z") and "T" in str(entry["time"])


def test_a_plans_loop_attributes_its_lines_to_the_plan_and_its_stage_and_no_other_task() -> None:
    async def scenario() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
        async def plan_loop() -> tuple[dict[str, object], dict[str, object]]:
            logs.about_plan("shop", "failback")
            before_stage = formatted(record())
            logs.at_stage("dependencies")
            return before_stage, formatted(record())

        first, second = await asyncio.create_task(plan_loop())
        return first, second, formatted(record())  # this task never said it was about a plan

    first, second, elsewhere = contextvars.Context().run(asyncio.run, scenario())
    assert (first["namespace"], first["plan"]) == ("shop", "failback") and "stage" not in first
    assert second["stage"] == "dependencies"
    assert "plan" not in elsewhere and "namespace" not in elsewhere


def test_kopfs_lines_about_an_object_name_it() -> None:
    plan_ref = {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "name": "failback", "namespace": "shop"}
    pod_ref = {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "namespace": "shop"}
    assert contextvars.Context().run(formatted, record(k8s_ref=plan_ref))["plan"] == "failback"
    about_pod = contextvars.Context().run(formatted, record(k8s_ref=pod_ref))
    assert (about_pod["namespace"], about_pod["object"]) == ("shop", "Pod/web-0") and "plan" not in about_pod


def test_an_exception_travels_in_one_field_of_one_line() -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        import sys

        made = record(exc_info=sys.exc_info())
    entry = contextvars.Context().run(formatted, made)
    assert "RuntimeError: boom" in str(entry["exception"])


def test_use_format_sets_the_formatter_of_the_root_handlers_or_refuses() -> None:
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logs.use_format("text")
        assert not isinstance(handler.formatter, logs.JsonFormatter)
        logs.use_format("json")
        assert isinstance(handler.formatter, logs.JsonFormatter)
        with pytest.raises(ValueError, match="unknown log format 'xml'"):
            logs.use_format("xml")
    finally:
        root.removeHandler(handler)
