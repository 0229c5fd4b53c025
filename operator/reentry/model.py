"""The RecoveryPlan API (reentry.dev/v1alpha1) as pydantic models.

These models are the source of truth: the CRD in ``crds/`` is generated from them
(``python -m reentry.crd``) and a unit test fails when the two drift apart.
Field names follow ``shared/design/RECOVERYPLAN.md``; names marked fixed there are kept exactly.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GROUP = "reentry.dev"
VERSION = "v1alpha1"
KIND = "RecoveryPlan"
PLURAL = "recoveryplans"
SINGULAR = "recoveryplan"
SHORT_NAME = "rplan"
API_VERSION = f"{GROUP}/{VERSION}"

#: The pod readiness-gate condition type the operator sets to True to let a pod in.
READINESS_GATE = "reentry.dev/released"
#: Control annotations (docs/controls.md). Each is idempotent: setting the same value twice acts once.
START_ANNOTATION = "reentry.dev/start"
PAUSED_ANNOTATION = "reentry.dev/paused"
RESUME_ANNOTATION = "reentry.dev/resume"
ABORT_ANNOTATION = "reentry.dev/abort"
APPROVE_ANNOTATION = "reentry.dev/approve"

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


# ---- checks and actions -------------------------------------------------------------------------

Scalar = str | int | float | bool


class Comparison(_Model):
    """How an observed value is judged: any combination of equals, min and max."""

    equals: str | None = Field(default=None, description="Passes when the value, as text, equals this.")
    min: float | None = Field(default=None, description="Passes when the value is at least this.")
    max: float | None = Field(default=None, description="Passes when the value is at most this.")


class ObjectRef(_Model):
    """Any Kubernetes object, in the plan's namespace unless another is named."""

    apiVersion: str = Field(min_length=1, description="e.g. apps/v1, v1, gateway.networking.k8s.io/v1")
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None


class WorkloadCheck(_Model):
    """A Deployment or StatefulSet has rolled out: current generation observed, enough replicas available."""

    kind: str = Field(default="Deployment", pattern=r"^(Deployment|StatefulSet)$")
    name: str = Field(min_length=1)
    minAvailable: int | None = Field(default=None, ge=0, description="Defaults to spec.replicas.")


class EndpointsCheck(_Model):
    """A Service shows enough ready endpoints in its EndpointSlices."""

    service: str = Field(min_length=1)
    minReady: int = Field(default=1, ge=0)


class ResourceCheck(ObjectRef, Comparison):
    """A field of any object, by a path such as .status.conditions[type=Ready].status or .spec.replicas."""

    path: str = Field(pattern=r"^\.", description="Dotted path; [n] indexes a list, [key=value] selects an item.")


class LeaseTarget(_Model):
    """coordination.k8s.io Leases: those named plus those selected; with neither, every Lease of the namespace."""

    names: list[str] = Field(default_factory=list)
    selector: LabelSelector | None = None
    namespace: str | None = None


class LeasesCheck(LeaseTarget):
    """No selected Lease is held by a pod that no longer exists (a stale leader from before the outage)."""


_CHECK_KINDS = ("workload", "endpoints", "resource", "leases")
_ACTION_KINDS = ("releaseLeases", "patch", "job")


def _exactly_one(kinds: tuple[str, ...]) -> dict[str, Any]:
    """A structural ``oneOf`` that makes the API server refuse zero or several kinds in one item."""
    return {"oneOf": [{"required": [k]} for k in kinds]}


class OnTimeout(StrEnum):
    PAUSE = "Pause"
    FAIL = "Fail"


class _OneKind(_Model):
    """A named item that uses exactly one of its kinds (a check or an action)."""

    _kinds: ClassVar[tuple[str, ...]] = ()
    _what: ClassVar[str] = ""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Unique within the plan.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        chosen = [k for k in self._kinds if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"{self._what} {self.name!r} needs exactly one of {', '.join(self._kinds)} "
                             f"(got {', '.join(chosen) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The name of the kind this item uses."""
        return next(k for k in self._kinds if getattr(self, k) is not None)


class Check(_OneKind):
    """One gate of a stage: exactly one kind, optionally held stable and bounded in time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(_CHECK_KINDS))
    _kinds = _CHECK_KINDS
    _what = "check"

    workload: WorkloadCheck | None = None
    endpoints: EndpointsCheck | None = None
    resource: ResourceCheck | None = None
    leases: LeasesCheck | None = None
    stableFor: Duration | None = Field(default=None, description="Must pass continuously this long.")
    timeout: Duration | None = Field(default=None, description="Give up waiting after this long.")
    onTimeout: OnTimeout = Field(default=OnTimeout.PAUSE, description="Pause (a person decides) or Fail.")


class PatchAction(ObjectRef):
    """A JSON merge patch on any object; the values it replaces are kept in status for undo."""

    patch: dict[str, Any] = Field(description="The merge patch.")


class JobAction(_Model):
    """Run a Job to completion; its failure message lands in status."""

    spec: dict[str, Any] = Field(description="A batch/v1 JobSpec.")


class Action(_OneKind):
    """Something a stage does once, in order, before its checks are evaluated."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(_ACTION_KINDS))
    _kinds = _ACTION_KINDS
    _what = "action"

    releaseLeases: LeaseTarget | None = None
    patch: PatchAction | None = None
    job: JobAction | None = None


class Stage(_Model):
    """A stage's gates: its actions run first, in order, then all its checks must pass."""

    checks: list[Check] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)


