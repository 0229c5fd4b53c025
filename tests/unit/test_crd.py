"""The CRD in crds/ is generated from the models; this fails when someone forgets to regenerate."""

from pathlib import Path

import yaml

from reentry import crd

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crd_matches_the_models():
    committed = (ROOT / "crds" / crd.CRD_FILE).read_text()
    assert committed == crd.render(), (
        "crds/ is stale: run `python -m reentry.crd` (or `make crds`) and commit the result")


def _walk(node, path="schema"):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_schema_is_structural():
    schema = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "title" not in node, path
        assert node.get("additionalProperties") is not False, path
        assert "anyOf" not in node or node.get("x-kubernetes-int-or-string"), path


def test_fixed_names_and_printer_columns():
    obj = yaml.safe_load(crd.render())
    assert obj["metadata"]["name"] == "recoveryplans.reentry.dev"
    assert obj["spec"]["names"]["shortNames"] == ["rplan"]
    version = obj["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert columns["Stage"] == ".status.stage"
    assert columns["Weight"] == ".status.traffic.weight"
    assert columns["Age"] == ".metadata.creationTimestamp"
