"""``reentry simulate``: the re-entry storm model (engine/storm.py) rendered as a table and an SVG chart.

The chart is SVG written by hand so the command needs nothing beyond the operator's own
dependencies; it opens in any browser and embeds in a design document as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from pydantic import ValidationError

from reentry import model, validate
from reentry.engine import storm
from reentry.errors import describe_validation_error


class SimulateError(Exception):
    """The file or the plan cannot be simulated; the message names the cause."""


@dataclass(frozen=True)
class LoadedPlan:
    name: str
    spec: model.RecoveryPlanSpec


def load_plan(path: Path, name: str | None = None) -> LoadedPlan:
    """The RecoveryPlan in a YAML file (of one or several documents); ``name`` picks one of several."""
    try:
        text = path.read_text()
    except OSError as err:
        raise SimulateError(f"{path}: {err.strerror or err}") from err
    # The reader `reentry validate` uses: a YAML error is named by line, never by quoting the line
    # (a bundle may carry a Secret).
    docs, problems = validate.read_documents(str(path), text)
    if problems:
        raise SimulateError(str(problems[0]))
    plans = [d.data for d in docs if isinstance(d.data, dict) and d.data.get("kind") == model.KIND]
    names = [str((d.get("metadata") or {}).get("name", "<unnamed>")) for d in plans]
    if not plans:
        raise SimulateError(f"{path}: no {model.KIND} in the file")
    if name is not None:
        if name not in names:
            raise SimulateError(f"{path}: no {model.KIND} named {name!r} (found: {', '.join(names)})")
        chosen = names.index(name)
    elif len(plans) > 1:
        raise SimulateError(f"{path}: {len(plans)} plans ({', '.join(names)}); choose one with --plan NAME")
    else:
        chosen = 0
    try:
        spec = model.RecoveryPlanSpec.model_validate(plans[chosen].get("spec") or {})
    except ValidationError as err:
        raise SimulateError(f"{path}: {names[chosen]}: {describe_validation_error(err)}") from err
    return LoadedPlan(names[chosen], spec)


def compare(plan: LoadedPlan, given: storm.Assumptions) -> storm.Comparison:
    """Run the storm model for the plan's traffic stage; errors name the plan."""
    try:
        return storm.compare(storm.plan_steps(plan.spec.traffic), given)
    except storm.StormInputError as err:
        raise SimulateError(f"{plan.name}: {err}") from err


# ---- the table ----------------------------------------------------------------------------------


def _clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _span(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _row(label: str, s: storm.StepSummary) -> list[str]:
    overload = f"YES {s.overloaded_seconds}s" if s.overloaded else "no"
    return [label, f"{s.weight}%", _clock(s.start), _span(s.seconds), f"{s.demand:,.0f}", f"{s.peak_offered:,.0f}",
            f"{s.peak_load:,.0f}", f"{s.utilisation:.0%}", f"{s.headroom:,.0f}", f"{s.failed:,.0f}", overload]


HEADER = ["step", "weight", "at", "held", "demand", "peak offered", "peak load", "of capacity", "headroom",
          "failed", "overload"]


def table(result: storm.Comparison) -> str:
    """The per-step table: the plan's steps, then the binary cutover over the same time span."""
    rows = [_row(str(s.index), s) for s in result.ramp.steps]
    rows += [_row("cutover", s) for s in result.cutover.steps]
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    body = [line(r) for r in rows[:-1]] + [rule, line(rows[-1])]
    return "\n".join([line(HEADER), rule, *body])


def assumptions_line(given: storm.Assumptions) -> str:
    """The inputs in one line, so a pasted table carries what it assumed."""
    return (f"demand {given.demand:,.0f} req/s, capacity {given.capacity:,.0f} req/s (warm), "
            f"backlog {given.backlog:,.0f} requests drained over {given.drain:g}s, "
            f"cold cache x{given.cold_factor:g} warming over {given.warmup:g}s, retry factor {given.retry_factor:g}")


def verdict(result: storm.Comparison) -> str:
    """One line: the peak load of both against the capacity."""
    capacity = result.assumptions.capacity

    def part(run: storm.Run) -> str:
        peak = run.peak_load
        state = (f"overloaded {run.overloaded_seconds}s, {run.failed:,.0f} requests failed" if run.overloaded_seconds
                 else "within capacity")
        return f"{run.name} peaks at {peak:,.0f} ({peak / capacity:.0%} of {capacity:,.0f}), {state}"

    return f"verdict: {part(result.ramp)}; {part(result.cutover)}"


def report(plan: LoadedPlan, result: storm.Comparison) -> str:
    """What ``reentry simulate`` prints."""
    return "\n".join([f"re-entry storm model for {plan.name}: {assumptions_line(result.assumptions)}", "",
                      table(result), "", verdict(result)])


# ---- the chart ----------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 880, 420
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 24, 92, 56
_RAMP_COLOUR, _CUTOVER_COLOUR, _CAPACITY_COLOUR = "#1f77b4", "#d62728", "#555555"


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = span / ticks
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    return next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)


