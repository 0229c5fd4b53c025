"""Prometheus metrics: the one place that defines them (documented in docs/metrics.md).

Every plan-level number is derived from what an evaluation decided (the engine's ``Decision``)
and the status it started from, in :meth:`Metrics.record`, so the metrics say what the status
says. Labels are namespace, plan, stage, check, service, phase and result: all bounded by the
plans' specs or by enums. Pod names never become labels, since pods come and go with every
rollout and each would leave a series behind.

The operator evaluates a plan whenever something it reads changes, and the body kopf hands it
may lag one status write behind. Transitions (a stage passing, a plan restored, a step back) are
therefore remembered per plan and counted once, however often the same transition is seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from reentry.engine.conditions import READY, get_condition
from reentry.engine.evaluation import Decision
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import parse_time
from reentry.model import Outcome, Phase, RecoveryPlanStatus, StageState

#: Where `reentry run` serves /metrics unless ``--metrics-port`` says otherwise (0 disables it).
#: Not 9090: that is Prometheus' own port, so on a laptop running Prometheus the operator could not
#: start. 8383 is not the default of Prometheus (9090), Pushgateway (9091), Alertmanager (9093),
#: node_exporter (9100), Grafana (3000), kopf's or controller-runtime's probes (8080, 8081).
DEFAULT_PORT = 8383

PLAN_LABELS = ("namespace", "plan")
# Stage waits run from seconds (a drill) to hours (a real failback).
STAGE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
RESTORATION_BUCKETS = (10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
GC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
#: How long a deleted plan's late evaluations are ignored.
TOMBSTONE_SECONDS = 600.0

PlanKey = tuple[str, str]
_UNSET = object()


def number(text: str | None) -> float | None:
    """A check's observed value as a number, when it is exactly one finite number ("3", "0.25")."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class _Seen:
    """What was already counted for one plan, and which labelled series it owns."""

    series: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    stages_passed: set[str] = field(default_factory=set)
    restored: bool = False
    step_backs: int | None = None
    shown: dict[tuple[str, tuple[str, ...]], object] = field(default_factory=dict)
    """What was last written to each gauge family, so an unchanged plan costs no label lookups."""


