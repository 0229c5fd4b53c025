"""Everything that makes a plan unworkable as written, each problem naming its cause."""

from __future__ import annotations

from reentry.engine import graph
from reentry.model import Action, Check, RecoveryPlanSpec

CHECK_SECTIONS = ("technicalRecovery", "identity", "state", "dependencies", "traffic", "analysis", "validation")
ACTION_SECTIONS = ("identity", "state", "dependencies")
#: The section of the traffic stage's analysis checks (``spec.traffic.analysis``), run during holds.
ANALYSIS = "analysis"


def section_checks(spec: RecoveryPlanSpec, section: str) -> list[Check]:
    """The checks of one section; ``analysis`` is the traffic stage's analysis."""
    return list(spec.traffic.analysis) if section == ANALYSIS else list(getattr(spec, section).checks)


def all_checks(spec: RecoveryPlanSpec) -> list[tuple[str, Check]]:
    """Every check with the section it belongs to, in the fixed order."""
    return [(section, check) for section in CHECK_SECTIONS for check in section_checks(spec, section)]


def all_actions(spec: RecoveryPlanSpec) -> list[tuple[str, Action]]:
    """Every action with the stage it belongs to, in the fixed order."""
    return [(section, action) for section in ACTION_SECTIONS for action in getattr(spec, section).actions]


def _duplicates(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def problems(spec: RecoveryPlanSpec) -> list[str]:
    """The dependency graph's problems, duplicate check or action names, overrides of unknown checks."""
    found = graph.problems(spec.services)
    check_names = [c.name for _, c in all_checks(spec)]
    found += [f"duplicate check name {n!r}" for n in _duplicates(check_names)]
    found += [f"duplicate action name {n!r}" for n in _duplicates([a.name for _, a in all_actions(spec)])]
    found += [f"override names unknown check {o.check!r}" for o in spec.overrides if o.check not in check_names]
    return found