def svg(plan: LoadedPlan, result: storm.Comparison) -> str:
    """A line chart of the load per second: the ramp, the binary cutover and the capacity."""
    given = result.assumptions
    span = max(len(result.ramp.seconds), 1)
    top = max(result.ramp.peak_load, result.cutover.peak_load, given.capacity) * 1.1
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(t: float) -> float:
        return _LEFT + plot_w * t / span

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    def polyline(run: storm.Run, colour: str) -> str:
        points = " ".join(f"{x(s.t):.1f},{y(s.load):.1f}" for s in run.seconds)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>re-entry storm model: {escape(plan.name)}</title>",
        f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
        f'<text x="{_LEFT}" y="22" font-size="15">Load on the restored backend: {escape(plan.name)}</text>',
    ]
    # The assumptions on two lines: one line is wider than the chart.
    first, second = assumptions_line(given).split(", cold cache")
    parts += [f'<text x="{_LEFT}" y="38" fill="#555">{escape(first)},</text>',
              f'<text x="{_LEFT}" y="53" fill="#555">cold cache{escape(second)}</text>']
    load_step = _nice_step(top)
    value = 0.0
    while value <= top:
        parts.append(f'<line x1="{_LEFT}" y1="{y(value):.1f}" x2="{_WIDTH - _RIGHT}" y2="{y(value):.1f}" '
                     'stroke="#e5e5e5"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,.0f}</text>')
        value += load_step
    minute_step = max(1, int(_nice_step(span / 60)))
    for minute in range(0, span // 60 + 1, minute_step):
        parts.append(f'<text x="{x(minute * 60):.1f}" y="{_HEIGHT - _BOTTOM + 18}" '
                     f'text-anchor="middle">{minute}</text>')
    # Where each step of the ramp begins, with its weight, so the chart reads against the table.
    for step in result.ramp.steps:
        parts.append(f'<line x1="{x(step.start):.1f}" y1="{_TOP}" x2="{x(step.start):.1f}" y2="{_TOP + plot_h}" '
                     'stroke="#9ecae1" stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{x(step.start) + 3:.1f}" y="{_TOP + 12}" fill="{_RAMP_COLOUR}" '
                     f'font-size="10">{step.weight}%</text>')
    parts += [
        f'<text x="{_LEFT + plot_w / 2}" y="{_HEIGHT - 14}" text-anchor="middle">minutes since re-entry began</text>',
        f'<text x="16" y="{_TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_TOP + plot_h / 2})">load (warm req/s)</text>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{y(given.capacity):.1f}" x2="{_WIDTH - _RIGHT}" y2="{y(given.capacity):.1f}" '
        f'stroke="{_CAPACITY_COLOUR}" stroke-dasharray="6 4"/>',
        polyline(result.cutover, _CUTOVER_COLOUR),
        polyline(result.ramp, _RAMP_COLOUR),
    ]
    legend = [(_RAMP_COLOUR, "none", f"ramp ({len(result.ramp.steps)} steps), peak {result.ramp.peak_load:,.0f}"),
              (_CUTOVER_COLOUR, "none", f"binary cutover, peak {result.cutover.peak_load:,.0f}"),
              (_CAPACITY_COLOUR, "6 4", f"capacity {given.capacity:,.0f}")]
    # The legend is one row between the subtitle and the plot, where no line or step label reaches.
    for i, (colour, dashes, label) in enumerate(legend):
        lx = _LEFT + 260 * i
        parts.append(f'<line x1="{lx}" y1="{_TOP - 18}" x2="{lx + 20}" y2="{_TOP - 18}" stroke="{colour}" '
                     f'stroke-width="2" stroke-dasharray="{dashes}"/>')
        parts.append(f'<text x="{lx + 26}" y="{_TOP - 14}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
