"""The Gateway API install's pure parts: which CRDs a kubectl answer shows Established, and the pinned release."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reentry.sandbox import gateway_api
from reentry.sandbox.binaries import GOMOD_DIR


def crd(name: str, established: str | None) -> dict[str, Any]:
    conditions = [] if established is None else [{"type": "Established", "status": established}]
    return {"kind": "CustomResourceDefinition", "metadata": {"name": name}, "status": {"conditions": conditions}}


def test_one_name_answers_the_object_itself() -> None:
    assert gateway_api.not_established(crd("httproutes.x", "True"), ["httproutes.x"]) == []
    assert gateway_api.not_established(crd("httproutes.x", None), ["httproutes.x"]) == ["httproutes.x"]


def test_several_names_answer_a_list() -> None:
    listing = {"kind": "List", "items": [crd("a", "True"), crd("b", "False"), crd("c", None)]}
    assert gateway_api.not_established(listing, ["a", "b", "c"]) == ["b", "c"]
    assert gateway_api.not_established({"kind": "List", "items": []}, ["a"]) == ["a"]


def test_crd_names_skip_other_documents(tmp_path: Path) -> None:
    file = tmp_path / "x.yaml"
    file.write_text("kind: CustomResourceDefinition\nmetadata: {name: a.example.com}\n---\n"
                    "kind: ValidatingAdmissionPolicy\nmetadata: {name: b}\n")
    assert gateway_api.crd_names([file]) == ["a.example.com"]


def test_the_wrapper_module_pins_the_version_and_its_hash() -> None:
    go_mod = (GOMOD_DIR / "gateway-api" / "go.mod").read_text()
    go_sum = (GOMOD_DIR / "gateway-api" / "go.sum").read_text()
    assert f"require {gateway_api.MODULE} {gateway_api.VERSION}" in go_mod
    assert f"{gateway_api.MODULE} {gateway_api.VERSION} h1:" in go_sum
