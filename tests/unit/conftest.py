"""Builders shared by the unit tests: plans, observations and a fake clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reentry.engine.observations import (
    ActionProgress,
    CheckResult,
    Controls,
    Observations,
    PodObservation,
    ServiceObservation,
)
from reentry.model import Outcome, RecoveryPlanSpec


def plan(*services: dict[str, Any], start: str = "OnTechnicalRecovery", **sections: Any) -> RecoveryPlanSpec:
    """A plan over the given services; each needs at least a name (selector and Service default to it).

    ``sections`` are further spec fields (identity={...}, validation={...}, mode="DryRun", ...).
    """
    full = [{"selector": {"matchLabels": {"app": s["name"]}}, "service": s["name"], **s} for s in services]
    return RecoveryPlanSpec.model_validate({"owner": {"team": "payments"}, "start": start, "services": full,
                                           **sections})


def pods(prefix: str, count: int, released: Iterable[int] = (), gated: bool = True) -> tuple[PodObservation, ...]:
    """``count`` pods named ``prefix-0..``; the indexes in ``released`` have their gate open."""
    done = set(released)
    return tuple(PodObservation(f"{prefix}-{i}", gated=gated, released=(i in done) or not gated)
                 for i in range(count))


def observed(start: bool = False, checks: dict[str, CheckResult] | None = None,
             actions: dict[str, ActionProgress] | None = None, controls: Controls | None = None,
             **services: ServiceObservation) -> Observations:
    """Observations keyed by service name; ``start`` is the start annotation."""
    controls = controls or Controls(start=start)
    return Observations(services=dict(services), controls=controls, checks=checks or {}, actions=actions or {})


def passing(observed: str = "ok") -> CheckResult:
    return CheckResult(Outcome.PASS, observed=observed)


def failing(observed: str = "bad", threshold: str | None = None) -> CheckResult:
    return CheckResult(Outcome.FAIL, observed=observed, threshold=threshold)


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
