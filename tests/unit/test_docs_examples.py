"""The plans shown in the README and docs/ are valid plans: an example that no longer validates fails here.

Whole RecoveryPlans are validated as they are; fragments that show one part of a spec (a
``traffic:`` section, a ``state:`` section, ...) are validated inside a minimal plan, so a renamed
field or a wrong type in a snippet is caught too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reentry.model import RecoveryPlan, RecoveryPlanSpec

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
MINIMAL = {"owner": {"team": "t"}, "services": [{"name": "a", "selector": {}, "service": "a"}]}
SPEC_FIELDS = set(RecoveryPlanSpec.model_fields)


def blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def plan_parts(source: str) -> list[dict]:
    """What a block shows of a plan: whole plans, or spec fragments (top-level keys that are spec fields)."""
    try:
        docs = [d for d in yaml.safe_load_all(source) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []
    parts = []
    for doc in docs:
        if doc.get("kind") == "RecoveryPlan":
            parts.append(doc)
        elif "spec" in doc and set(doc["spec"] or {}) & SPEC_FIELDS and "kind" not in doc:
            parts.append({"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan",
                          "spec": {**MINIMAL, **doc["spec"]}})
        elif doc and set(doc) <= SPEC_FIELDS:
            parts.append({"apiVersion": "reentry.dev/v1alpha1", "kind": "RecoveryPlan", "spec": {**MINIMAL, **doc}})
    return parts


EXAMPLES = [(where, part) for where, source in blocks() for part in plan_parts(source)]


def test_the_docs_show_plans():
    assert len(EXAMPLES) >= 10, [w for w, _ in EXAMPLES]


@pytest.mark.parametrize(("where", "plan"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_plan_in_the_docs_validates(where, plan):
    RecoveryPlan.model_validate(plan)
