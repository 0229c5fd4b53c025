"""Builders for the unit tests: plans, observations, check results, a fake clock, and a ``Drill``.

The engine is pure: ``reconcile.evaluate(spec, generation, status, observations, now)`` is all the
operator's decisions. These build its inputs in a line each (a plan from a few service names, pods
with some gates open, observations keyed by service name, passing and failing check results, a clock
moved by hand), and ``Drill`` feeds its evaluations one after another, as the operator does, so a test
reads as a story. They are plain functions in a plain module, imported by name; ``conftest.py`` holds
only the pytest fixtures built on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from reentry import metrics
from reentry.engine.observations import (
    ActionProgress,
    CheckResult,
    Controls,
    Observations,
    PodObservation,
    ServiceObservation,
)
from reentry.engine.reconcile import evaluate
from reentry.model import Outcome, Phase, RecoveryPlanSpec

if TYPE_CHECKING:
    from reentry.engine.observations import Event, ReleasePods
    from reentry.engine.reconcile import Decision
    from reentry.model import CheckStatus, Condition, RecoveryPlanStatus

NAMESPACE, PLAN_NAME = "shop", "checkout-failback"
"""Where a metered ``Drill`` says its plan lives, in the labels of the metrics it records."""


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


def attached_auth(released: bool = True) -> ServiceObservation:
    """The service ``auth`` with one gated pod: released with a ready endpoint (attached), or still held."""
    return ServiceObservation(pods("auth", 1, released=[0] if released else []), ready_endpoints=1 if released else 0)


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


class Drill:
    """Evaluations of one plan one after another, as the operator runs them, keeping what they decided.

    Each :meth:`step` moves the clock, evaluates the plan (generation 1) from the last status, and keeps
    the new ``status`` (``before`` is the one it started from), every event in ``events`` and every pod
    release in ``releases``. A drill made with ``metered=True`` also records each decision in a fresh
    metrics registry, as the handler does, under ``namespace`` and ``name``; :meth:`value` and
    :meth:`phase_gauge` read it back.
    """

    def __init__(self, spec: RecoveryPlanSpec, clock: Clock | None = None, *, metered: bool = False,
                 namespace: str = NAMESPACE, name: str = PLAN_NAME) -> None:
        self.spec, self.clock = spec, clock or Clock()
        self.namespace, self.name = namespace, name
        self.status: RecoveryPlanStatus | None = None
        self.before: RecoveryPlanStatus | None = None
        self.events: list[Event] = []
        self.releases: list[ReleasePods] = []
        self.metrics = metrics.Metrics(CollectorRegistry()) if metered else None

    def step(self, seconds: float = 1, *, obs: Observations | None = None, **observe: Any) -> Decision:
        """Evaluate once, ``seconds`` after the previous evaluation, and return the decision.

        The observations are ``obs`` exactly as given, or else ``observed(**observe)`` where the service
        ``auth``, unless given, is :func:`attached_auth`: released once this drill released any pods.
        """
        if obs is None:
            observe.setdefault("auth", attached_auth(released=bool(self.releases)))
            obs = observed(**observe)
        else:
            assert not observe, "give the observations whole (obs=...) or by parts, not both"
        self.before = self.status
        decision = evaluate(self.spec, 1, self.before, obs, self.clock.tick(seconds))
        if self.metrics is not None:
            self.metrics.record(self.namespace, self.name, self.before, decision)
        self.status = decision.status
        self.events += decision.events
        self.releases += decision.releases
        return decision

    def reasons(self) -> list[str]:
        """The reasons of every event so far, in order."""
        return [e.reason for e in self.events]

    def check(self, name: str) -> CheckStatus:
        """The current status of check ``name``."""
        assert self.status is not None, "no evaluation yet"
        return next(c for c in self.status.checks if c.name == name)

    def condition(self, type_: str) -> Condition | None:
        """The current condition of type ``type_``, if the status has one."""
        assert self.status is not None, "no evaluation yet"
        return next((c for c in self.status.conditions if c.type == type_), None)

    def value(self, metric: str, **labels: str) -> float | None:
        """A sample of the metered drill's registry; None when there is no such series."""
        assert self.metrics is not None, "only a Drill(..., metered=True) records metrics"
        return self.metrics.registry.get_sample_value(metric, labels)

    def phase_gauge(self) -> Phase:
        """The phase the ``reentry_plan_phase`` gauge shows for this plan, asserting it is one-hot over every phase."""
        shown = {p: self.value("reentry_plan_phase", namespace=self.namespace, plan=self.name, phase=p.value)
                 for p in Phase}
        on = [p for p in Phase if shown[p] == 1]
        off = [p for p in Phase if shown[p] == 0]
        assert len(on) == 1 and len(on) + len(off) == len(Phase), "the phase gauge is one-hot over every phase"
        return on[0]
