"""The plan's status, written by the operator only: the phase and the sets of phases, conditions,
each stage's, service's, check's and action's state, the traffic ramp's, the approval and the
restoration budget, gathered in :class:`RecoveryPlanStatus`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


#: The phases a plan ends in: nothing more happens to it until its spec changes.
FINISHED_PHASES = frozenset({Phase.RESTORED, Phase.FAILED, Phase.ABORTED})
#: The phases of a plan re-entering now (pods released, checks gating, a ramp under way).
MOVING_PHASES = frozenset({Phase.IDENTITY_PRE_WARMING, Phase.STATE_RECONCILIATION, Phase.DEPENDENCY_CONVERGENCE,
                           Phase.TRAFFIC_REENTRY})


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


class FailureClass(StrEnum):
    """Why a check did not pass, in words an on-call engineer acts on."""

    UNREACHABLE = "Unreachable"
    UNAUTHORIZED = "Unauthorized"
    NO_DATA = "NoData"
    THRESHOLD_MISSED = "ThresholdMissed"
    INVALID_CONFIGURATION = "InvalidConfiguration"


class ActionState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class _Status(BaseModel):
    # Status is written by the operator; an older operator's extra fields are ignored, not fatal.
    # The docstring under a field becomes its description (in the CRD and docs/api.md).
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class Condition(_Status):
    type: str
    """Ready, Progressing, Stalled, PlanReady, Overridden or ValidationHealthy."""
    status: str = Field(pattern=r"^(True|False|Unknown)$", description="True, False or Unknown.")
    reason: str
    """A CamelCase reason, e.g. StepHold, CheckTimeout, InvalidSpec."""
    message: str = ""
    """The reason in words."""
    observedGeneration: int | None = None
    """The spec generation the condition was computed from."""
    lastTransitionTime: str
    """When the status last changed (not when the message did)."""


class StageStatus(_Status):
    name: StageName
    """The stage."""
    state: StageState = StageState.PENDING
    """Pending, Running, Passed or Failed."""
    startedAt: str | None = None
    """When the stage started."""
    finishedAt: str | None = None
    """When the stage passed."""
    message: str | None = None
    """What the stage waits for."""


class ServiceStatus(_Status):
    name: str
    """The service's name."""
    state: ServiceState = ServiceState.HELD
    """Held, Releasing or Attached."""
    releasedPods: int = 0
    """Pods whose gate is open."""
    totalPods: int = 0
    """Pods the service's selector matches."""
    heldPods: int = Field(default=0, description="Pods whose readiness gate is still closed.")
    readyEndpoints: int = 0
    """Ready endpoints of its Service."""
    waitingFor: list[str] = Field(default_factory=list, description="Services in dependsOn that are not Attached yet.")
    releaseStartedAt: str | None = None
    """When the first batch was released."""
    lastBatchAt: str | None = None
    """When the latest batch was released."""
    attachedAt: str | None = None
    """When the service became Attached."""
    wouldRelease: int | None = Field(default=None, description="DryRun: pods that would have been released.")


class CheckStatus(_Status):
    """The latest result of one check, with what was observed against what was expected."""

    name: str
    """The check's name."""
    stage: str
    """The section it belongs to: technicalRecovery, a stage, or analysis."""
    kind: str
    """The check kind, e.g. prometheus."""
    result: Outcome | None = None
    """Pass, Fail, NoData or Error."""
    observed: str | None = None
    """What the probe saw (never secret material)."""
    threshold: str | None = None
    """What it was compared with."""
    message: str | None = None
    """Details of the result."""
    failureClass: FailureClass | None = Field(default=None, description="Why the check does not pass.")
    since: str | None = Field(default=None, description="When the current result began.")
    passingSince: str | None = Field(default=None, description="Start of the current continuous Pass.")
    firstEvaluatedAt: str | None = None
    """When the check was first probed (its timeout runs from here)."""
    overridden: bool = False
    """The check counts as passed because of spec.overrides."""
    overrideReason: str | None = None
    """The override's reason."""


class ActionStatus(_Status):
    """One action's progress; ``record`` carries what it needs to continue or undo (never secrets)."""

    name: str
    """The action's name."""
    stage: str
    """The stage it belongs to."""
    kind: str
    """The action kind, e.g. job."""
    state: ActionState = ActionState.PENDING
    """Pending, Running, Succeeded or Failed."""
    startedAt: str | None = None
    """When it started."""
    finishedAt: str | None = None
    """When it ended."""
    message: str | None = None
    """Progress or the cause of a failure."""
    record: dict[str, Any] = Field(
        default_factory=dict, description="What the action needs to continue or be undone (never secrets).")


class ApprovalStatus(_Status):
    by: str
    """Who approved (the API's user name when set by the kubectl plugin)."""
    at: str
    """When the approval was recorded."""
    comment: str | None = None
    """The approver's comment."""


#: The most entries ``status.timeline`` keeps: the oldest go first (``status.timelineDropped`` counts them).
TIMELINE_LIMIT = 200


