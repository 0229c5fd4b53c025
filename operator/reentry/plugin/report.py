"""``kubectl reentry report``: the record of one re-entry, for an incident review.

Built from the plan as the API server returns it (status, and ``status.timeline``, the operator's
record of every transition): no other source, so a report of a plan restored weeks ago says what
the operator saw then. Three renderings of one :class:`Report`:

* ``json`` for tooling;
* ``md`` to paste into a review document;
* ``html``: one self-contained page (inline CSS and SVG, no script, nothing fetched) that opens from a
  file or an incident ticket: the stages as a Gantt chart with each service's release and the marks
  of what held the plan, the traffic weight over time with its step-backs, then the tables.

It works for plans in any phase; for one still under way the open spans end at the report's ``now``.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reentry.engine.reasons import Reason
from reentry.engine.timeutil import format_duration, format_time, parse_time

FORMATS = ("md", "json", "html")


@dataclass(frozen=True)
class Span:
    """Something that began and (maybe) ended: a stage, or a service from its release to its attachment."""

    name: str
    state: str
    start: str | None
    end: str | None
    seconds: float | None
    """From start to end, or to the report's ``now`` while it is open; None before it began."""
    held_by: list[str] = field(default_factory=list)
    """What needed attention while it ran: the timeline's warnings in its window."""


@dataclass(frozen=True)
class WeightPoint:
    weight: int
    at: str
    reason: str


@dataclass(frozen=True)
class Entry:
    at: str
    reason: str
    message: str
    warning: bool
    subject: str | None


@dataclass(frozen=True)
class Report:
    namespace: str
    name: str
    owner: str | None
    phase: str | None
    mode: str
    now: str
    created: str | None
    started: str | None
    technical_recovery: str | None
    operational_restoration: str | None
    restoration_seconds: float | None
    """From technical recovery to operational restoration (to ``now`` while not restored)."""
    budget: str | None
    budget_deadline: str | None
    budget_exceeded: bool | None
    approval: dict[str, Any] | None
    stages: list[Span]
    services: list[Span]
    weights: list[WeightPoint]
    step_backs: int
    timeline: list[Entry]
    timeline_dropped: int


def _seconds(start: str | None, end: str | None, now: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, ((parse_time(end) if end else now) - parse_time(start)).total_seconds())


def _warnings_by_stage(entries: list[Entry]) -> list[tuple[str, Entry]]:
    """The timeline's warnings, each with the stage under way when it was recorded (the latest
    StageStarted before it: entries are in the order the operator decided them)."""
    found: list[tuple[str, Entry]] = []
    current: str | None = None
    for entry in entries:
        if entry.reason == Reason.STAGE_STARTED and entry.subject:
            current = entry.subject
        elif entry.warning and current is not None:
            found.append((current, entry))
    return found


def _held_by_stage(entries: list[Entry]) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for stage, entry in _warnings_by_stage(entries):
        held.setdefault(stage, []).append(f"{entry.at} {entry.reason}: {entry.message}")
    return held


def build(plan: dict[str, Any], now: datetime) -> Report:
    """The report of ``plan`` (a RecoveryPlan as the API server returns it) as of ``now``."""
    meta, spec, status = plan.get("metadata") or {}, plan.get("spec") or {}, plan.get("status") or {}
    entries = [Entry(at=str(e.get("at")), reason=str(e.get("reason")), message=str(e.get("message", "")),
                     warning=bool(e.get("warning")), subject=e.get("subject"))
               for e in status.get("timeline") or [] if e.get("at")]
    held = _held_by_stage(entries)
    stages = [Span(name=str(s.get("name")), state=str(s.get("state", "Pending")), start=s.get("startedAt"),
                   end=s.get("finishedAt"), seconds=_seconds(s.get("startedAt"), s.get("finishedAt"), now),
                   held_by=held.get(str(s.get("name")), []))
              for s in status.get("stages") or []]
    services = [Span(name=str(s.get("name")), state=str(s.get("state", "Held")), start=s.get("releaseStartedAt"),
                     end=s.get("attachedAt"), seconds=_seconds(s.get("releaseStartedAt"), s.get("attachedAt"), now))
                for s in status.get("services") or []]
    traffic = status.get("traffic") or {}
    weights = [WeightPoint(int(h.get("weight", 0)), str(h.get("at")), str(h.get("reason", "")))
               for h in traffic.get("history") or [] if h.get("at")]
    restoration = status.get("restoration") or {}
    technical, restored = status.get("technicalRecoveryAt"), status.get("operationallyRestoredAt")
    return Report(
        namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        owner=(spec.get("owner") or {}).get("team"), phase=status.get("phase"), mode=str(spec.get("mode", "Enforce")),
        now=format_time(now), created=meta.get("creationTimestamp"), started=status.get("startedAt"),
        technical_recovery=technical, operational_restoration=restored,
        restoration_seconds=_seconds(technical, restored, now),
        budget=restoration.get("budget") or spec.get("restorationBudget"), budget_deadline=restoration.get("deadline"),
        budget_exceeded=restoration.get("exceeded"), approval=status.get("approval"),
        stages=stages, services=services, weights=weights,
        step_backs=sum(1 for e in entries if e.reason == Reason.TRAFFIC_STEP_BACK), timeline=entries,
        timeline_dropped=int(status.get("timelineDropped") or 0))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration_seconds(seconds)


