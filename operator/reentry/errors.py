"""Errors and how they are told to a person.

A spec that cannot work is reported in the plan's status (phase Failed, condition Stalled) with
its cause named, never raised into a crash loop. Waiting is not an error: the engine simply
leaves the plan where it stands and the next evaluation looks again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import ValidationError


def field_path(loc: Sequence[str | int], prefix: str = "") -> str:
    """A field's location as a person reads it: ``("services", 0, "release")`` after ``spec`` is
    ``spec.services[0].release``."""
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def describe_validation_error(error: ValidationError, prefix: str = "spec") -> str:
    """One line per problem, each naming the field path: ``spec.services[0].release.batch: ...``."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{field_path(problem['loc'], prefix)}: {message}")
    return "; ".join(lines)


class NamedCause(Exception):
    """An error whose message names its cause in full: it is shown without its type's name."""


class ApiRefused(NamedCause):
    """The API server answered with an error. Raised by ``kube`` and ``objects`` only, translated once
    from the client library's error, so nothing else tests status codes: catch the kind it is."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason or 'error'}: {message}")
        self.code = code

    @property
    def temporary(self) -> bool:
        """Worth asking again as it is (a conflict, throttling, a timeout, the server's own trouble)."""
        return isinstance(self, Conflict | Unavailable)


class NotFound(ApiRefused):
    """404: the object (or its namespace) does not exist."""


class Conflict(ApiRefused):
    """409: the object changed since it was read, or already exists."""


class Forbidden(ApiRefused):
    """401/403: the operator may not (its credentials or RBAC)."""


class Invalid(ApiRefused):
    """400/422: the request itself is wrong (a field the API server refuses)."""


class Expired(ApiRefused):
    """410 Gone: a list or watch asked from a resourceVersion the API server no longer keeps."""


class Unavailable(ApiRefused):
    """408, 429 or 5xx: not now; the same request may succeed later."""


def api_refusal(code: int | None, reason: str | None, message: str | None) -> ApiRefused:
    """The typed error for one error answer of the API server."""
    number = code or 500
    kind: type[ApiRefused]
    if number == 404:
        kind = NotFound
    elif number == 409:
        kind = Conflict
    elif number in (401, 403):
        kind = Forbidden
    elif number in (400, 422):
        kind = Invalid
    elif number == 410:
        kind = Expired
    elif number in (408, 429) or number >= 500:
        kind = Unavailable
    else:
        kind = ApiRefused
    return kind(number, reason or "", message or "")


def refusal_from_body(code: int, body: bytes) -> ApiRefused:
    """The typed error for an error answer from its body: the API server's Status (its reason and
    message), or, for any other body, its first 200 bytes as the message."""
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return api_refusal(code, None, body[:200].decode(errors="replace"))
    return api_refusal(code, status.get("reason"), status.get("message"))
