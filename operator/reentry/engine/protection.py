"""What deleting a plan must hand back, and so whether the plan keeps a finalizer meanwhile.

A deleted plan governs nothing: its traffic targets go back to their safe state and every gated pod
it selects is let in (``controller.release_on_delete``). The operator can only do that if it sees
the deletion first, which is what a finalizer is for. A finalizer that protects nothing has a cost:
with the operator stopped or uninstalled, the plan (and so its namespace) can never be deleted.
So a plan carries one only while :func:`protects` says so.
"""

from __future__ import annotations

from reentry.model import FINISHED_PHASES, Mode, Phase, RecoveryPlanSpec, RecoveryPlanStatus, SafeState


def safe_weight_on_delete(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None) -> int | None:
    """The weight the targets return to when a plan is deleted, or None to leave them as they are.

    A restored plan's traffic stays where the ramp put it; a plan deleted mid-ramp (or aborted on
    the way back) returns its targets to weight 0, the fallback, unless ``safeState: KeepCurrent``.
    """
    if spec.mode == Mode.DRY_RUN or not spec.traffic.targets or status is None or status.traffic is None:
        return None
    if status.phase == Phase.RESTORED or status.traffic.state is None:
        return None
    if spec.traffic.safeState == SafeState.KEEP_CURRENT or status.traffic.weight == 0:
        return None
    return 0


def protects(spec: RecoveryPlanSpec, status: RecoveryPlanStatus | None) -> bool:
    """Whether deleting the plan now would leave the operator something to hand back.

    Yes for a plan not finished (not started yet included: its pods are held), for a ramp away from
    its safe state, and for an Aborted or Failed plan that still holds pods. No for a Restored plan
    (everything was let in; a gated pod that appears later is released by the running operator, not
    by a deletion) and for a dry run (it never holds or moves anything).
    """
    if spec.mode == Mode.DRY_RUN:
        return False
    if safe_weight_on_delete(spec, status) is not None:
        return True
    if status is None or status.phase not in FINISHED_PHASES:
        return True
    if status.phase == Phase.RESTORED:
        return False
    return any(service.heldPods > 0 for service in status.services)
