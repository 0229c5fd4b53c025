"""Everything that makes a plan unworkable as written beyond its schema, each problem at the field at fault
(``problems.of(spec)``). Not to be confused with the validation *stage* (``engine.finish_line``) or
``reentry validate`` (``reentry.validate``, which reports these problems among others)."""

from __future__ import annotations

from reentry.engine import graph
from reentry.engine.sections import action_items, check_items
from reentry.model import Loc, Problem, RecoveryPlanSpec


def _repeated(items: list[tuple[Loc, str]], what: str) -> list[Problem]:
    """One problem per name used more than once, at its first repetition, in the names' order."""
    seen: set[str] = set()
    repeats: dict[str, Loc] = {}
    for loc, name in items:
        if name in seen:
            repeats.setdefault(name, loc)
        seen.add(name)
    return [Problem(repeats[name], f"duplicate {what} name {name!r}") for name in sorted(repeats)]


def of(spec: RecoveryPlanSpec) -> list[Problem]:
    """The dependency graph's problems, duplicate check or action names, overrides of unknown checks."""
    found = graph.problems(spec.services)
    checks = [((*loc, "name"), c.name) for loc, c in check_items(spec)]
    found += _repeated(checks, "check")
    found += _repeated([((*loc, "name"), a.name) for loc, a in action_items(spec)], "action")
    known = {name for _, name in checks}
    found += [Problem(("overrides", i, "check"), f"override names unknown check {o.check!r}")
              for i, o in enumerate(spec.overrides) if o.check not in known]
    return found


def describe(problems: list[Problem]) -> str:
    """The problems as one message, as status and Events show them."""
    return "; ".join(p.message for p in problems)
