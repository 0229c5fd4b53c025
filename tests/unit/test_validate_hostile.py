"""`reentry validate` on hostile or malformed files: one `file:line:` error each, never a traceback."""

from __future__ import annotations

from pathlib import Path

from reentry import validate
from reentry.cli import main

PLAN = ("apiVersion: reentry.dev/v1alpha1\nkind: RecoveryPlan\nmetadata: {name: p}\n"
        "spec:\n  owner: {team: t}\n  services: [{name: a, selector: {}, service: a%s}]\n%s")


def run(tmp_path: Path, capsys, text: str | bytes) -> tuple[int, list[str]]:
    path = tmp_path / "plan.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    code = main(["validate", str(path)])
    return code, capsys.readouterr().out.splitlines()


def test_metadata_name_and_namespace_of_the_wrong_yaml_type_are_findings(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, PLAN.replace("metadata: {name: p}", "metadata: [p]") % ("", ""))
    assert code == 1 and lines[0].endswith("metadata: metadata must be a mapping, not a list")
    code, lines = run(tmp_path, capsys, PLAN.replace("{name: p}", "{name: 7, namespace: [x]}") % ("", ""))
    assert code == 1
    assert any(line.endswith("metadata.name must be a string, not a number") for line in lines)
    assert any(line.endswith("metadata.namespace must be a string, not a list") for line in lines)
    # An object of the bundle with a namespace of the wrong type is left out, not a crash
    other = "---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: {x: 1}}\n"
    code, lines = run(tmp_path, capsys, PLAN % ("", other))
    assert code == 0 and "Service a is not in the bundle" in lines[0]


def test_a_file_that_is_not_utf8_is_named_at_the_line_of_its_first_bad_byte(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, b"kind: ConfigMap\nmetadata:\n  name: \xff\xfe\n")
    assert code == 1 and lines == [f"{tmp_path / 'plan.yaml'}:3: not UTF-8 text: byte 0xff at offset 34"]


def test_deep_nesting_and_alias_bombs_are_refused_before_any_document_is_built(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert code == 1 and lines == [f"{tmp_path / 'plan.yaml'}:1: YAML: nested deeper than 100 levels"]
    bomb = ["x0: &a0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]  # 9**9 values
    code, lines = run(tmp_path, capsys, "\n".join(bomb) + "\n")
    assert code == 1 and len(lines) == 1 and "more than 250,000 values once its aliases are expanded" in lines[0]
    # Aliases that stay small are fine
    assert validate.check_size("a: &x [1, 2]\nb: *x\nc: *x\n") is None


def test_types_are_as_strict_as_the_crds_schema(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, PLAN % (", minReadyEndpoints: '2'", "  validation: {approval: "
                                                                              "{required: 'true'}}\n"))
    assert code == 1
    assert any("spec.services[0].minReadyEndpoints: Input should be a valid integer" in line for line in lines)
    assert any("spec.validation.approval.required: Input should be a valid boolean" in line for line in lines)
    code, lines = run(tmp_path, capsys, PLAN % ("", "  traffic: {steps: [{weight: .nan}]}\n"))
    assert code == 1 and any("spec.traffic.steps[0].weight: not a number the API server accepts" in line
                             for line in lines)


def test_a_name_cannot_forge_a_line_of_the_report(tmp_path, capsys):
    forged = PLAN.replace("{name: p}", '{name: "p\\n/etc/passwd:1: all good\\u001b[2J"}') % ("", "")
    code, lines = run(tmp_path, capsys, forged)
    assert code == 0 and len(lines) == 1  # one warning (Service a), on one line
    assert "p\\n/etc/passwd:1: all good\\x1b[2J" in lines[0]


def test_a_control_character_is_a_finding_at_its_line_not_a_traceback(tmp_path):
    # found by the property-based tests (tests/unit/test_properties.py)
    from reentry import validate

    path = tmp_path / "plan.yaml"
    path.write_text("kind: RecoveryPlan\nmetadata: {name: a}\nspec: \x08\n")
    report = validate.validate_bundle([str(path)])
    assert [(f.line, f.message) for f in report.findings] == [
        (3, "YAML: unacceptable character #x0008: special characters are not allowed")]
