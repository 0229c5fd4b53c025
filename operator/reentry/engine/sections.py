"""Where each part of a plan lives in its spec, in the fixed order: one table instead of attribute names.

The stages run in :data:`STAGE_ORDER`, each showing its own phase while it runs. Checks also live
in two sections that are not stages (``technicalRecovery``, before the start, and the traffic
stage's ``analysis``, during holds); actions only in the first three stages.
"""

from __future__ import annotations

from collections.abc import Callable

from reentry.model import (
    Action,
    Check,
    Loc,
    NamedObject,
    Phase,
    RecoveryPlanSpec,
    StageName,
    Target,
)

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

#: Where each section's checks sit in a spec (``analysis`` is ``traffic.analysis``), in the order
#: status lists them, and how to read them.
_CHECKS: dict[str, tuple[tuple[str, str], Callable[[RecoveryPlanSpec], list[Check]]]] = {
    TECHNICAL_RECOVERY: ((TECHNICAL_RECOVERY, "checks"), lambda spec: spec.technicalRecovery.checks),
    StageName.IDENTITY.value: (("identity", "checks"), lambda spec: spec.identity.checks),
    StageName.STATE.value: (("state", "checks"), lambda spec: spec.state.checks),
    StageName.DEPENDENCIES.value: (("dependencies", "checks"), lambda spec: spec.dependencies.checks),
    StageName.TRAFFIC.value: (("traffic", "checks"), lambda spec: spec.traffic.checks),
    ANALYSIS: (("traffic", ANALYSIS), lambda spec: spec.traffic.analysis),
    StageName.VALIDATION.value: (("validation", "checks"), lambda spec: spec.validation.checks),
}
#: Where each stage's actions sit (only the first three stages have actions), in the order they run.
_ACTIONS: dict[str, tuple[tuple[str, str], Callable[[RecoveryPlanSpec], list[Action]]]] = {
    StageName.IDENTITY.value: (("identity", "actions"), lambda spec: spec.identity.actions),
    StageName.STATE.value: (("state", "actions"), lambda spec: spec.state.actions),
    StageName.DEPENDENCIES.value: (("dependencies", "actions"), lambda spec: spec.dependencies.actions),
}

#: The sections that hold checks, in the order status lists them.
CHECK_SECTIONS: tuple[str, ...] = tuple(_CHECKS)
#: The sections that hold actions (stages), in the order they run.
ACTION_SECTIONS: tuple[str, ...] = tuple(_ACTIONS)
#: Where the lists of checks sit in a spec, in the order status lists them: ``("traffic", "analysis")``...
#: (for readers of a raw spec that may not validate, such as the kubectl plugin).
CHECK_LISTS: tuple[tuple[str, str], ...] = tuple(at for at, _ in _CHECKS.values())

def section_checks(spec: RecoveryPlanSpec, section: str) -> list[Check]:
    """The checks of one section (a stage, ``technicalRecovery`` or ``analysis``)."""
    return list(_CHECKS[section][1](spec))


def section_actions(spec: RecoveryPlanSpec, section: str) -> list[Action]:
    """The actions of one section (an empty list for a stage without actions)."""
    found = _ACTIONS.get(section)
    return list(found[1](spec)) if found else []


def all_checks(spec: RecoveryPlanSpec) -> list[tuple[str, Check]]:
    """Every check with the section it belongs to, in the fixed order."""
    return [(section, check) for section in CHECK_SECTIONS for check in section_checks(spec, section)]


def all_actions(spec: RecoveryPlanSpec) -> list[tuple[str, Action]]:
    """Every action with the stage it belongs to, in the fixed order."""
    return [(section, action) for section in ACTION_SECTIONS for action in section_actions(spec, section)]


def check_items(spec: RecoveryPlanSpec) -> list[tuple[Loc, Check]]:
    """Every check with its place in the spec, e.g. ``("state", "checks", 0)``, in the fixed order."""
    return [((*at, i), check) for at, read in _CHECKS.values() for i, check in enumerate(read(spec))]


def action_items(spec: RecoveryPlanSpec) -> list[tuple[Loc, Action]]:
    """Every action with its place in the spec, in the fixed order."""
    return [((*at, i), action) for at, read in _ACTIONS.values() for i, action in enumerate(read(spec))]


def target_items(spec: RecoveryPlanSpec) -> list[tuple[Loc, Target]]:
    """Every traffic target with its place in the spec."""
    return [(("traffic", "targets", i), target) for i, target in enumerate(spec.traffic.targets)]


def named_objects(spec: RecoveryPlanSpec) -> list[tuple[Loc, str, NamedObject]]:
    """Every object the plan's checks, actions and traffic targets name (each kind's ``named_objects``):
    the field that names it, who names it (``check lag``, ``traffic target httpRoute/web``), the object."""
    items: list[tuple[Loc, str, Check | Action | Target]] = [
        (loc, f"check {c.name}", c) for loc, c in check_items(spec)]
    items += [(loc, f"action {a.name}", a) for loc, a in action_items(spec)]
    items += [(loc, f"traffic target {t.label}", t) for loc, t in target_items(spec)]
    return [((*loc, *o.field), who, o) for loc, who, item in items for o in item.named_objects()]
