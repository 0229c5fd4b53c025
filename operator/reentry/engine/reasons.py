"""Every reason the operator gives, in one place: the reasons of its Events and of its conditions.

docs/events.md documents each Event reason with its type (``tests/unit/test_docs_reference.py``
finds every call that emits one, and fails on a reason written anywhere but here). A condition's
reason is the phase's name unless one of these says more. The values are part of the API: alerts,
dashboards and people's ``kubectl get events`` match them, so a value never changes.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # -- the plan as a whole ------------------------------------------------------------------------
    INVALID_SPEC = "InvalidSpec"
    """The spec cannot work as written (or names a namespace that does not grant it): Failed, Stalled."""
    ABORTED = "Aborted"
    RESUMED = "Resumed"
    APPROVED = "Approved"
    AWAITING_APPROVAL = "AwaitingApproval"
    """Condition only: validation passed, the owner's word is missing."""
    BUDGET_EXCEEDED = "BudgetExceeded"
    UNMATCHED_GATED_PODS = "UnmatchedGatedPods"
    VALIDATION_FAILING = "ValidationFailing"
    DRY_RUN = "DryRun"
    """Condition only: a dry run decided what it would do."""
    AS_EXPECTED = "AsExpected"
    """Condition only: Stalled is False."""
    # -- stages ---------------------------------------------------------------------------------------
    STAGE_STARTED = "StageStarted"
    STAGE_PASSED = "StagePassed"
    # -- checks ---------------------------------------------------------------------------------------
    CHECK_FAILED = "CheckFailed"
    CHECK_PASSING = "CheckPassing"
    CHECK_TIMEOUT = "CheckTimeout"
    OVERRIDDEN = "Overridden"
    CHECKS_PASSING = "ChecksPassing"
    """Condition only (ValidationHealthy)."""
    CHECKS_FAILING = "ChecksFailing"
    """Condition only (ValidationHealthy)."""
    CHECKS_OVERRIDDEN = "ChecksOverridden"
    """Condition only (Overridden)."""
    REFERENCES_RESOLVED = "ReferencesResolved"
    """Condition only (PlanReady)."""
    REFERENCES_MISSING = "ReferencesMissing"
    """Condition only (PlanReady)."""
    # -- actions --------------------------------------------------------------------------------------
    ACTION_STARTED = "ActionStarted"
    ACTION_COMPLETED = "ActionCompleted"
    ACTION_FAILED = "ActionFailed"
    DRY_RUN_WOULD_RUN = "DryRunWouldRun"
    # -- services -------------------------------------------------------------------------------------
    SERVICE_RELEASING = "ServiceReleasing"
    PODS_RELEASED = "PodsReleased"
    SERVICE_ATTACHED = "ServiceAttached"
    DRY_RUN_WOULD_RELEASE = "DryRunWouldRelease"
    # -- traffic --------------------------------------------------------------------------------------
    TRAFFIC_STEP = "TrafficStep"
    TRAFFIC_STEP_BACK = "TrafficStepBack"
    TRAFFIC_DRIFT = "TrafficDrift"
    TRAFFIC_ABORTING = "TrafficAborting"
    TRAFFIC_RETURNED = "TrafficReturned"
    TRAFFIC_WRITE_FAILED = "TrafficWriteFailed"
    STEP_HOLD = "StepHold"
    """Condition only: a ramp's step is holding."""
    ANALYSIS_FAILED = "AnalysisFailed"
