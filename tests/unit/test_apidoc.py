"""docs/api.md is generated from the models; this fails when someone forgets to regenerate it."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from reentry import apidoc, model

ROOT = Path(__file__).resolve().parents[2]


def test_committed_reference_matches_the_models():
    committed = (ROOT / apidoc.API_FILE).read_text()
    assert committed == apidoc.render(), "docs/api.md is stale: run `make docs` (python -m reentry.apidoc)"


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {p.split("\n", 1)[0]: p for p in parts}


def test_every_field_of_every_reachable_model_is_listed():
    sections = _sections(apidoc.render())
    found = apidoc.models()
    assert model.Check in found and model.TrafficStep in found and model.TargetStatus in found
    for cls in found:
        assert cls.__name__ in sections, cls
        for name, info in cls.model_fields.items():
            assert f"| `{info.alias or name}` |" in sections[cls.__name__], f"{cls.__name__}.{name}"


def test_links_point_at_sections():
    text = apidoc.render()
    anchors = {name.lower() for name in _sections(text)}
    for target in re.findall(r"\]\(#([a-z]+)\)", text):
        assert target in anchors, target


def test_types_defaults_and_constraints_read_as_yaml_users_expect():
    sections = _sections(apidoc.render())
    release = sections["Release"]
    assert '| `batch` | integer or string | `"100%"` |' in release
    assert '| `interval` | duration | `"0s"` |' in release
    step = sections["TrafficStep"]
    assert "| `weight` | integer | **required** |" in step and "at least 0; at most 100" in step
    assert "| `from` | integer | **required** |" in sections["Ramp"]  # the alias, not the Python name
    assert "Exactly one of `workload`, `endpoints`" in sections["Check"]
    assert "| `patch` | object (free-form) |" in sections["PatchAction"]
    assert "| `matchLabels` | map of string to string | `{}` |" in sections["LabelSelector"]
    assert "| `validation` | [ValidationStage](#validationstage) | `{}` |" in sections["RecoveryPlanSpec"]


def test_every_enum_value_is_listed():
    text = apidoc.render()
    enums = {info.annotation for cls in apidoc.models() for info in cls.model_fields.values()
             if isinstance(info.annotation, type) and issubclass(info.annotation, Enum)}
    for enum in (model.Phase, model.StartPolicy, model.OnFailure, model.SafeState, model.Outcome, *enums):
        for member in enum:
            assert f"`{member.value}`" in text, f"{enum.__name__}.{member.name}"
