"""Errors and how they are told to a person.

A spec that cannot work is reported in the plan's status (phase Failed, condition Stalled) with
its cause named, never raised into a crash loop. Waiting is not an error: the engine simply
leaves the plan where it stands and the next evaluation looks again.
"""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(error: ValidationError, prefix: str = "spec") -> str:
    """One line per problem, each naming the field path: ``spec.services[0].release.batch: ...``."""
    lines = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return "; ".join(lines)