class Metrics:
    """The operator's metrics, registered in one registry (a fresh one per unit test)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.phase = Gauge(
            "reentry_plan_phase", "1 for the plan's current phase, 0 for every other phase.",
            [*PLAN_LABELS, "phase"], registry=registry)
        self.stage_duration = Histogram(
            "reentry_stage_duration_seconds", "Time from a stage's start to its pass.",
            ["stage"], buckets=STAGE_BUCKETS, registry=registry)
        self.check_result = Gauge(
            "reentry_check_result", "1 for the check's latest result, 0 for the other results.",
            [*PLAN_LABELS, "stage", "check", "result"], registry=registry)
        self.check_value = Gauge(
            "reentry_check_observed_value", "The check's latest observed value, when it is a plain number.",
            [*PLAN_LABELS, "stage", "check"], registry=registry)
        self.weight = Gauge(
            "reentry_traffic_weight_percent", "Percent of traffic the plan has decided for the restored system.",
            PLAN_LABELS, registry=registry)
        self.step_backs = Counter(
            "reentry_traffic_step_backs", "Traffic step-backs after a failed analysis.",
            PLAN_LABELS, registry=registry)
        self.pods_released = Counter(
            "reentry_pods_released", "Pods whose readiness gate this operator opened.",
            [*PLAN_LABELS, "service"], registry=registry)
        self.restoration = Histogram(
            "reentry_restoration_seconds", "Time from technical recovery to operational restoration (Restored).",
            buckets=RESTORATION_BUCKETS, registry=registry)
        self.budget_exceeded = Gauge(
            "reentry_restoration_budget_exceeded", "1 when the plan ran past its restorationBudget, else 0.",
            PLAN_LABELS, registry=registry)
        self.reconcile_errors = Counter(
            "reentry_reconcile_errors", "Evaluations that ended in an exception (kopf retries them).",
            [*PLAN_LABELS, "error"], registry=registry)
        self.reconcile_duration = Histogram(
            "reentry_reconcile_duration_seconds", "Wall time of one evaluation: observe, decide, write, act.",
            buckets=RECONCILE_BUCKETS, registry=registry)
        self.leader = Gauge(
            "reentry_leader", "1 while this replica acts on plans (it holds the Lease, or runs without leader "
            "election), else 0.", registry=registry)
        self.cached_objects = Gauge(
            "reentry_cached_objects", "Objects the operator's watch-backed caches hold (pods, endpointslices, "
            "services), by kind.", ["kind"], registry=registry)
        self.cache_relists = Counter(
            "reentry_cache_relists", "Lists of a kind made again because its watch's version had expired "
            "(410 Gone), by kind.", ["kind"], registry=registry)
        self.gc_pause = Histogram(
            "reentry_gc_pause_seconds",
            "Time the operator stood still in one garbage collection, by generation (2: a full one).",
            ["generation"], buckets=GC_BUCKETS, registry=registry)
        self._seen: dict[PlanKey, _Seen] = {}
        # Deleted plans, by when: their evaluation loop may finish one last round after the delete.
        self._deleted: dict[PlanKey, float] = {}

    def watch_caches(self, sizes: Callable[[], dict[str, int]]) -> None:
        """Report ``reentry_cached_objects`` from ``sizes()`` (objects held by kind) at every scrape."""
        def held(kind: str) -> Callable[[], float]:
            return lambda: sizes()[kind]

        for kind in sizes():
            self.cached_objects.labels(kind).set_function(held(kind))

    # -- series bookkeeping ----------------------------------------------------------------------

    def _own(self, key: PlanKey, metric: str, labels: tuple[str, ...]) -> None:
        self._seen.setdefault(key, _Seen()).series.add((metric, labels))

    def _drop(self, key: PlanKey, metric: str, labels: tuple[str, ...]) -> None:
        seen = self._seen.get(key)
        if seen and (metric, labels) in seen.series:
            seen.series.discard((metric, labels))
            getattr(self, metric).remove(*labels)

    def forget(self, namespace: str, name: str) -> None:
        """Remove every series of a deleted plan, so it stops being reported.

        A plan's evaluation loop may finish one last round after the plan is gone, so one last
        evaluation may be recorded afterwards; the plan is remembered as deleted for a while, and records of it
        are ignored until a plan of that name shows up anew (without a status).
        """
        now = time.monotonic()
        self._deleted = {k: t for k, t in self._deleted.items() if now - t < TOMBSTONE_SECONDS}
        self._deleted[(namespace, name)] = now
        seen = self._seen.pop((namespace, name), None)
        for metric, labels in seen.series if seen else ():
            getattr(self, metric).remove(*labels)

    def _gone(self, key: PlanKey, before: RecoveryPlanStatus | None) -> bool:
        if key not in self._deleted:
            return False
        if before is None:  # a new plan of the same name
            del self._deleted[key]
            return False
        return True

    # -- derivation ------------------------------------------------------------------------------

    def record(self, namespace: str, name: str, before: RecoveryPlanStatus | None, decision: Decision) -> None:
        """Fold one evaluation into the metrics: ``before`` is the status it started from."""
        key = (namespace, name)
        if self._gone(key, before):
            return
        seen = self._seen.setdefault(key, _Seen())
        status = decision.status

        if status.phase is not None and self._changed(seen, "phase", key, status.phase):
            for phase in Phase:
                self.phase.labels(*key, phase.value).set(1 if phase == status.phase else 0)
                self._own(key, "phase", (*key, phase.value))

        self._record_stages(seen, before, status)
        self._record_checks(key, seen, status)

        weight = status.traffic.weight if status.traffic else 0
        if self._changed(seen, "weight", key, weight):
            self.weight.labels(*key).set(weight)
            self._own(key, "weight", key)
        self._record_step_backs(key, seen, before, status)

        for release in decision.releases:
            if release.pods:
                self.pods_released.labels(*key, release.service).inc(len(release.pods))
                self._own(key, "pods_released", (*key, release.service))

        if status.restoration is not None and self._changed(seen, "budget", key, status.restoration.exceeded):
            self.budget_exceeded.labels(*key).set(1 if status.restoration.exceeded else 0)
            self._own(key, "budget_exceeded", key)
        self._record_restoration(seen, before, status)

    def _record_stages(self, seen: _Seen, before: RecoveryPlanStatus | None, status: RecoveryPlanStatus) -> None:
        # A stage passes once in a plan's life; one that had passed before this process saw it is not timed.
        seen.stages_passed |= {s.name.value for s in (before.stages if before else []) if s.state == StageState.PASSED}
        for stage in status.stages:
            if stage.state != StageState.PASSED or stage.name.value in seen.stages_passed:
                continue
            seen.stages_passed.add(stage.name.value)
            if stage.startedAt and stage.finishedAt:
                self.stage_duration.labels(stage.name.value).observe(_seconds(stage.startedAt, stage.finishedAt))

    @staticmethod
    def _changed(seen: _Seen, family: str, labels: tuple[str, ...], value: object) -> bool:
        """True (and remembered) when ``value`` differs from what this family last showed for these labels."""
        if seen.shown.get((family, labels), _UNSET) == value:
            return False
        seen.shown[(family, labels)] = value
        return True

    def _record_checks(self, key: PlanKey, seen: _Seen, status: RecoveryPlanStatus) -> None:
        for check in status.checks:
            if check.result is None:
                continue
            base = (*key, check.stage, check.name)
            if not self._changed(seen, "check", base, (check.result, check.observed)):
                continue
            for outcome in Outcome:
                self.check_result.labels(*base, outcome.value).set(1 if outcome == check.result else 0)
                self._own(key, "check_result", (*base, outcome.value))
            value = number(check.observed)
            if value is None:
                self._drop(key, "check_value", base)
            else:
                self.check_value.labels(*base).set(value)
                self._own(key, "check_value", base)

    def _record_step_backs(self, key: PlanKey, seen: _Seen, before: RecoveryPlanStatus | None,
                           status: RecoveryPlanStatus) -> None:
        now = status.traffic.stepBacks if status.traffic else 0
        if seen.step_backs is None:  # first sight of this plan by this process: count from its status
            seen.step_backs = before.traffic.stepBacks if before and before.traffic else 0
            self.step_backs.labels(*key)  # exists from the start at 0, so increase() sees the first one
            self._own(key, "step_backs", key)
        if now > seen.step_backs:
            self.step_backs.labels(*key).inc(now - seen.step_backs)
        seen.step_backs = now  # a fresh ramp counts from 0 again

    def _record_restoration(self, seen: _Seen, before: RecoveryPlanStatus | None, status: RecoveryPlanStatus) -> None:
        restored_at = status.operationallyRestoredAt
        if before is not None and before.operationallyRestoredAt is not None:
            seen.restored = True  # restored before this process saw the plan
        if restored_at is None or status.technicalRecoveryAt is None or seen.restored:
            return
        seen.restored = True
        ready = get_condition(status.conditions, READY)
        if ready is not None and ready.reason == Reason.DRY_RUN:
            return  # a dry run restores nothing
        self.restoration.observe(_seconds(status.technicalRecoveryAt, restored_at))

    # -- the evaluation loop ---------------------------------------------------------------------

    @contextmanager
    def reconciling(self, namespace: str, name: str) -> Iterator[None]:
        """Time one evaluation; count it as an error, by exception type, when it raises (then re-raise)."""
        started = time.monotonic()
        try:
            yield
        except Exception as err:
            if (namespace, name) not in self._deleted:
                self.reconcile_errors.labels(namespace, name, type(err).__name__).inc()
                self._own((namespace, name), "reconcile_errors", (namespace, name, type(err).__name__))
            raise
        finally:
            self.reconcile_duration.observe(time.monotonic() - started)


def _seconds(start: str, end: str) -> float:
    return max(0.0, (parse_time(end) - parse_time(start)).total_seconds())


#: The process-wide metrics the operator serves.
METRICS = Metrics()


def record(namespace: str, name: str, before: RecoveryPlanStatus | None, decision: Decision) -> None:
    """Fold one evaluation into the process-wide metrics (see :meth:`Metrics.record`)."""
    METRICS.record(namespace, name, before, decision)


def forget(namespace: str, name: str) -> None:
    """Remove a deleted plan's series from the process-wide metrics."""
    METRICS.forget(namespace, name)


def serve(port: int, address: str = "0.0.0.0") -> None:
    """Serve /metrics on ``address:port`` from a background thread (prometheus_client's own server).

    Raises OSError (e.g. the port is taken) for the caller to report.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series add count, say little
    start_http_server(port, addr=address, registry=METRICS.registry)
