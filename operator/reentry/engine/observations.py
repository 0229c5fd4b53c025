"""What the shell observed in the cluster, and what it must do: plain immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reentry.model import ActionState, FailureClass, Outcome


@dataclass(frozen=True)
class PodObservation:
    """One pod selected by a service."""

    name: str
    gated: bool
    """The pod lists the ``reentry.dev/released`` readiness gate in its spec."""
    released: bool
    """The gate's condition is True on the pod (or the pod carries no gate)."""


@dataclass(frozen=True)
class ServiceObservation:
    """A service's pods and the ready endpoints of its Service."""

    pods: tuple[PodObservation, ...] = ()
    ready_endpoints: int = 0
    service_exists: bool = True


@dataclass(frozen=True)
class ApprovalNote:
    """The owner's approval as the ``reentry.dev/approve`` annotation carries it (the spec's rule is
    ``model.Approval``, the approval recorded in status ``model.ApprovalStatus``)."""

    by: str
    comment: str | None = None


@dataclass(frozen=True)
class Controls:
    """What people asked for through the plan's annotations (see docs/controls.md)."""

    start: bool = False
    paused: bool = False
    resume_token: str | None = None
    abort_reason: str | None = None
    approval: ApprovalNote | None = None


@dataclass(frozen=True)
class CheckResult:
    """What one probe of a check found. ``observed`` and ``threshold`` are for people; never secrets."""

    outcome: Outcome
    observed: str | None = None
    threshold: str | None = None
    message: str = ""
    failure: FailureClass | None = None
    """Why it did not pass; left None, the engine derives it from the outcome (see engine.check_rules)."""
    observed_at: datetime | None = None
    """When the probe saw it (checks are probed on their own cadence); None: at the evaluation."""


@dataclass(frozen=True)
class TargetObservation:
    """One traffic target as read back, judged against the weight the plan last decided."""

    found: bool
    in_place: bool
    """The object shows the values of that weight (for every rule/key the target manages)."""
    effective: bool
    """The change took effect (an HTTPRoute: every parent Accepted at the current generation)."""
    shows: str = ""
    """What the object shows, for people: e.g. ``checkout-primary=25 checkout-dr=75``."""
    message: str = ""


@dataclass(frozen=True)
class ActionProgress:
    """Where an action stands after one execution step.

    ``record`` is persisted in status and handed back on the next step (a Job's name, the values a
    patch replaced), so a restarted operator continues instead of starting over.
    """

    state: ActionState
    record: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Observations:
    """Everything one evaluation needs from outside, gathered before it runs."""

    services: dict[str, ServiceObservation] = field(default_factory=dict)
    controls: Controls = field(default_factory=Controls)
    checks: dict[str, CheckResult] = field(default_factory=dict)
    """Results of the checks the engine asked for, by check name."""
    actions: dict[str, ActionProgress] = field(default_factory=dict)
    """Progress of the actions that were executed since the last evaluation, by action name."""
    missing_refs: tuple[str, ...] = ()
    """Objects the plan refers to that do not exist (gathered only before the plan starts)."""
    unmatched_gated_pods: tuple[str, ...] = ()
    """Gated pods in the namespace that no plan's services select."""
    targets: dict[str, TargetObservation] = field(default_factory=dict)
    """Traffic targets by label, read against ``status.traffic.weight`` (only during the traffic stage)."""


@dataclass(frozen=True)
class ReleasePods:
    """Set the readiness-gate condition True on these pods."""

    service: str
    pods: tuple[str, ...]


@dataclass(frozen=True)
class SetWeight:
    """Write this weight to these traffic targets (by label)."""

    weight: int
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to emit on the plan."""

    reason: str
    message: str
    warning: bool = False
    subject: str | None = None
    """What it is about, for the timeline: a stage, service, check, action or traffic target's name."""
