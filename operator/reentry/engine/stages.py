"""The stage walk: from the current stage onwards, as far as each stage passes, in the fixed order.

Every stage runs the same way (its actions once each, in order, then its checks folded in; a check
that timed out pauses or fails the plan) and then asks its own rule, from :data:`RULES`, whether it
passed: the first two stages need their checks only, dependencies also every service Attached
(released bottom-up), traffic a complete ramp, validation the finish line (``engine.finish_line``).
"""

from __future__ import annotations

from collections.abc import Callable

from reentry.engine import action_steps, conditions, finish_line, traffic
from reentry.engine.evaluation import Evaluation, current_stage
from reentry.engine.reasons import Reason
from reentry.engine.sections import ANALYSIS, PHASE_OF_STAGE, section_actions, section_checks
from reentry.model import ActionState, Check, OnTimeout, Phase, ServiceState, StageName, StageState

#: A stage's rule: given whether its checks are satisfied, whether it passed. While it does not,
#: the rule says what the stage waits for in the plan's message.
Rule = Callable[[Evaluation, StageName, bool], bool]


def walk(run: Evaluation) -> None:
    """Run the current stage, and the next ones as long as each passes at once."""
    while run.phase in conditions.RUNNING_PHASES:
        name = current_stage(run.status)
        if name is None:
            break
        stage = run.stage(name)
        if stage.state == StageState.PENDING:
            stage = stage.model_copy(update={"state": StageState.RUNNING, "startedAt": run.stamp})
            run.put_stage(stage)
            run.emit(Reason.STAGE_STARTED, f"stage {name.value} started", subject=name.value)
        if run.phase != Phase.OBSERVING:
            run.set(phase=PHASE_OF_STAGE[name])
        run.set(stage=name)
        if not run_stage(run, name):
            break
        run.put_stage(stage.model_copy(update={"state": StageState.PASSED, "finishedAt": run.stamp, "message": None}))
        run.emit(Reason.STAGE_PASSED, f"stage {name.value} passed", subject=name.value)
        if current_stage(run.status) is None:
            finish_line.restored(run)


def run_stage(run: Evaluation, name: StageName) -> bool:
    """Advance one stage; True when it passed."""
    outcome = action_steps.step(section_actions(run.spec, name.value), name.value,
                                {a.name: a for a in run.status.actions}, run.observed.actions, run.now, run.dry_run)
    run.store_actions(outcome.statuses)
    run.events += outcome.events
    if outcome.failed is not None:
        run.fail(Reason.ACTION_FAILED, f"{name.value} action {outcome.failed.name} failed: {outcome.failed.message}")
        return False
    if not outcome.done:
        running = next(s.name for s in outcome.statuses if s.state != ActionState.SUCCEEDED)
        run.set(message=f"{name.value}: running action {running}")
        return False
    satisfied, timed_out = run.evaluate_checks(name.value, section_checks(run.spec, name.value))
    if timed_out:
        timeout(run, name, timed_out)
        return False
    return RULES[name](run, name, satisfied)


def timeout(run: Evaluation, stage: StageName, timed_out: list[Check]) -> None:
    """Checks ran out of time: the plan fails if one says ``onTimeout: Fail``, else it pauses."""
    names = ", ".join(c.name for c in timed_out)
    message = f"{stage.value} check {names} timed out ({run.waiting_on(timed_out)})"
    if any(c.onTimeout == OnTimeout.FAIL for c in timed_out):
        run.fail(Reason.CHECK_TIMEOUT, message)
    else:
        run.pause(message, Reason.CHECK_TIMEOUT)
        run.emit(Reason.CHECK_TIMEOUT, message + "; resume with the reentry.dev/resume annotation", warning=True,
                 subject=stage.value)


def checks_pass(run: Evaluation, name: StageName, satisfied: bool) -> bool:
    """Identity and state: the stage passes when its checks do."""
    if not satisfied:
        run.set(message=f"{name.value}: waiting for {run.waiting_on(section_checks(run.spec, name.value))}")
    return satisfied


def dependencies_attached(run: Evaluation, name: StageName, satisfied: bool) -> bool:
    """Dependencies: the services are released bottom-up; the stage passes when its checks pass and
    every service is Attached."""
    attached = run.step_services(release_allowed=True)
    if not (satisfied and attached):
        waiting = run.waiting_on(run.spec.dependencies.checks)
        run.set(message=_dependencies_message(run) + (f"; checks: {waiting}" if waiting else ""))
    return satisfied and attached


def _dependencies_message(run: Evaluation) -> str:
    parts = []
    for s in run.status.services:
        if s.state == ServiceState.ATTACHED:
            continue
        detail = f"waiting for {', '.join(s.waitingFor)}" if s.waitingFor else (
            f"{s.releasedPods}/{s.totalPods} pods released, {s.readyEndpoints} ready endpoints")
        parts.append(f"{s.name} {s.state.value} ({detail})")
    return "dependencies: " + ("; ".join(parts) or "every service attached")


def ramp_done(run: Evaluation, name: StageName, satisfied: bool) -> bool:
    """Traffic: the ramp starts once the stage's checks pass, then decides itself (``engine.traffic``);
    the stage passes when the ramp is complete. A failed analysis pauses or aborts the plan."""
    rules = run.spec.traffic
    started = run.status.traffic is not None and run.status.traffic.state is not None
    if not started and not satisfied:
        run.set(message=f"traffic: waiting for {run.waiting_on(rules.checks)}")
        return False
    run.evaluate_checks(ANALYSIS, list(rules.analysis))
    out = traffic.step(run.traffic_view(), run.status.traffic)
    run.take(out)
    if out.abort is not None:
        run.set(phase=Phase.ABORTED, message=f"aborted: {out.abort}")
        run.reason = Reason.ANALYSIS_FAILED
        run.emit(Reason.ABORTED, f"re-entry aborted: {out.abort}; traffic returns to 0%", warning=True)
        return False
    if out.pause is not None:
        run.pause(out.pause, Reason.ANALYSIS_FAILED)
        run.emit(Reason.ANALYSIS_FAILED, out.pause + "; resume with the reentry.dev/resume annotation", warning=True)
        return False
    if out.reason:
        run.reason = out.reason
    if not out.done:
        run.set(message=out.message)
    return out.done


def validation_passes(run: Evaluation, name: StageName, satisfied: bool) -> bool:
    """Validation: the finish line (``engine.finish_line``)."""
    return finish_line.validation_stage(run, satisfied)


#: Each stage's rule, in the fixed order.
RULES: dict[StageName, Rule] = {
    StageName.IDENTITY: checks_pass,
    StageName.STATE: checks_pass,
    StageName.DEPENDENCIES: dependencies_attached,
    StageName.TRAFFIC: ramp_done,
    StageName.VALIDATION: validation_passes,
}
