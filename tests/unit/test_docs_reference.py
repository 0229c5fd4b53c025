"""docs/events.md and docs/metrics.md name every Event reason the operator emits and every metric it defines.

Reasons are found in the source: every ``Event(...)``, ``emit(...)``, ``fail(...)`` and
``kopf.event(..., reason=...)`` call in the operator's package (the sandbox aside), with its reason
resolved. Every reason must be a member of the catalogue, ``reentry.engine.reasons.Reason`` (the
phase-named announcements aside), not written out where it is emitted; a call whose reason cannot
be resolved fails the test too, so a new way of emitting cannot slip past it.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from reentry import metrics
from reentry.engine import bookkeeping
from reentry.engine.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator/reentry"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.relative_to(PACKAGE).parts)
EMITTERS = {"Event", "emit", "fail", "event"}
EITHER = "Normal or Warning"
#: Events named after the phase a plan entered (``bookkeeping.ANNOUNCED``), the one reason family that
#: is not in the catalogue: the phase names are the API's own.
ANNOUNCED = {p.value for p in bookkeeping.ANNOUNCED}


@dataclass(frozen=True)
class Emission:
    reason: str
    type: str  # Normal, Warning, or EITHER when the code decides at run time
    where: str
    catalogued: bool = True
    """Named from ``reentry.engine.reasons.Reason``, not written out where it is emitted."""


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT / "operator").with_suffix("").parts)


def _resolve(node: ast.expr, path: Path) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    module = importlib.import_module(_module_name(path))  # only for constants: most reasons are literals
    if isinstance(node, ast.Name):
        value = getattr(module, node.id, None)
        return value if isinstance(value, str) else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = getattr(module, node.value.id, None)
        value = getattr(owner, node.attr, None)
        return value if isinstance(value, str) else None
    return None


def _type(call: ast.Call) -> str:
    flag = next((k.value for k in call.keywords if k.arg == "warning"), call.args[2] if len(call.args) > 2 else None)
    if _callee(call) == "fail":
        return "Warning"  # fail() always warns
    if _callee(call) == "event":
        kind = next((k.value for k in call.keywords if k.arg == "type"), None)
        return kind.value if isinstance(kind, ast.Constant) else EITHER
    if flag is None:
        return "Normal"
    if isinstance(flag, ast.Constant):
        return "Warning" if flag.value else "Normal"
    return EITHER


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def emissions() -> tuple[list[Emission], list[str]]:
    """Every reason the source emits, and the calls whose reason could not be resolved."""
    found, unresolved = [], []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = {a.arg for a in func.args.args + func.args.kwonlyargs}
            for call in ast.walk(func):
                if not (isinstance(call, ast.Call) and _callee(call) in EMITTERS):
                    continue
                where = f"{path.name}:{call.lineno}"
                if _callee(call) == "event":  # kopf.event(body, type=..., reason=..., message=...)
                    first = next((k.value for k in call.keywords if k.arg == "reason"), None)
                    if first is None or (isinstance(first, ast.Attribute) and first.attr == "reason"):
                        continue  # posting an engine Event, whose reason is found where it is made
                elif call.args:
                    first = call.args[0]
                else:
                    continue
                if isinstance(first, ast.Name) and first.id in params:
                    continue  # a pass-through (emit's own body, fail's call of emit)
                if ast.unparse(first) == "run.phase.value":
                    # Announced phases: an Event named after the phase entered (warns only for Paused).
                    found += [Emission(p.value, "Warning" if p.value == "Paused" else "Normal", where)
                              for p in bookkeeping.ANNOUNCED]
                    continue
                reason = _resolve(first, path)
                if reason is None:
                    unresolved.append(f"{where}: {ast.unparse(first)}")
                else:
                    catalogued = isinstance(first, ast.Attribute) and ast.unparse(first.value) == "Reason"
                    found.append(Emission(reason, _type(call), where, catalogued))
    return found, unresolved


def documented_events() -> dict[str, str]:
    """Reason -> type, from the tables in docs/events.md (| `Reason` | Type | When |)."""
    rows = re.findall(r"^\|\s*`([A-Za-z]+)`\s*\|\s*([^|]+?)\s*\|", (ROOT / "docs/events.md").read_text(), re.M)
    return dict(rows)


def test_every_emitted_reason_is_resolved():
    _, unresolved = emissions()
    assert not unresolved, f"cannot tell which reason these calls emit; use a literal or a constant: {unresolved}"


def test_every_emitted_reason_is_documented_with_its_type():
    found, _ = emissions()
    documented = documented_events()
    assert len(found) > 20  # the scan sees the engine's calls
    missing = sorted({e.reason for e in found} - set(documented))
    assert not missing, f"Event reasons missing from docs/events.md: {missing}"
    for reason in {e.reason for e in found}:
        types = {e.type for e in found if e.reason == reason}
        expected = types.pop() if len(types) == 1 else EITHER
        assert documented[reason] == expected, f"{reason}: docs say {documented[reason]}, the code emits {expected}"


def test_every_emitted_reason_comes_from_the_catalogue():
    found, _ = emissions()
    written_out = sorted(f"{e.where}: {e.reason}" for e in found if not e.catalogued and e.reason not in ANNOUNCED)
    assert not written_out, f"reasons written where they are emitted, not taken from Reason: {written_out}"
    assert {e.reason for e in found} - ANNOUNCED <= set(Reason)


def test_no_documented_reason_is_stale():
    found, _ = emissions()
    emitted = {e.reason for e in found} | {"Logging"}  # kopf's own, documented separately
    stale = sorted(set(documented_events()) - emitted)
    assert not stale, f"docs/events.md documents reasons nothing emits any more: {stale}"


def _metric_names() -> set[str]:
    registry = CollectorRegistry()
    metrics.Metrics(registry)
    names = set()
    for family in registry.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_every_metric_is_documented_and_nothing_else():
    text = (ROOT / "docs/metrics.md").read_text()
    documented = set(re.findall(r"^###\s+`(reentry_[a-z_]+)`", text, re.M))
    defined = _metric_names()
    assert len(defined) >= 11
    assert not defined - documented, f"metrics missing from docs/metrics.md: {sorted(defined - documented)}"
    assert not documented - defined, f"docs/metrics.md documents metrics that do not exist: {documented - defined}"


def test_every_metric_is_documented_with_its_type_and_labels():
    text = (ROOT / "docs/metrics.md").read_text()
    registry = CollectorRegistry()
    m = metrics.Metrics(registry)
    for attr in vars(m).values():
        describe = getattr(attr, "describe", None)
        if describe is None or attr is registry:
            continue
        family = describe()[0]
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"### `{name}`" in text, f"{name} has no section in docs/metrics.md"
        section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        assert f"Type: {family.type}" in section, name
        labels = list(attr._labelnames)
        shown = re.search(r"Labels: (.*)", section)
        assert shown, f"{name}: no Labels line"
        assert re.findall(r"`([a-z]+)`", shown.group(1)) == labels or (not labels and "none" in shown.group(1)), name
