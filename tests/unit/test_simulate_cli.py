"""`reentry simulate` on the example plan: the table, the verdict and a well-formed SVG chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from reentry.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "traffic-ramp.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def test_simulate_prints_a_row_per_step_then_the_cutover_and_a_verdict(tmp_path, capsys):
    chart = tmp_path / "storm.svg"
    assert main(["simulate", str(EXAMPLE), "--plot", str(chart)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step"))
    assert lines[header].split()[:4] == ["step", "weight", "at", "held"]
    steps = yaml.safe_load(EXAMPLE.read_text())["spec"]["traffic"]["steps"]
    rows = lines[header + 2: header + 2 + len(steps)]
    assert [r.split()[1] for r in rows] == [f"{s['weight']}%" for s in steps]
    assert all(r.split()[-1] == "no" for r in rows)
    cutover = next(line for line in lines if line.startswith("cutover"))
    assert "YES" in cutover
    verdict = next(line for line in lines if line.startswith("verdict:"))
    assert "ramp peaks at 1,250 (83% of 1,500), within capacity" in verdict
    assert "binary cutover peaks at" in verdict and "overloaded" in verdict

    root = ET.parse(chart).getroot()
    assert root.tag == f"{SVG}svg"
    lines_drawn = root.findall(f"{SVG}polyline")
    assert len(lines_drawn) == 2
    # One point per simulated second for each run: 19 minutes of steps.
    assert all(len(p.get("points", "").split()) == 19 * 60 for p in lines_drawn)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "binary cutover, peak" in texts and "capacity 1,500" in texts


def test_the_flags_change_the_model(capsys):
    assert main(["simulate", str(EXAMPLE), "--demand", "400", "--capacity", "4000", "--backlog", "0",
                 "--cold-factor", "1", "--warmup", "0", "--drain", "2m", "--retry-factor", "0"]) == 0
    out = capsys.readouterr().out
    assert "demand 400 req/s, capacity 4,000 req/s (warm), backlog 0 requests drained over 120s" in out
    assert "binary cutover peaks at 400 (10% of 4,000), within capacity" in out


def test_several_plans_need_a_name_and_a_plan_without_steps_is_refused(tmp_path, capsys):
    plan = yaml.safe_load(EXAMPLE.read_text())
    bare = {**plan, "metadata": {"name": "no-traffic"},
            "spec": {k: v for k, v in plan["spec"].items() if k != "traffic"}}
    both = tmp_path / "bundle.yaml"
    both.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}},
                                        plan, bare]))

    assert main(["simulate", str(both)]) == 1
    assert "2 plans (checkout-traffic, no-traffic); choose one with --plan NAME" in capsys.readouterr().err

    assert main(["simulate", str(both), "--plan", "no-traffic"]) == 1
    assert "no-traffic: the plan's traffic stage has no steps and no adaptive ramp" in capsys.readouterr().err

    assert main(["simulate", str(both), "--plan", "ghost"]) == 1
    assert "no RecoveryPlan named 'ghost'" in capsys.readouterr().err

    assert main(["simulate", str(both), "--plan", "checkout-traffic", "--retry-factor", "1.5"]) == 1
    assert "retry factor must be at least 0 and below 1 (got 1.5)" in capsys.readouterr().err

    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml" in capsys.readouterr().err


def test_the_docs_show_the_real_output(capsys):
    """docs/simulate.md quotes the command's output for the example; it must not drift from it."""
    assert main(["simulate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out.strip()
    doc = (ROOT / "docs" / "simulate.md").read_text()
    assert f"```\n{out}\n```" in doc


def test_the_example_plan_is_valid(capsys):
    """The plan the docs simulate passes `reentry validate` (warnings only: its objects live elsewhere)."""
    assert main(["validate", str(EXAMPLE)]) == 0
    assert ": error:" not in capsys.readouterr().out


def test_the_docs_chart_is_the_commands_chart(tmp_path, capsys):
    """docs/simulate-example.svg is what `--plot` writes for the example today."""
    chart = tmp_path / "storm.svg"
    assert main(["simulate", str(EXAMPLE), "--plot", str(chart)]) == 0
    capsys.readouterr()
    assert chart.read_text() == (ROOT / "docs" / "simulate-example.svg").read_text()


def test_a_yaml_error_is_named_by_line_without_quoting_the_line(tmp_path, capsys):
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(EXAMPLE.read_text() + "---\napiVersion: v1\nkind: Secret\nstringData:\n"
                      "  password: hunter2-value: oops\n")
    line = bundle.read_text().splitlines().index("  password: hunter2-value: oops") + 1
    assert main(["simulate", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert f"reentry simulate: {bundle}:{line}: YAML: mapping values are not allowed here" in err
    assert "hunter2" not in err
