"""What the shell observed in the cluster, and what it must do: plain immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Observations:
    """Everything one evaluation needs from outside, gathered before it runs."""

    services: dict[str, ServiceObservation] = field(default_factory=dict)
    start_requested: bool = False


@dataclass(frozen=True)
class ReleasePods:
    """Set the readiness-gate condition True on these pods."""

    service: str
    pods: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to emit on the plan."""

    reason: str
    message: str
    warning: bool = False
