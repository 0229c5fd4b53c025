"""How ``kubectl reentry`` shows plans: pure functions from a plan object and a clock to text.

Nothing here talks to the API server, so every line a person reads is unit-tested from statuses
the engine itself produced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from pydantic import ValidationError

from reentry.engine.timeutil import format_duration, parse_time
from reentry.model import (
    FINISHED_PHASES,
    ActionStatus,
    CheckStatus,
    Phase,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    ServiceStatus,
    StageState,
    StageStatus,
    TrafficStatus,
)

EXIT_RESTORED = 0
EXIT_FAILED = 1
EXIT_RUNNING = 2
EXIT_ERROR = 3
TERMINAL = {p.value: EXIT_RESTORED if p == Phase.RESTORED else EXIT_FAILED for p in FINISHED_PHASES}
BAR_WIDTH = 20

_SGR = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}
# The colour of a state word, whatever list it appears in.
_STATE_COLOURS = {
    "green": {"Restored", "Passed", "Pass", "Attached", "Succeeded", "Done"},
    "red": {"Failed", "Fail", "Error", "Aborted", "Aborting"},
    "yellow": {"Running", "Releasing", "Holding", "Applying", "CoolingDown", "Paused", "NoData", "Observing",
               "Validating", "TrafficReentry", "DependencyConvergence", "StateReconciliation",
               "IdentityPreWarming", "Armed"},
    "dim": {"Pending", "Held"},
}


def exit_code(phase: str | None) -> int:
    """0 Restored, 1 Failed or Aborted, 2 anything else (still on the way)."""
    return TERMINAL.get(phase or "", EXIT_RUNNING)


def is_terminal(phase: str | None) -> bool:
    """Restored, Failed and Aborted do not change on their own any more."""
    return (phase or "") in TERMINAL


def wants_colour(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Colour for a terminal, never when piped, never with NO_COLOR set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def wants_unicode(stream: IO[str]) -> bool:
    """Box-drawing characters only where the stream can encode them."""
    return "utf" in (getattr(stream, "encoding", None) or "").lower()


@dataclass(frozen=True)
class Style:
    """Colour on or off, and the tree and bar characters that fit the output."""

    colour: bool = False
    unicode: bool = True

    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{_SGR[colour]}m{text}\x1b[0m" if self.colour and text else text

    def state(self, word: str | None, width: int = 0) -> str:
        """A state word, padded to ``width``, coloured by what it means."""
        text = (word or "-").ljust(width)
        colour = next((c for c, words in _STATE_COLOURS.items() if word in words), None)
        return self.paint(text, colour) if colour else text

    @property
    def branch(self) -> str:
        return "├─ " if self.unicode else "|- "

    @property
    def last(self) -> str:
        return "└─ " if self.unicode else "`- "

    @property
    def pipe(self) -> str:
        return "│  " if self.unicode else "|  "

    def bar(self, weight: int) -> str:
        filled = max(0, min(BAR_WIDTH, round(weight * BAR_WIDTH / 100)))
        full, empty = ("█", "░") if self.unicode else ("#", ".")
        return "[" + self.paint(full * filled, "green") + empty * (BAR_WIDTH - filled) + "]"


def _since(start: str | None, end: str | None, now: datetime) -> timedelta | None:
    if not start:
        return None
    return (parse_time(end) if end else now) - parse_time(start)


def _span(start: str | None, end: str | None, now: datetime) -> str:
    span = _since(start, end, now)
    return format_duration(span) if span is not None else ""


def age(created: str | None, now: datetime) -> str:
    """A kubectl-like age: 42s, 7m, 5h, 3d."""
    span = _since(created, None, now)
    if span is None:
        return "<unknown>"
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _clock(stamp: str | None) -> str:
    """A timestamp as the time of day people compare with their own clock (UTC)."""
    return parse_time(stamp).strftime("%H:%M:%SZ") if stamp else "-"


def parse_status(raw: Mapping[str, Any] | None) -> RecoveryPlanStatus:
    """The plan's status as the model reads it (fields an older or newer operator wrote are ignored)."""
    return RecoveryPlanStatus.model_validate(dict(raw or {}))