def format_duration_seconds(seconds: float) -> str:
    """``4m12s``; under a minute with a tenth of a second (``12.4s``)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    return format_duration(timedelta(seconds=seconds))


# ---- json and markdown ---------------------------------------------------------------------------


def to_json(report: Report) -> str:
    return json.dumps(asdict(report), indent=2, sort_keys=False) + "\n"


def _md_cell(text: object) -> str:
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def _restoration_line(report: Report) -> str:
    if report.technical_recovery is None:
        return "not technically recovered yet"
    took = _duration(report.restoration_seconds)
    if report.operational_restoration is None:
        return f"not restored yet: {took} since technical recovery"
    budget = ""
    if report.budget:
        budget = f" (budget {report.budget}: {'exceeded' if report.budget_exceeded else 'met'})"
    return f"{took} from technical recovery to operational restoration{budget}"


def _summary_rows(report: Report) -> list[list[object]]:
    return [["owner", report.owner], ["mode", report.mode], ["plan created", report.created],
            ["technical recovery", report.technical_recovery],
            ["operational restoration", report.operational_restoration],
            ["restoration budget", f"{report.budget} (deadline {report.budget_deadline})" if report.budget else None],
            ["approved", _approval(report)], ["traffic step-backs", report.step_backs], ["report made", report.now]]


STAGE_HEADER = ["stage", "state", "started", "finished", "took", "held by"]
SERVICE_HEADER = ["service", "state", "release started", "attached", "took"]
WEIGHT_HEADER = ["at", "weight", "why"]


def _stage_rows(report: Report) -> list[list[object]]:
    return [[s.name, s.state, s.start, s.end, _duration(s.seconds), "; ".join(s.held_by) or None]
            for s in report.stages]


def _service_rows(report: Report) -> list[list[object]]:
    return [[s.name, s.state, s.start, s.end, _duration(s.seconds)] for s in report.services]


def _weight_rows(report: Report) -> list[list[object]]:
    return [[w.at, f"{w.weight}%", w.reason] for w in report.weights]


def to_markdown(report: Report) -> str:
    lines = [f"# Re-entry of {report.namespace}/{report.name}", "",
             f"**{report.phase or 'no status yet'}**: {_restoration_line(report)}.", ""]
    lines += _md_table(["", ""], _summary_rows(report))
    lines += ["", "## Stages", "", *_md_table(STAGE_HEADER, _stage_rows(report))]
    lines += ["", "## Services", "", *_md_table(SERVICE_HEADER, _service_rows(report))]
    if report.weights:
        lines += ["", "## Traffic", "", *_md_table(WEIGHT_HEADER, _weight_rows(report))]
    lines += ["", "## Timeline", ""]
    if report.timeline_dropped:
        lines += [f"({report.timeline_dropped} older entries were dropped to keep the record bounded.)", ""]
    lines += _md_table(["at", "", "reason", "about", "what happened"],
                       [[e.at, "⚠" if e.warning else "", e.reason, e.subject, e.message] for e in report.timeline])
    return "\n".join(lines) + "\n"


def _approval(report: Report) -> str | None:
    if not report.approval:
        return None
    comment = report.approval.get("comment")
    return f"by {report.approval.get('by')} at {report.approval.get('at')}" + (f": {comment}" if comment else "")


# ---- html ----------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}
.lead{font-size:1.05rem}.phase{font-weight:700}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #d7dbe3;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f1f3f7}
.warn{color:#9a2a00}.muted{color:#5b6475}
svg{width:100%;height:auto;background:#fafbfd;border:1px solid #d7dbe3}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
@media (prefers-color-scheme:dark){body{background:#14171d;color:#e6e9ef}th{background:#232833}
td,th{border-color:#333a47}svg{background:#1b1f27;border-color:#333a47}svg text{fill:#e6e9ef}.warn{color:#ff9a70}}
"""
_STAGE_FILL = {"Passed": "#2f7d4f", "Running": "#2d6cdf", "Failed": "#b3261e", "Pending": "#9aa3b2"}
_WIDTH, _LABEL, _ROW = 960, 170, 26


