"""Builders shared by the unit tests: plans, observations and a fake clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reentry.engine.observations import Observations, PodObservation, ServiceObservation
from reentry.model import RecoveryPlanSpec


def plan(*services: dict[str, Any], start: str = "OnTechnicalRecovery") -> RecoveryPlanSpec:
    """A plan over the given services; each needs at least a name (selector and Service default to it)."""
    full = [{"selector": {"matchLabels": {"app": s["name"]}}, "service": s["name"], **s} for s in services]
    return RecoveryPlanSpec.model_validate({"owner": {"team": "payments"}, "start": start, "services": full})


def pods(prefix: str, count: int, released: Iterable[int] = (), gated: bool = True) -> tuple[PodObservation, ...]:
    """``count`` pods named ``prefix-0..``; the indexes in ``released`` have their gate open."""
    done = set(released)
    return tuple(PodObservation(f"{prefix}-{i}", gated=gated, released=(i in done) or not gated)
                 for i in range(count))


def observed(start: bool = False, **services: ServiceObservation) -> Observations:
    """Observations keyed by service name."""
    return Observations(services=dict(services), start_requested=start)


class Clock:
    """A fake clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
