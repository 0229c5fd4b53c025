"""The operator's log lines: kopf's text, or one JSON object per line (``reentry run --log-format``).

A JSON line carries ``time`` (UTC, RFC 3339 with milliseconds), ``level``, ``logger`` and
``message``; and, when the line is about a plan, ``namespace``, ``plan`` and ``stage``. What a
plan's loop logs (the controller, its checks, actions and targets) is attributed through a context
variable that the loop sets for its own task (:func:`about_plan`), so no log call has to pass the
plan along; kopf's own lines about an object carry its reference, which is used when no plan is
set. An exception's traceback goes in ``exception``.

Neither format adds anything a log call did not say: what keeps Secret values out of the logs is
that no log call is given one (checks report fingerprints and key ids; see docs/reliability.md).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")

_PLAN: ContextVar[tuple[str, str] | None] = ContextVar("reentry_plan", default=None)
_STAGE: ContextVar[str | None] = ContextVar("reentry_stage", default=None)


def about_plan(namespace: str, name: str) -> None:
    """From here on, in this task (and the tasks it starts), log lines are about this plan."""
    _PLAN.set((namespace, name))
    _STAGE.set(None)


def at_stage(stage: str | None) -> None:
    """The stage the current plan is in, for the log lines that follow."""
    _STAGE.set(stage)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the plan the record is about when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_subject(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["exception"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def _subject(record: logging.LogRecord) -> dict[str, str]:
    plan = _PLAN.get()
    if plan is not None:
        stage = _STAGE.get()
        return {"namespace": plan[0], "plan": plan[1], **({"stage": stage} if stage else {})}
    ref = getattr(record, "k8s_ref", None)  # kopf's lines about one object
    if not isinstance(ref, dict) or not ref.get("name"):
        return {}
    subject = {"namespace": str(ref["namespace"])} if ref.get("namespace") else {}
    if ref.get("kind") == "RecoveryPlan":
        subject["plan"] = str(ref["name"])
    else:
        subject["object"] = f"{ref.get('kind', '')}/{ref['name']}"
    return subject


def use_format(log_format: str) -> None:
    """Give the root logger's handlers (kopf's, once ``kopf.configure`` ran) the chosen format."""
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: one of {', '.join(FORMATS)}")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
