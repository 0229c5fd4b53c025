"""`reentry validate` catches in CI what the operator would report in status."""

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
