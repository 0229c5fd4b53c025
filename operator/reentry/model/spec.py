"""The plan's spec: owner, start policy, the services of the dependency graph and how their pods are
released, the stages, the finish line (validation, approval, overrides), :class:`RecoveryPlanSpec`,
and :class:`RecoveryPlan`, the whole custom resource.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator

from reentry.model.actions import Action
from reentry.model.checks import Check
from reentry.model.common import API_VERSION, DNS_LABEL_PATTERN, KIND, START_ANNOTATION, Duration, LabelSelector, _Model
from reentry.model.status import RecoveryPlanStatus
from reentry.model.traffic import TrafficStage


class StartPolicy(StrEnum):
    MANUAL = "Manual"
    ON_TECHNICAL_RECOVERY = "OnTechnicalRecovery"


class Owner(_Model):
    """Who declares operational restoration at the finish line."""

    team: str = Field(min_length=1, description="The owning team.")
    contact: str | None = Field(default=None, description="Where to reach them, e.g. a chat channel.")


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


class Stage(_Model):
    """A stage's gates: its actions run first, in order, then all its checks must pass."""

    checks: list[Check] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)


class ChecksOnly(_Model):
    checks: list[Check] = Field(default_factory=list)


class Approval(_Model):
    required: bool = Field(default=False, description="The owner must approve before the plan is restored.")
    groups: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list, max_length=32,
        description="Only members of one of these groups (as the API server authenticates the caller) may approve. "
                    "Enforced at admission by the chart's approval policy (docs/controls.md), not by the operator.")


class ValidationStage(_Model):
    """The finish line: checks, the owner's approval, and a watch before Restored."""

    checks: list[Check] = Field(default_factory=list)
    approval: Approval = Field(default_factory=Approval)
    observeFor: Duration | None = Field(default=None, description="After approval, keep watching this long.")


class Override(_Model):
    """Count a named check as passed, with the reason on record."""

    check: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Mode(StrEnum):
    ENFORCE = "Enforce"
    DRY_RUN = "DryRun"


class RecoveryPlanSpec(_Model):
    """How one restored system re-enters service."""

    owner: Owner
    restorationBudget: Duration | None = Field(
        default=None, description="Target time from technical recovery to operational restoration."
    )
    mode: Mode = Field(default=Mode.ENFORCE, description="DryRun evaluates and reports everything, changes nothing.")
    start: StartPolicy = Field(
        default=StartPolicy.MANUAL,
        description=f"Manual waits for the {START_ANNOTATION} annotation; OnTechnicalRecovery starts when "
        "technicalRecovery's checks pass (at once when it has none).",
    )
    technicalRecovery: ChecksOnly = Field(default_factory=ChecksOnly)
    services: list[ServiceSpec] = Field(min_length=1, description="The dependency graph, re-attached bottom-up.")
    identity: Stage = Field(default_factory=Stage)
    state: Stage = Field(default_factory=Stage)
    dependencies: Stage = Field(default_factory=Stage)
    traffic: TrafficStage = Field(default_factory=TrafficStage)
    validation: ValidationStage = Field(default_factory=ValidationStage)
    overrides: list[Override] = Field(default_factory=list)


class RecoveryPlan(_Model):
    """The whole custom resource, as the CRD describes it."""

    apiVersion: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RecoveryPlanSpec
    status: RecoveryPlanStatus | None = None
