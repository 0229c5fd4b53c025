"""Actions: what a stage does once, in order, before its checks (releaseLeases, patch, job,
invalidate), and :class:`Action`, the item a plan lists.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from reentry.model.checks import LeaseTarget
from reentry.model.common import Duration, ObjectRef, _exactly_one, _Model, _OneKind
from reentry.model.sources import HttpClient


class InvalidateOnError(StrEnum):
    STOP = "Stop"
    CONTINUE = "Continue"


class InvalidateCall(_Model):
    """One HTTP call of an invalidation; credentials belong in the action's auth or headersFrom, not here."""

    url: str = Field(pattern=r"^https?://")
    method: str = Field(default="POST", pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")
    body: str | None = Field(default=None, description="Sent as is.")
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. Content-Type; not for secrets.")


class InvalidateAction(HttpClient):
    """HTTP calls one after another with spacing: a controlled invalidation instead of a mass expiry."""

    calls: list[InvalidateCall] = Field(min_length=1)
    spacing: Duration = Field(default="1s", description="Between the end of one call and the start of the next.")
    onError: InvalidateOnError = Field(default=InvalidateOnError.STOP)
    expectedStatus: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])


ACTION_KINDS = ("releaseLeases", "patch", "job", "invalidate")


class PatchAction(ObjectRef):
    """A JSON merge patch on any object; the values it replaces are kept in status for undo."""

    patch: dict[str, Any] = Field(description="The merge patch.")


class JobAction(_Model):
    """Run a Job to completion; its failure message lands in status."""

    spec: dict[str, Any] = Field(description="A batch/v1 JobSpec.")


class Action(_OneKind):
    """Something a stage does once, in order, before its checks are evaluated."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(ACTION_KINDS))
    _kinds = ACTION_KINDS
    _what = "action"

    releaseLeases: LeaseTarget | None = None
    patch: PatchAction | None = None
    job: JobAction | None = None
    invalidate: InvalidateAction | None = None
