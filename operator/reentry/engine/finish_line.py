"""The validation stage, the finish line: checks passing, the owner's approval, then ``observeFor``.

Operational restoration is declared here, not by the traffic ramp's end: the validation checks
must pass, the owner must approve when the plan requires it, and with ``observeFor`` the checks
must keep passing for that long (phase Observing; a failure restarts the window).
"""

from __future__ import annotations

from reentry.engine import conditions
from reentry.engine.evaluation import Evaluation
from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_time, parse_time
from reentry.model import ApprovalStatus, Phase, parse_duration


def validation_stage(run: Evaluation, satisfied: bool) -> bool:
    """Advance the validation stage given whether its checks are satisfied; True when it passed."""
    rules = run.spec.validation
    if run.phase == Phase.OBSERVING:
        was_healthy = run.status.observingSince is not None
        run.set(conditions=conditions.set_flag(
            run.status.conditions, conditions.VALIDATION_HEALTHY, satisfied,
            Reason.CHECKS_PASSING if satisfied else Reason.CHECKS_FAILING,
            "validation checks pass" if satisfied else run.waiting_on(rules.checks), run.generation, run.stamp))
        if not satisfied:
            if was_healthy:
                run.emit(Reason.VALIDATION_FAILING, f"validation failed while observing: "
                                                    f"{run.waiting_on(rules.checks)}; the observeFor window "
                                                    "restarts once it passes again", warning=True)
            run.set(observingSince=None, message=f"observing: waiting for {run.waiting_on(rules.checks)}")
            return False
    elif not satisfied:
        run.set(message=f"validation: waiting for {run.waiting_on(rules.checks)}")
        return False

    if rules.approval.required and run.status.approval is None:
        approval = run.observed.controls.approval
        if approval is None:
            run.reason = Reason.AWAITING_APPROVAL
            run.set(message=f"validation: waiting for approval by {run.spec.owner.team} "
                            "(annotation reentry.dev/approve)")
            return False
        run.set(approval=ApprovalStatus(by=approval.by, at=run.stamp, comment=approval.comment))
        comment = f": {approval.comment}" if approval.comment else ""
        run.emit(Reason.APPROVED, f"approved by {approval.by}{comment}")

    if rules.observeFor:
        window = parse_duration(rules.observeFor)
        if run.status.observingSince is None:
            run.set(phase=Phase.OBSERVING, observingSince=run.stamp)
        since = parse_time(run.status.observingSince or run.stamp)
        if run.now - since < window:
            run.set(message=f"observing until {format_time(since + window)}: validation checks must keep passing")
            return False
    return True


def restored(run: Evaluation) -> None:
    """Every stage passed: operationally restored (a dry run says what it would have done)."""
    message = ("dry run complete: every stage would pass; nothing was changed" if run.dry_run
               else "operationally restored: every stage passed")
    run.set(phase=Phase.RESTORED, stage=None, operationallyRestoredAt=run.stamp, message=message)
    if run.dry_run:
        run.reason = Reason.DRY_RUN