class _Axis:
    """Times to x coordinates over the report's span."""

    def __init__(self, report: Report) -> None:
        moments = [parse_time(t) for t in _all_times(report)] or [parse_time(report.now)]
        if report.operational_restoration is None:  # still under way: the open spans run to now
            moments.append(parse_time(report.now))
        self.start, self.end = min(moments), max(moments)
        self.span = max((self.end - self.start).total_seconds(), 1.0)

    def x(self, moment: str | None) -> float:
        at = parse_time(moment) if moment else self.end
        return _LABEL + (_WIDTH - _LABEL - 20) * (at - self.start).total_seconds() / self.span

    def ticks(self) -> list[tuple[float, str]]:
        step = self.span / 5
        return [(_LABEL + (_WIDTH - _LABEL - 20) * i / 5, "+" + format_duration_seconds(step * i)) for i in range(6)]


def _all_times(report: Report) -> list[str]:
    found = [t for s in [*report.stages, *report.services] for t in (s.start, s.end) if t]
    found += [w.at for w in report.weights] + [e.at for e in report.timeline]
    found += [t for t in (report.technical_recovery, report.operational_restoration) if t]
    return found


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _gantt(report: Report, axis: _Axis) -> str:
    rows: list[tuple[str, Span, str]] = [(f"stage {s.name}", s, _STAGE_FILL.get(s.state, "#9aa3b2"))
                                         for s in report.stages]
    rows += [(f"service {s.name}", s, "#7a5cc4") for s in report.services]
    height = 40 + _ROW * len(rows) + 44
    parts = [f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-labelledby="gantt-title gantt-desc">',
             '<title id="gantt-title">Stages and services over time</title>',
             f'<desc id="gantt-desc">One bar per stage, from its start to its end, and per service, from the start '
             f'of its release to its attachment; red marks are what held the plan. The axis starts at '
             f'{_esc(format_time(axis.start))}.</desc>']
    ticks = axis.ticks()
    for i, (x, label) in enumerate(ticks):
        anchor = "end" if i == len(ticks) - 1 else "middle"
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 36}" stroke="#c9ced8" '
                     f'stroke-dasharray="2 3"/><text x="{x:.1f}" y="16" text-anchor="{anchor}">{_esc(label)}</text>')
    for i, (label, span, fill) in enumerate(rows):
        y = 30 + i * _ROW
        parts.append(f'<text x="8" y="{y + 15}">{_esc(label)}</text>')
        if span.start is None:
            parts.append(f'<text x="{_LABEL}" y="{y + 15}" class="muted">not started</text>')
            continue
        x0, x1 = axis.x(span.start), axis.x(span.end)
        parts.append(f'<rect class="bar" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 2):.1f}" height="16" rx="3" '
                     f'fill="{fill}"><title>{_esc(label)}: {_esc(span.state)}, {_esc(span.start)} to '
                     f'{_esc(span.end or "now")} ({_esc(_duration(span.seconds))})</title></rect>')
    row_of = {span.name: i for i, (_, span, _) in enumerate(rows[:len(report.stages)])}
    for stage, entry in _warnings_by_stage(report.timeline):
        x, y = axis.x(entry.at), 30 + row_of.get(stage, 0) * _ROW
        parts.append(f'<path class="mark" d="M{x:.1f} {y + 2} l5 -8 h-10 z" fill="#b3261e"><title>{_esc(entry.at)} '
                     f'{_esc(entry.reason)}: {_esc(entry.message)}</title></path>')
    milestones = [(label, moment, colour) for label, moment, colour in (
        ("technical recovery", report.technical_recovery, "#2d6cdf"),
        ("operational restoration", report.operational_restoration, "#2f7d4f"),
        ("approved", (report.approval or {}).get("at"), "#c08400")) if moment]
    for i, (label, moment, colour) in enumerate(milestones):
        x = axis.x(moment)
        anchor = "end" if x > _WIDTH * 0.75 else "start"
        parts.append(f'<line class="milestone" x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 36}" '
                     f'stroke="{colour}" stroke-width="2"><title>{_esc(label)} at {_esc(moment)}</title></line>'
                     f'<text x="{x:.1f}" y="{height - 24 + 12 * (i % 2)}" text-anchor="{anchor}" '
                     f'fill="{colour}">{_esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _weight_curve(report: Report, axis: _Axis) -> str:
    height, top, bottom = 220, 20, 190
    def y(weight: int) -> float:
        return bottom - (bottom - top) * weight / 100

    parts = [f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-labelledby="curve-title curve-desc">',
             '<title id="curve-title">Traffic weight over time</title>',
             f'<desc id="curve-desc">The percent of traffic sent to the restored system at each decision; '
             f'{report.step_backs} step-back(s), marked red.</desc>']
    for weight in (0, 50, 100):
        parts.append(f'<line x1="{_LABEL}" y1="{y(weight):.1f}" x2="{_WIDTH - 20}" y2="{y(weight):.1f}" '
                     f'stroke="#c9ced8" stroke-dasharray="2 3"/><text x="{_LABEL - 8}" y="{y(weight) + 4:.1f}" '
                     f'text-anchor="end">{weight}%</text>')
    points: list[str] = []
    previous: float | None = None
    for point in report.weights:
        x = axis.x(point.at)
        if previous is not None:
            points.append(f"{x:.1f},{previous:.1f}")
        previous = y(point.weight)
        points.append(f"{x:.1f},{previous:.1f}")
    if points and previous is not None:
        end = axis.x(report.operational_restoration or report.now)
        points.append(f"{end:.1f},{previous:.1f}")
        parts.append(f'<polyline class="curve" points="{" ".join(points)}" fill="none" stroke="#2d6cdf" '
                     f'stroke-width="2.5"/>')
    for point in report.weights:
        back = point.reason.startswith("step back")
        parts.append(f'<circle class="{"step-back" if back else "step"}" cx="{axis.x(point.at):.1f}" '
                     f'cy="{y(point.weight):.1f}" r="{5 if back else 3.5}" fill="{"#b3261e" if back else "#2d6cdf"}">'
                     f'<title>{_esc(point.at)}: {point.weight}% ({_esc(point.reason)})</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[object]], warn: list[bool] | None = None) -> str:
    head = "".join(f"<th scope=\"col\">{_esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = ' class="warn"' if warn and warn[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_esc(c if c is not None else '-')}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: Report) -> str:
    axis = _Axis(report)
    title = f"Re-entry of {report.namespace}/{report.name}"
    summary = _html_table(["", ""], _summary_rows(report))
    stages = _html_table(STAGE_HEADER, _stage_rows(report))
    services = _html_table(SERVICE_HEADER, _service_rows(report))
    traffic = ""
    if report.weights:
        traffic = "<h2>Traffic</h2>" + _weight_curve(report, axis) + _html_table(WEIGHT_HEADER, _weight_rows(report))
    dropped = (f"<p class=\"muted\">{report.timeline_dropped} older entries were dropped to keep the record "
               "bounded.</p>" if report.timeline_dropped else "")
    timeline = _html_table(["at", "reason", "about", "what happened"],
                           [[e.at, e.reason, e.subject, e.message] for e in report.timeline],
                           [e.warning for e in report.timeline])
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>"
            f"<h1>{_esc(title)}</h1><p class=\"lead\"><span class=\"phase\">{_esc(report.phase or 'no status yet')}"
            f"</span>: {_esc(_restoration_line(report))}.</p>{summary}"
            f"<h2>Stages and services</h2>{_gantt(report, axis)}{stages}{services}{traffic}"
            f"<h2>Timeline</h2>{dropped}{timeline}</main></body></html>\n")


def render(plan: dict[str, Any], output: str, now: datetime) -> str:
    """The report of ``plan`` in ``output`` (one of :data:`FORMATS`)."""
    report = build(plan, now)
    if output == "json":
        return to_json(report)
    if output == "html":
        return to_html(report)
    return to_markdown(report)
