"""`reentry validate` catches in CI what the operator would report in status."""

import io
import json
from pathlib import Path

import yaml

from reentry.cli import main

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, spec: dict) -> Path:
    doc = {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "metadata": {"name": "p"}, "spec": spec}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def base(**extra):
    return {"owner": {"team": "t"}, "services": [
        {"name": "a", "selector": {}, "service": "a", "dependsOn": ["b"]},
        {"name": "b", "selector": {}, "service": "b"}], **extra}


def test_the_examples_are_valid(capsys):
    examples = ROOT / "examples"
    assert main(["validate", str(examples / "checkout-failback.yaml"), str(examples / "shop.yaml")]) == 0
    assert capsys.readouterr().out == ""


def test_cycle_unknown_service_bad_type_and_bad_path_are_named(tmp_path, capsys):
    spec = base()
    spec["services"][1]["dependsOn"] = ["a", "ghost"]
    assert main(["validate", str(write(tmp_path, spec))]) == 1
    out = capsys.readouterr().out
    assert "service 'b' dependsOn unknown service 'ghost'" in out
    assert "dependsOn cycle: a -> b -> a" in out

    spec = base()
    spec["services"][0]["minReadyEndpoints"] = "two"
    assert main(["validate", str(write(tmp_path, spec))]) == 1
    assert "spec.services[0].minReadyEndpoints" in capsys.readouterr().out

    spec = base(state={"checks": [{"name": "c", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x",
                                                             "path": ".data[", "max": 1}}]})
    assert main(["validate", str(write(tmp_path, spec))]) == 1
    assert "check c:" in capsys.readouterr().out


def test_a_reference_to_another_namespace_is_a_warning_at_its_field(tmp_path, capsys):
    spec = base(identity={"checks": [{"name": "tls", "certificate": {"secret": "tls", "namespace": "vault"}},
                                     {"name": "own", "certificate": {"secret": "tls", "namespace": "shop"}}]})
    doc = {"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan",
           "metadata": {"name": "p", "namespace": "shop"}, "spec": spec}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 0
    assert main(["validate", "--strict", str(path)]) == 1  # strict: the Services are not in the bundle
    lines = [line for line in capsys.readouterr().out.splitlines() if "names namespace" in line]
    assert len(lines) == 2 and all("warning: p: spec.identity.checks[0].certificate.namespace: names namespace "
                                   "vault: the operator acts on it only once that namespace grants namespace shop "
                                   "(ConfigMap reentry-reference-grant, key from)" in line for line in lines)


# ---- a bundle for CI: file:line, warnings for references outside it, --strict, JSON ----------------

FIXTURES = ROOT / "tests" / "fixtures" / "validate"


