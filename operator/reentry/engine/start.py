"""Before the start: the plan's references checked, then the start (by annotation, or on technical recovery)."""

from __future__ import annotations

from reentry.engine import conditions, preflight
from reentry.engine.evaluation import Evaluation
from reentry.engine.reasons import Reason
from reentry.engine.sections import PHASE_OF_STAGE, STAGE_ORDER, TECHNICAL_RECOVERY
from reentry.model import Phase, StartPolicy


def before_start(run: Evaluation) -> None:
    """Report whether every reference resolves (PlanReady); start when the start policy says so, else Armed."""
    found = preflight.problems(run.spec, run.observed)
    run.set(conditions=conditions.set_flag(
        run.status.conditions, conditions.PLAN_READY, not found,
        Reason.REFERENCES_RESOLVED if not found else Reason.REFERENCES_MISSING,
        "every reference resolves" if not found else "; ".join(found), run.generation, run.stamp))
    if run.spec.start == StartPolicy.MANUAL:
        if run.observed.controls.start:
            start(run)
        else:
            run.set(phase=Phase.ARMED, message="armed: waiting for the reentry.dev/start annotation (start: Manual)")
        return
    specs = list(run.spec.technicalRecovery.checks)
    satisfied, _ = run.evaluate_checks(TECHNICAL_RECOVERY, specs)
    if satisfied:
        start(run)
    else:
        run.set(phase=Phase.ARMED, message=f"armed: waiting for technical recovery: {run.waiting_on(specs)}")


def start(run: Evaluation) -> None:
    """The first stage begins; technical recovery is stamped (once: a restart keeps the first time)."""
    run.set(phase=PHASE_OF_STAGE[STAGE_ORDER[0]], startedAt=run.stamp, message=None,
            technicalRecoveryAt=run.status.technicalRecoveryAt or run.stamp)
