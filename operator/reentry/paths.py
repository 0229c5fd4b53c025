"""Field paths into Kubernetes objects and how an observed value is judged: pure functions.

A path is a chain of steps, each starting with ``.`` or ``[``:

- ``.name`` — a field of an object (any characters but ``.``, ``[`` and ``]``);
- ``[3]`` — an item of a list, counted from 0;
- ``[type=Ready]`` — the first item of a list whose field ``type``, as text, equals ``Ready``
  (the value may be quoted: ``[name='a=b']``);
- ``['external-dns.alpha.kubernetes.io/weight']`` (or ``"..."``) — a key of a map, for keys that
  hold dots; an unquoted ``[example.com/key]`` that is neither a number nor ``k=v`` reads the same.

For example ``.status.conditions[type=Ready].status`` or ``.metadata.annotations['a.b/c']``.
A field that is absent or null is missing, as is a step that does not fit the value it meets
(an index into a map, a field of a number): whether data is there is the cluster's business, so
that is :class:`MissingField`; only a path that cannot be read at all is :class:`InvalidPath`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from reentry.model import Comparison


class InvalidPath(ValueError):
    """The path is not well formed."""


class MissingField(LookupError):
    """The object has no value at ``path`` (the part of the path that was walked up to the gap)."""

    def __init__(self, path: str, reason: str = "") -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"no field {path}" + (f" ({reason})" if reason else ""))


@dataclass(frozen=True)
class Field:
    """``.name`` or ``['name']``: a key of a map."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}" if _is_plain(self.name) else f"[{self.name!r}]"


@dataclass(frozen=True)
class Index:
    """``[n]``: an item of a list."""

    index: int

    def __str__(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True)
class Select:
    """``[key=value]``: the first item of a list whose ``key`` reads as ``value``."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"[{self.key}={self.value}]"


Step = Field | Index | Select


def _is_plain(name: str) -> bool:
    return bool(name) and not any(c in name for c in ".[]='\"")


def parse(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; raises :class:`InvalidPath` naming the position of a syntax error."""
    steps: list[Step] = []
    pos = 0
    if not path.startswith("."):
        raise InvalidPath(f"path {path!r} must start with '.'")
    while pos < len(path):
        if path[pos] == ".":
            end = pos + 1
            while end < len(path) and path[end] not in ".[]":
                end += 1
            if end == pos + 1:
                raise InvalidPath(f"path {path!r}: empty field name at position {pos}")
            steps.append(Field(path[pos + 1:end]))
            pos = end
        elif path[pos] == "[":
            step, pos = _bracket(path, pos)
            steps.append(step)
        else:
            raise InvalidPath(f"path {path!r}: unexpected {path[pos]!r} at position {pos}")
    return tuple(steps)


def _bracket(path: str, start: int) -> tuple[Step, int]:
    """The step of the ``[...]`` at ``start`` and the position after its ``]``."""
    pos = start + 1
    if pos < len(path) and path[pos] in "'\"":
        key, pos = _quoted(path, pos)
        return Field(key), _close(path, pos, start)
    end = pos
    while end < len(path) and path[end] not in "=]'\"[":
        end += 1
    if end == len(path):
        raise InvalidPath(f"path {path!r}: unclosed '[' at position {start}")
    word = path[pos:end].strip()
    if path[end] == "=":
        if not word:
            raise InvalidPath(f"path {path!r}: [key=value] needs a key at position {start}")
        pos = end + 1
        if pos < len(path) and path[pos] in "'\"":
            value, pos = _quoted(path, pos)
        else:
            value_end = path.find("]", pos)
            if value_end < 0:
                raise InvalidPath(f"path {path!r}: unclosed '[' at position {start}")
            value, pos = path[pos:value_end].strip(), value_end
        return Select(word, value), _close(path, pos, start)
    if not word:
        raise InvalidPath(f"path {path!r}: empty [] at position {start}")
    step: Step = Index(int(word)) if word.isdigit() else Field(word)
    return step, _close(path, end, start)


def _quoted(path: str, pos: int) -> tuple[str, int]:
    """The text of the quoted string at ``pos`` and the position after its closing quote."""
    quote = path[pos]
    end = path.find(quote, pos + 1)
    if end < 0:
        raise InvalidPath(f"path {path!r}: unclosed quote at position {pos}")
    return path[pos + 1:end], end + 1


def _close(path: str, pos: int, start: int) -> int:
    if pos >= len(path) or path[pos] != "]":
        raise InvalidPath(f"path {path!r}: expected ']' to close the '[' at position {start}")
    return pos + 1


def resolve(obj: Any, path: str) -> Any:
    """The value at ``path`` in ``obj`` (plain JSON data).

    Raises :class:`InvalidPath` for a malformed path and :class:`MissingField` (naming the path up to
    the gap) when the value is absent or null.
    """
    value = obj
    walked = ""
    for step in parse(path):
        walked += str(step)
        value = _step(value, step, walked)
        if value is None:
            raise MissingField(walked)
    return value


def _step(value: Any, step: Step, walked: str) -> Any:
    if isinstance(step, Field):
        if not isinstance(value, dict):
            raise MissingField(walked, f"a {_type_name(value)} has no fields")
        return value.get(step.name)
    if not isinstance(value, list):
        raise MissingField(walked, f"a {_type_name(value)} is not a list")
    if isinstance(step, Index):
        return value[step.index] if step.index < len(value) else None
    return next((item for item in value if isinstance(item, dict) and step.key in item
                 and as_text(item[step.key]) == step.value), None)


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def as_text(value: Any) -> str:
    """How a value reads for ``equals``: ``true``/``false``, ``3`` (not ``3.0``), strings as they are,
    maps and lists as compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def as_number(value: Any) -> float | None:
    """The value as a number for ``min``/``max``: numbers, and strings that spell one (annotations
    and ConfigMap values are strings); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def threshold(cmp: Comparison) -> str:
    """The comparison as people read it: ``equals Ready``, ``min 3, max 5``; ``present`` when it has none."""
    parts = []
    if cmp.equals is not None:
        parts.append(f"equals {cmp.equals}")
    if cmp.min is not None:
        parts.append(f"min {as_text(cmp.min)}")
    if cmp.max is not None:
        parts.append(f"max {as_text(cmp.max)}")
    return ", ".join(parts) or "present"


def compare(value: Any, cmp: Comparison) -> tuple[bool, str]:
    """Whether ``value`` passes every part of ``cmp``, and the threshold text.

    ``equals`` compares text (see :func:`as_text`); ``min`` and ``max`` need a number (see
    :func:`as_number`): a value that is not one fails them.
    """
    passes = cmp.equals is None or as_text(value) == cmp.equals
    if cmp.min is not None or cmp.max is not None:
        number = as_number(value)
        passes = passes and number is not None
        if number is not None:
            passes = passes and (cmp.min is None or number >= cmp.min) and (cmp.max is None or number <= cmp.max)
    return passes, threshold(cmp)