def parse_spec(raw: Mapping[str, Any] | None) -> RecoveryPlanSpec | None:
    """The spec, or None when it does not fit the model (the status then says why)."""
    try:
        return RecoveryPlanSpec.model_validate(dict(raw or {}))
    except ValidationError:
        return None


# ---- sections of the status tree ---------------------------------------------------------------


def _table(rows: list[list[str]], style: Style, states: tuple[int, ...] = ()) -> list[str]:
    """Aligned columns; the columns in ``states`` are coloured by their words after padding."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [style.state(cell, widths[i]) if i in states else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _section(title: str, lines: list[str], last: bool, style: Style) -> list[str]:
    out = [(style.last if last else style.branch) + title]
    indent = "   " if last else style.pipe
    for i, line in enumerate(lines):
        out.append(indent + (style.last if i == len(lines) - 1 else style.branch) + line)
    return out


def _stage_rows(stages: list[StageStatus], now: datetime) -> list[list[str]]:
    rows = []
    for s in stages:
        took = _span(s.startedAt, s.finishedAt, now)
        if s.state == StageState.RUNNING and took:
            took += " so far"
        rows.append([s.name.value, s.state.value, took, s.message or ""])
    return rows


def _check_rows(checks: list[CheckStatus]) -> list[list[str]]:
    rows = []
    for c in checks:
        seen = c.observed or (c.message if c.result is not None else "not evaluated yet") or ""
        if c.threshold:
            seen += f" vs {c.threshold}"
        why = c.failureClass.value if c.failureClass and c.result is not None and c.result.value != "Pass" else ""
        if c.overridden:
            why = (why + " " if why else "") + f"overridden: {c.overrideReason}"
        rows.append([f"{c.stage}/{c.name}", c.result.value if c.result else "Pending", seen, why])
    return rows


def _action_rows(actions: list[ActionStatus], now: datetime) -> list[list[str]]:
    return [[f"{a.stage}/{a.name}", a.state.value, a.kind, _span(a.startedAt, a.finishedAt, now), a.message or ""]
            for a in actions]


def _service_rows(services: list[ServiceStatus]) -> list[list[str]]:
    rows = []
    for s in services:
        waiting = f"waiting for {', '.join(s.waitingFor)}" if s.waitingFor else ""
        if s.wouldRelease:
            waiting = (waiting + "; " if waiting else "") + f"dry run: would release {s.wouldRelease}"
        rows.append([s.name, s.state.value, f"{s.releasedPods}/{s.totalPods} pods released",
                     f"{s.readyEndpoints} ready endpoints", waiting])
    return rows


def _traffic(traffic: TrafficStatus, style: Style) -> tuple[str, list[str]]:
    state = style.state(traffic.state.value if traffic.state else "Pending")
    if traffic.steps == 0 and not traffic.targets:
        return f"Traffic  no steps or targets in this plan  {state}", []
    head = f"Traffic  step {traffic.step}/{traffic.steps}  {style.bar(traffic.weight)} {traffic.weight:>3}%  {state}"
    if traffic.holdUntil:
        head += f" until {_clock(traffic.holdUntil)}"
    if traffic.coolDownUntil:
        head += f", cooling down until {_clock(traffic.coolDownUntil)}"
    if traffic.stepBacks:
        head += f", {traffic.stepBacks} step-back(s)"
    rows = []
    for t in traffic.targets:
        took = "effective" if t.effective else ("in place" if t.inPlace else "not in place")
        rows.append([t.name, f"weight {t.weight if t.weight is not None else '-'}", took, t.shows or "",
                     t.message or ""])
    return head, _table(rows, style)


def _budget(status: RecoveryPlanStatus, now: datetime, style: Style) -> str | None:
    budget = status.restoration
    if budget is not None:
        elapsed = budget.elapsed or _span(status.technicalRecoveryAt, None, now)
        text = f"Elapsed  {elapsed} of {budget.budget} restoration budget (deadline {_clock(budget.deadline)})"
        return style.paint(text + "  EXCEEDED", "red") if budget.exceeded else text
    if status.technicalRecoveryAt:
        end = status.operationallyRestoredAt
        return f"Elapsed  {_span(status.technicalRecoveryAt, end, now)} since technical recovery (no budget set)"
    return None


def _approval(status: RecoveryPlanStatus, spec: RecoveryPlanSpec | None, style: Style) -> str:
    if status.approval is not None:
        a = status.approval
        comment = f": {a.comment}" if a.comment else ""
        return f"Approval  {style.paint('approved', 'green')} by {a.by} at {_clock(a.at)}{comment}"
    if spec is not None and spec.validation.approval.required:
        return f"Approval  required from {spec.owner.team}, not given yet (kubectl reentry approve --comment ...)"
    return "Approval  not required"


def render_status(plan: Mapping[str, Any], now: datetime, style: Style | None = None) -> str:
    """The status tree of one plan, as ``kubectl reentry status`` prints it."""
    style = style or Style()
    meta = plan.get("metadata") or {}
    status = parse_status(plan.get("status"))
    spec = parse_spec(plan.get("spec"))
    owner = f"  owner {spec.owner.team}" + (f" ({spec.owner.contact})" if spec.owner.contact else "") if spec else ""
    mode = "  [DryRun]" if spec is not None and spec.mode.value == "DryRun" else ""
    lines = [style.paint(f"RecoveryPlan {meta.get('namespace', '')}/{meta.get('name', '')}", "bold") + owner + mode]
    phase = status.phase.value if status.phase else "Unknown"
    lines.append(f"Phase    {style.state(phase)}" + (f"  {status.message}" if status.message else ""))
    budget = _budget(status, now, style)
    if budget:
        lines.append(budget)

    sections: list[tuple[str, list[str]]] = [
        ("Stages", _table(_stage_rows(status.stages, now), style, states=(1,))),
    ]
    if status.checks:
        sections.append(("Checks", _table(_check_rows(status.checks), style, states=(1,))))
    if status.actions:
        sections.append(("Actions", _table(_action_rows(status.actions, now), style, states=(1,))))
    sections.append(("Services", _table(_service_rows(status.services), style, states=(1,))))
    if status.traffic is not None:
        sections.append(_traffic(status.traffic, style))
    sections.append((_approval(status, spec, style), []))
    for i, (title, body) in enumerate(sections):
        lines += _section(title, body, i == len(sections) - 1, style)
    return "\n".join(lines) + "\n"


def render_list(plans: Sequence[Mapping[str, Any]], now: datetime, style: Style | None = None) -> str:
    """One line per plan: name, namespace, phase, stage, weight, age, owner."""
    style = style or Style()
    rows = [["NAME", "NAMESPACE", "PHASE", "STAGE", "WEIGHT", "AGE", "OWNER"]]
    for plan in sorted(plans, key=lambda p: ((p.get("metadata") or {}).get("namespace", ""),
                                             (p.get("metadata") or {}).get("name", ""))):
        meta = plan.get("metadata") or {}
        status = plan.get("status") or {}
        traffic = status.get("traffic") or {}
        weight = traffic.get("weight")
        rows.append([meta.get("name", ""), meta.get("namespace", ""), status.get("phase") or "-",
                     status.get("stage") or "-", f"{weight}%" if weight is not None else "-",
                     age(meta.get("creationTimestamp"), now), ((plan.get("spec") or {}).get("owner") or {}).get(
                         "team", "-")])
    if len(rows) == 1:
        return "No recovery plans found.\n"
    header, *body = _table(rows, style, states=(2,))
    return "\n".join([header, *body]) + "\n"
