"""The value a ramped number takes at a weight: ``from`` at 0, ``to`` at 100, in proportion between."""

from __future__ import annotations


def value_at(start: int, end: int, weight: int) -> int:
    """Round half away from zero, so 0 -> 12 at 25% is 3 and a ramp down is the mirror of a ramp up."""
    exact = start + (end - start) * weight / 100
    return int(exact + 0.5) if exact >= 0 else -int(-exact + 0.5)
