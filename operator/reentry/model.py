"""The RecoveryPlan API (reentry.dev/v1alpha1) as pydantic models.

These models are the source of truth: the CRD in ``crds/`` is generated from them
(``python -m reentry.crd``) and a unit test fails when the two drift apart.
Field names follow ``shared/design/RECOVERYPLAN.md``; names marked fixed there are kept exactly.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

GROUP = "reentry.dev"
VERSION = "v1alpha1"
KIND = "RecoveryPlan"
PLURAL = "recoveryplans"
SINGULAR = "recoveryplan"
SHORT_NAME = "rplan"
API_VERSION = f"{GROUP}/{VERSION}"

#: The pod readiness-gate condition type the operator sets to True to let a pod in.
READINESS_GATE = "reentry.dev/released"
#: Annotation a person (or a GitOps tool) sets to start a plan whose ``start`` is ``Manual``.
START_ANNOTATION = "reentry.dev/start"

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration such as ``90s``, ``1h30m`` or ``250ms``."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: use units ms, s, m, h (e.g. 10s, 1h30m)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


Duration = Annotated[str, Field(pattern=DURATION_PATTERN, description="A duration such as 10s, 5m or 1h30m.")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StartPolicy(StrEnum):
    MANUAL = "Manual"
    ON_TECHNICAL_RECOVERY = "OnTechnicalRecovery"


class Owner(_Model):
    """Who declares operational restoration at the finish line."""

    team: str = Field(min_length=1, description="The owning team.")
    contact: str | None = Field(default=None, description="Where to reach them, e.g. a chat channel.")


class LabelSelectorRequirement(_Model):
    key: str
    operator: str = Field(pattern=r"^(In|NotIn|Exists|DoesNotExist)$")
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector for the pods of one service."""

    matchLabels: dict[str, str] = Field(default_factory=dict)
    matchExpressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class Release(_Model):
    """How the readiness gate is lifted on a service's pods."""

    batch: int | str = Field(
        default="100%",
        description="Pods released per batch: a count (2) or a percentage of the service's pods (25%).",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    interval: Duration = Field(default="0s", description="Wait between two batches.")

    @field_validator("batch")
    @classmethod
    def _batch_is_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("batch must be at least 1")
            return value
        if not re.fullmatch(r"[1-9][0-9]*%|100%", value) or int(value[:-1]) > 100:
            raise ValueError(f"batch {value!r} must be a count or a percentage from 1% to 100%")
        return value


class ServiceSpec(_Model):
    """One node of the dependency graph: pods held by the readiness gate and the Service they join."""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Unique name within the plan.")
    selector: LabelSelector = Field(description="Selects the pods that carry the readiness gate.")
    service: str = Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="The Service whose EndpointSlices must show ready endpoints.",
    )
    dependsOn: list[str] = Field(default_factory=list, description="Services that must be Attached first.")
    minReadyEndpoints: int = Field(default=1, ge=1, description="Ready endpoints that make the service Attached.")
    release: Release = Field(default_factory=Release)


class RecoveryPlanSpec(_Model):
    """How one restored system re-enters service."""

    owner: Owner
    restorationBudget: Duration | None = Field(
        default=None, description="Target time from technical recovery to operational restoration."
    )
    start: StartPolicy = Field(
        default=StartPolicy.MANUAL,
        description=f"Manual waits for the {START_ANNOTATION} annotation; OnTechnicalRecovery starts at once "
        "when technical recovery is reached.",
    )
    services: list[ServiceSpec] = Field(min_length=1, description="The dependency graph, re-attached bottom-up.")


# ---- status -------------------------------------------------------------------------------------


class Phase(StrEnum):
    PENDING = "Pending"
    ARMED = "Armed"
    IDENTITY_PRE_WARMING = "IdentityPreWarming"
    STATE_RECONCILIATION = "StateReconciliation"
    DEPENDENCY_CONVERGENCE = "DependencyConvergence"
    TRAFFIC_REENTRY = "TrafficReentry"
    VALIDATING = "Validating"
    OBSERVING = "Observing"
    RESTORED = "Restored"
    PAUSED = "Paused"
    FAILED = "Failed"
    ABORTED = "Aborted"


class StageName(StrEnum):
    IDENTITY = "identity"
    STATE = "state"
    DEPENDENCIES = "dependencies"
    TRAFFIC = "traffic"
    VALIDATION = "validation"


class StageState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class ServiceState(StrEnum):
    HELD = "Held"
    RELEASING = "Releasing"
    ATTACHED = "Attached"


class Condition(_Model):
    type: str
    status: str = Field(pattern=r"^(True|False|Unknown)$")
    reason: str
    message: str = ""
    observedGeneration: int | None = None
    lastTransitionTime: str


class StageStatus(_Model):
    name: StageName
    state: StageState = StageState.PENDING
    startedAt: str | None = None
    finishedAt: str | None = None
    message: str | None = None


class ServiceStatus(_Model):
    name: str
    state: ServiceState = ServiceState.HELD
    releasedPods: int = 0
    totalPods: int = 0
    readyEndpoints: int = 0
    waitingFor: list[str] = Field(default_factory=list)
    releaseStartedAt: str | None = None
    lastBatchAt: str | None = None
    attachedAt: str | None = None


class TrafficStatus(_Model):
    step: int = 0
    steps: int = 0
    weight: int = 0
    holdUntil: str | None = None


class RecoveryPlanStatus(_Model):
    observedGeneration: int | None = None
    phase: Phase | None = None
    stage: StageName | None = Field(default=None, description="The stage under way (printer column).")
    message: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    stages: list[StageStatus] = Field(default_factory=list)
    services: list[ServiceStatus] = Field(default_factory=list)
    traffic: TrafficStatus | None = None
    startedAt: str | None = None
    technicalRecoveryAt: str | None = None
    operationallyRestoredAt: str | None = None


class RecoveryPlan(_Model):
    """The whole custom resource, as the CRD describes it."""

    apiVersion: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RecoveryPlanSpec
    status: RecoveryPlanStatus | None = None