class ChecksOnly(_Model):
    checks: list[Check] = Field(default_factory=list)


class Approval(_Model):
    required: bool = Field(default=False, description="The owner must approve before the plan is restored.")


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
    traffic: ChecksOnly = Field(default_factory=ChecksOnly)
    validation: ValidationStage = Field(default_factory=ValidationStage)
    overrides: list[Override] = Field(default_factory=list)


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


class Outcome(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    NO_DATA = "NoData"
    ERROR = "Error"


class ActionState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class _Status(BaseModel):
    # Status is written by the operator; an older operator's extra fields are ignored, not fatal.
    model_config = ConfigDict(extra="ignore")


class Condition(_Status):
    type: str
    status: str = Field(pattern=r"^(True|False|Unknown)$")
    reason: str
    message: str = ""
    observedGeneration: int | None = None
    lastTransitionTime: str


class StageStatus(_Status):
    name: StageName
    state: StageState = StageState.PENDING
    startedAt: str | None = None
    finishedAt: str | None = None
    message: str | None = None


class ServiceStatus(_Status):
    name: str
    state: ServiceState = ServiceState.HELD
    releasedPods: int = 0
    totalPods: int = 0
    heldPods: int = Field(default=0, description="Pods whose readiness gate is still closed.")
    readyEndpoints: int = 0
    waitingFor: list[str] = Field(default_factory=list)
    releaseStartedAt: str | None = None
    lastBatchAt: str | None = None
    attachedAt: str | None = None
    wouldRelease: int | None = Field(default=None, description="DryRun: pods that would have been released.")


class CheckStatus(_Status):
    """The latest result of one check, with what was observed against what was expected."""

    name: str
    stage: str
    kind: str
    result: Outcome | None = None
    observed: str | None = None
    threshold: str | None = None
    message: str | None = None
    since: str | None = Field(default=None, description="When the current result began.")
    passingSince: str | None = Field(default=None, description="Start of the current continuous Pass.")
    firstEvaluatedAt: str | None = None
    overridden: bool = False
    overrideReason: str | None = None


class ActionStatus(_Status):
    """One action's progress; ``record`` carries what it needs to continue or undo (never secrets)."""

    name: str
    stage: str
    kind: str
    state: ActionState = ActionState.PENDING
    startedAt: str | None = None
    finishedAt: str | None = None
    message: str | None = None
    record: dict[str, Any] = Field(default_factory=dict)


class ApprovalStatus(_Status):
    by: str
    at: str
    comment: str | None = None


class TrafficStatus(_Status):
    step: int = 0
    steps: int = 0
    weight: int = 0
    holdUntil: str | None = None


class BudgetStatus(_Status):
    """The restoration budget: technical recovery -> operational restoration."""

    budget: str
    deadline: str
    exceeded: bool = False
    elapsed: str | None = Field(default=None, description="Set when the plan is restored.")


class RecoveryPlanStatus(_Status):
    observedGeneration: int | None = None
    phase: Phase | None = None
    stage: StageName | None = Field(default=None, description="The stage under way (printer column).")
    message: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    stages: list[StageStatus] = Field(default_factory=list)
    checks: list[CheckStatus] = Field(default_factory=list)
    actions: list[ActionStatus] = Field(default_factory=list)
    services: list[ServiceStatus] = Field(default_factory=list)
    unmatchedGatedPods: list[str] = Field(
        default_factory=list, description="Gated pods in the namespace that no plan's services select.")
    traffic: TrafficStatus | None = None
    startedAt: str | None = None
    technicalRecoveryAt: str | None = None
    operationallyRestoredAt: str | None = None
    restoration: BudgetStatus | None = None
    approval: ApprovalStatus | None = None
    observingSince: str | None = None
    pausedFrom: Phase | None = Field(default=None, description="The phase a paused plan resumes into.")
    pauseReason: str | None = None
    lastResumeToken: str | None = Field(default=None, description="The reentry.dev/resume value last acted on.")


class RecoveryPlan(_Model):
    """The whole custom resource, as the CRD describes it."""

    apiVersion: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RecoveryPlanSpec
    status: RecoveryPlanStatus | None = None
