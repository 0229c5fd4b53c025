"""Where each part of a plan lives in its spec, in the fixed order: one table instead of attribute names.

The stages run in :data:`STAGE_ORDER`, each showing its own phase while it runs. Checks also live
in two sections that are not stages (``technicalRecovery``, before the start, and the traffic
stage's ``analysis``, during holds); actions only in the first three stages.
"""

from __future__ import annotations

from collections.abc import Callable

from reentry.model import Action, Check, Phase, RecoveryPlanSpec, Stage, StageName, TrafficStage, ValidationStage

#: The section of the checks that say the system is technically recovered (before the start).
TECHNICAL_RECOVERY = "technicalRecovery"
#: The section of the traffic stage's analysis checks (``spec.traffic.analysis``), run during holds.
ANALYSIS = "analysis"

STAGE_ORDER: tuple[StageName, ...] = (
    StageName.IDENTITY, StageName.STATE, StageName.DEPENDENCIES, StageName.TRAFFIC, StageName.VALIDATION,
)
PHASE_OF_STAGE: dict[StageName, Phase] = {
    StageName.IDENTITY: Phase.IDENTITY_PRE_WARMING,
    StageName.STATE: Phase.STATE_RECONCILIATION,
    StageName.DEPENDENCIES: Phase.DEPENDENCY_CONVERGENCE,
    StageName.TRAFFIC: Phase.TRAFFIC_REENTRY,
    StageName.VALIDATION: Phase.VALIDATING,
}

AnyStage = Stage | TrafficStage | ValidationStage

_STAGES: dict[StageName, Callable[[RecoveryPlanSpec], AnyStage]] = {
    StageName.IDENTITY: lambda spec: spec.identity,
    StageName.STATE: lambda spec: spec.state,
    StageName.DEPENDENCIES: lambda spec: spec.dependencies,
    StageName.TRAFFIC: lambda spec: spec.traffic,
    StageName.VALIDATION: lambda spec: spec.validation,
}
_CHECKS: dict[str, Callable[[RecoveryPlanSpec], list[Check]]] = {
    TECHNICAL_RECOVERY: lambda spec: spec.technicalRecovery.checks,
    StageName.IDENTITY.value: lambda spec: spec.identity.checks,
    StageName.STATE.value: lambda spec: spec.state.checks,
    StageName.DEPENDENCIES.value: lambda spec: spec.dependencies.checks,
    StageName.TRAFFIC.value: lambda spec: spec.traffic.checks,
    ANALYSIS: lambda spec: spec.traffic.analysis,
    StageName.VALIDATION.value: lambda spec: spec.validation.checks,
}
_ACTIONS: dict[str, Callable[[RecoveryPlanSpec], list[Action]]] = {
    StageName.IDENTITY.value: lambda spec: spec.identity.actions,
    StageName.STATE.value: lambda spec: spec.state.actions,
    StageName.DEPENDENCIES.value: lambda spec: spec.dependencies.actions,
}

#: The sections that hold checks, in the order status lists them.
CHECK_SECTIONS: tuple[str, ...] = tuple(_CHECKS)
#: The sections that hold actions (stages), in the order they run.
ACTION_SECTIONS: tuple[str, ...] = tuple(_ACTIONS)


def stage(spec: RecoveryPlanSpec, name: StageName) -> AnyStage:
    """One stage's section of the spec."""
    return _STAGES[name](spec)


def section_checks(spec: RecoveryPlanSpec, section: str) -> list[Check]:
    """The checks of one section (a stage, ``technicalRecovery`` or ``analysis``)."""
    return list(_CHECKS[section](spec))


def section_actions(spec: RecoveryPlanSpec, section: str) -> list[Action]:
    """The actions of one section (an empty list for a stage without actions)."""
    found = _ACTIONS.get(section)
    return list(found(spec)) if found else []


def all_checks(spec: RecoveryPlanSpec) -> list[tuple[str, Check]]:
    """Every check with the section it belongs to, in the fixed order."""
    return [(section, check) for section in CHECK_SECTIONS for check in section_checks(spec, section)]


def all_actions(spec: RecoveryPlanSpec) -> list[tuple[str, Action]]:
    """Every action with the stage it belongs to, in the fixed order."""
    return [(section, action) for section in ACTION_SECTIONS for action in section_actions(spec, section)]
