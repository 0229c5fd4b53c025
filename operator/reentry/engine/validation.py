"""Everything that makes a plan unworkable as written, each problem naming its cause."""

from __future__ import annotations

from reentry.engine import graph
from reentry.engine.sections import all_actions, all_checks
from reentry.model import RecoveryPlanSpec


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
