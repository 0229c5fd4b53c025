"""Property-based tests (hypothesis): whatever a plan author or the cluster throws at it, nothing crashes.

- ``reentry validate`` on arbitrary text and on real plans mutated at random (fields deleted,
  replaced by values of any JSON type, added) reports findings and never raises; its catch-all for
  a bug in a plan's checks (a finding that says "could not check") never fires either.
- The model and the engine: a mutated plan either fails validation (a ValidationError, which the
  operator reports in status) or is evaluated over several rounds of random observations (pods
  released or not, endpoints, every check's outcome, every action's state, the controls, time
  moving on) without an exception, the status of each round fed to the next.

``make test`` runs a CI-sized number of examples (REENTRY_FUZZ_EXAMPLES, 150 by default);
``make fuzz`` runs 1,000,000 split over these properties by their cost, in parallel: 700,000 of
arbitrary text, 100,000 mutated plans through ``validate``, 200,000 through the model and the engine.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reentry import model, validate
from reentry.engine import sections
from reentry.engine.observations import (
    ActionProgress,
    ApprovalNote,
    CheckResult,
    Controls,
    Observations,
    PodObservation,
    ServiceObservation,
)
from reentry.engine.reconcile import evaluate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("REENTRY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="REENTRY_FUZZ_SEED" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seed_plans() -> list[dict[str, Any]]:
    plans = []
    for path in sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/cookbook/*.yaml")]):
        plans += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == model.KIND]
    return plans


SEEDS = _seed_plans()

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12) | st.sampled_from(["", "0", "1s", "30m", "Pass", "a/b", "..", "-1", "1e400", "100%"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*path, index))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_plans(draw: st.DrawFn) -> dict[str, Any]:
    """A real plan with a few random mutations: a field deleted, replaced by any value, or added."""
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent, last = _at(doc, path[:-1]), path[-1]
        how = draw(st.sampled_from(["delete", "replace", "add"]))
        if how == "delete":
            del parent[last]
        elif how == "replace":
            parent[last] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(values)
        else:
            parent.insert(last, draw(values))
    return doc


def _scratch(tmp_path_factory: Any) -> Path:
    """One directory for every example (a directory each would cost a scan of all the others at each
    example: quadratic over a million)."""
    path: Path = tmp_path_factory.getbasetemp() / "fuzz"
    path.mkdir(exist_ok=True)
    return path


def _validate(tmp: Path, text: str) -> validate.Report:
    path = tmp / "bundle.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    report = validate.validate_bundle([str(path)])
    bugs = [f for f in report.findings if "reentry validate could not" in f.message]
    assert not bugs, bugs
    return report


@FUZZ
@given(text=st.text(max_size=300))
def test_validate_never_raises_on_any_text(tmp_path_factory: Any, text: str) -> None:
    _validate(_scratch(tmp_path_factory), text)


@FUZZ
@given(doc=mutated_plans())
def test_validate_never_raises_on_a_mutated_plan(tmp_path_factory: Any, doc: dict[str, Any]) -> None:
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return
    _validate(_scratch(tmp_path_factory), text)


def _all_checks(spec: model.RecoveryPlanSpec) -> list[str]:
    return [check.name for _, check in sections.check_items(spec)]


def _all_actions(spec: model.RecoveryPlanSpec) -> list[str]:
    return [action.name for _, action in sections.action_items(spec)]


@st.composite
def observations(draw: st.DrawFn, spec: model.RecoveryPlanSpec) -> Observations:
    services = {}
    for service in spec.services:
        count = draw(st.integers(0, 4))
        pods = tuple(PodObservation(f"{service.name}-{i}", gated=draw(st.booleans()), released=draw(st.booleans()))
                     for i in range(count))
        services[service.name] = ServiceObservation(pods, ready_endpoints=draw(st.integers(0, 5)),
                                                    service_exists=draw(st.booleans()))
    checks = {name: CheckResult(draw(st.sampled_from(list(model.Outcome))), observed=draw(st.none() | st.text(
        max_size=8)), message=draw(st.text(max_size=8))) for name in _all_checks(spec) if draw(st.booleans())}
    actions = {name: ActionProgress(draw(st.sampled_from(list(model.ActionState))), record=draw(st.dictionaries(
        st.text(max_size=5), scalars, max_size=2))) for name in _all_actions(spec) if draw(st.booleans())}
    controls = Controls(start=draw(st.booleans()), paused=draw(st.booleans()),
                        resume_token=draw(st.none() | st.text(max_size=5)),
                        abort_reason=draw(st.none() | st.text(max_size=5)),
                        approval=draw(st.none() | st.builds(ApprovalNote, st.text(min_size=1, max_size=5))))
    return Observations(services=services, controls=controls, checks=checks, actions=actions,
                        missing_refs=tuple(draw(st.lists(st.text(max_size=5), max_size=2))))


@FUZZ
@given(doc=mutated_plans(), data=st.data())
def test_the_model_refuses_or_the_engine_evaluates_round_after_round(doc: dict[str, Any], data: st.DataObject) -> None:
    try:
        spec = model.RecoveryPlanSpec.model_validate(doc.get("spec"))
    except ValidationError:
        return  # the operator reports it in status (Failed, the cause named)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    status = None
    for _ in range(data.draw(st.integers(1, 5))):
        decision = evaluate(spec, 1, status, data.draw(observations(spec)), now)
        # what the operator writes must be what it can read back
        status = model.RecoveryPlanStatus.model_validate(decision.status.model_dump(mode="json", exclude_none=True))
        now += timedelta(seconds=data.draw(st.integers(0, 4000)))