def run(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["validate", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_a_broken_bundle_names_file_line_and_field_of_each_error(capsys):
    plans = FIXTURES / "broken" / "plans.yaml"
    code, lines = run(capsys, str(FIXTURES / "broken"))
    assert code == 1
    errors = [line for line in lines if ": warning: " not in line]
    assert errors == [
        f"{plans}:13: cyclic: spec.services[0].dependsOn[0]: dependsOn cycle: auth -> checkout -> orders -> auth",
        f"{plans}:19: cyclic: spec.services[1].dependsOn[1]: service 'orders' dependsOn unknown service 'ledger'",
        f"{plans}:29: cyclic: spec.overrides[0].check: override names unknown check 'replica-lagg'",
        f"{plans}:42: mistyped: spec.services[0].minReadyEndpoints: Input should be a valid integer",
    ]
    # shop.yaml in the same directory carries Services auth and orders, so only checkout and the ConfigMap warn.
    assert [line for line in lines if ": warning: " in line] == [
        f"{plans}:22: warning: cyclic: spec.services[2].service: service checkout: Service checkout in namespace "
        "shop is not in the bundle",
        f"{plans}:27: warning: cyclic: spec.state.checks[0].resource.name: check replica-lag: ConfigMap db-lag in "
        "namespace shop is not in the bundle",
    ]


def test_references_resolve_across_files_and_lists_and_strict_turns_misses_into_errors(capsys):
    good = FIXTURES / "good"
    assert run(capsys, str(good / "plan.yaml"), str(good / "objects.yaml")) == (0, [])
    code, lines = run(capsys, str(good / "plan.yaml"))
    assert code == 0 and len(lines) == 7 and all(": warning: " in line for line in lines)
    assert f"{good / 'plan.yaml'}:20: warning: checkout-traffic: spec.traffic.targets[0].httpRoute.name: traffic " \
           "target httpRoute/checkout: HTTPRoute checkout in namespace shop is not in the bundle" in lines
    code, lines = run(capsys, "--strict", str(good / "plan.yaml"))
    assert code == 1 and len(lines) == 7 and not any(": warning: " in line for line in lines)


def test_json_output_for_machines(capsys):
    code = main(["validate", "--output", "json", str(FIXTURES / "broken")])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (report["ok"], report["plans"], report["errors"], report["warnings"]) == (False, 2, 4, 2)
    cycle = report["findings"][0]
    assert cycle == {"file": str(FIXTURES / "broken" / "plans.yaml"), "line": 13, "severity": "error",
                     "plan": "cyclic", "field": "spec.services[0].dependsOn[0]",
                     "message": "dependsOn cycle: auth -> checkout -> orders -> auth"}
    assert main(["validate", "-o", "json", str(FIXTURES / "good")]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_yaml_errors_unreadable_files_wrong_api_version_and_stdin(tmp_path, capsys, monkeypatch):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: RecoveryPlan\nmetadata:\n  name: p\n  labels: [a\n")
    code, lines = run(capsys, str(broken), str(tmp_path / "absent.yaml"))
    assert code == 1
    assert lines[0].startswith(f"{broken}:5: YAML: ")
    assert lines[1].startswith(f"{tmp_path / 'absent.yaml'}:1: cannot read: No such file or directory")

    old = tmp_path / "old.yaml"
    old.write_text("apiVersion: reentry.dev/v1beta9\nkind: RecoveryPlan\nmetadata: {name: p}\n"
                   "spec:\n  owner: {team: t}\n  services: [{name: a, selector: {}, service: a}]\n")
    code, lines = run(capsys, "--strict", str(old))
    assert code == 1
    assert lines[0] == f"{old}:1: p: apiVersion: apiVersion 'reentry.dev/v1beta9' is not reentry.dev/v1alpha1"

    monkeypatch.setattr("sys.stdin", io.StringIO((ROOT / "examples" / "checkout-failback.yaml").read_text()))
    code, lines = run(capsys, "-", str(ROOT / "examples" / "shop.yaml"))
    assert (code, lines) == (0, [])


def test_the_output_shown_in_the_docs_is_what_the_fixture_gives(capsys, monkeypatch):
    doc = (ROOT / "docs" / "validate.md").read_text()
    shown = doc.split("$ reentry validate tests/fixtures/validate/broken; echo \"exit $?\"\n", 1)[1].split("```")[0]
    monkeypatch.chdir(ROOT)
    code = main(["validate", "tests/fixtures/validate/broken"])
    captured = capsys.readouterr()
    assert shown == captured.out + captured.err + f"exit {code}\n"


def test_every_check_and_action_list_of_a_spec_is_located_as_the_engine_orders_it():
    from reentry import model
    from reentry.engine import sections
    from reentry.plugin import controls

    def check(name):
        return {"name": name, "endpoints": {"service": "a"}}

    def action(name):
        return {"name": name, "job": {"spec": {}}}

    raw = base(technicalRecovery={"checks": [check("tr")]},
               identity={"checks": [check("id")], "actions": [action("id-a")]},
               state={"checks": [check("st")], "actions": [action("st-a")]},
               dependencies={"checks": [check("de")], "actions": [action("de-a")]},
               traffic={"checks": [check("tc")], "analysis": [check("ta")]},
               validation={"checks": [check("va")]})
    spec = model.RecoveryPlanSpec.model_validate(raw)
    checks = sections.check_items(spec)
    assert [c.name for _, c in checks] == [c.name for _, c in sections.all_checks(spec)]
    assert [loc for loc, _ in checks] == [
        ("technicalRecovery", "checks", 0), ("identity", "checks", 0), ("state", "checks", 0),
        ("dependencies", "checks", 0), ("traffic", "checks", 0), ("traffic", "analysis", 0),
        ("validation", "checks", 0)]
    assert [(loc, a.name) for loc, a in sections.action_items(spec)] == [
        (("identity", "actions", 0), "id-a"), (("state", "actions", 0), "st-a"),
        (("dependencies", "actions", 0), "de-a")]
    assert [a.name for _, a in sections.all_actions(spec)] == ["id-a", "st-a", "de-a"]
    # The plugin reads the same lists from the raw spec (it must cope with one that does not validate).
    assert controls.check_names(raw) == [c.name for _, c in checks]