class TimelineEntry(_Status):
    at: str
    """When the operator decided it (RFC 3339, milliseconds)."""
    reason: str
    """The Event reason (e.g. StagePassed, CheckFailed, TrafficStepBack, Approved) or the phase entered."""
    message: str
    """What happened, as the Event said it: observed values, who approved, why traffic stepped back."""
    warning: bool | None = None
    """True for what needs attention (a check failing, a step back, a pause); omitted otherwise."""
    subject: str | None = None
    """What it is about: a stage, service, check, action or traffic target's name."""


class TrafficState(StrEnum):
    APPLYING = "Applying"          # the weight is written; waiting until every target took effect
    HOLDING = "Holding"            # every target took effect; analysis runs until holdUntil
    COOLING_DOWN = "CoolingDown"   # stepped back after a breach; waiting before the next try
    ABORTING = "Aborting"          # walking back to weight 0
    DONE = "Done"                  # the last step held (or the ramp reached its max)


class TargetStatus(_Status):
    """One routing object: the weight last written and whether it shows it and took effect."""

    name: str
    """The target, e.g. httpRoute/checkout."""
    weight: int | None = Field(default=None, description="The weight last written to it.")
    inPlace: bool = False
    """The object shows the weight's values."""
    effective: bool = False
    """The change took effect (an HTTPRoute: accepted by every parent gateway)."""
    shows: str | None = Field(default=None, description="What the object shows, e.g. primary=25 dr=75.")
    message: str | None = None
    """What the target waits for."""


class WeightChange(_Status):
    weight: int
    """The new weight."""
    at: str
    """When it was decided."""
    reason: str
    """Why: a step, a step back, an abort."""


class TrafficStatus(_Status):
    step: int = Field(default=0, description="1-based step under way; 0 before the first.")
    steps: int = 0
    """How many steps the ramp has (0 for an adaptive ramp)."""
    weight: int = 0
    """Percent of traffic sent to the restored system (printer column)."""
    state: TrafficState | None = None
    """Applying, Holding, CoolingDown, Aborting or Done."""
    holdUntil: str | None = None
    """When the current hold ends."""
    coolDownUntil: str | None = None
    """When the cool-down after a step back ends."""
    stepBacks: int = 0
    """Step-backs since the ramp started (or was resumed)."""
    targets: list[TargetStatus] = Field(
        default_factory=list, description="Each routing object: weight written, shown, in effect.")
    history: list[WeightChange] = Field(default_factory=list, description="Weight changes, newest last (bounded).")


class BudgetStatus(_Status):
    """The restoration budget: technical recovery -> operational restoration."""

    budget: str
    """spec.restorationBudget."""
    deadline: str
    """Technical recovery plus the budget."""
    exceeded: bool = False
    """The deadline passed before restoration."""
    elapsed: str | None = Field(default=None, description="Set when the plan is restored.")


class RecoveryPlanStatus(_Status):
    observedGeneration: int | None = None
    """The spec generation this status was computed from."""
    phase: Phase | None = None
    """Where the plan stands (printer column): Pending, Armed, a stage's phase, Observing, Restored, ..."""
    stage: StageName | None = Field(default=None, description="The stage under way (printer column).")
    message: str | None = None
    """What the plan is doing or waiting for, in words."""
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Progressing, Stalled (kstatus); PlanReady, Overridden, ...")
    stages: list[StageStatus] = Field(default_factory=list, description="One entry per stage, in the fixed order.")
    checks: list[CheckStatus] = Field(
        default_factory=list, description="The latest result of every check that has been evaluated.")
    actions: list[ActionStatus] = Field(
        default_factory=list, description="Every action's progress and what it recorded.")
    services: list[ServiceStatus] = Field(
        default_factory=list, description="One entry per service of the dependency graph.")
    unmatchedGatedPods: list[str] = Field(
        default_factory=list, description="Gated pods in the namespace that no plan's services select.")
    traffic: TrafficStatus | None = None
    """The traffic ramp: step, weight, hold, targets, history."""
    startedAt: str | None = None
    """When the plan left Armed."""
    technicalRecoveryAt: str | None = None
    """When technical recovery was declared (the start annotation, or technicalRecovery's checks passing)."""
    operationallyRestoredAt: str | None = None
    """When every stage had passed."""
    restoration: BudgetStatus | None = None
    """The restoration budget against the time taken."""
    approval: ApprovalStatus | None = None
    """Who approved at the finish line, when, and why."""
    observingSince: str | None = None
    """Start of the current continuous healthy watch (observeFor)."""
    pausedFrom: Phase | None = Field(default=None, description="The phase a paused plan resumes into.")
    pauseReason: str | None = None
    """Why the plan is paused."""
    lastResumeToken: str | None = Field(default=None, description="The reentry.dev/resume value last acted on.")
    timeline: list[TimelineEntry] = Field(
        default_factory=list,
        description="The plan's record, oldest first: every transition the operator announced (stages, checks, "
        "services, actions, traffic, pauses, approvals), written with the status it led to, so it survives "
        "restarts and outlives Events. At most 200 entries.")
    timelineDropped: int | None = None
    """How many of the oldest entries were dropped to keep the timeline within its limit."""
