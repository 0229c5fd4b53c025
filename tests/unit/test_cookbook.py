"""The cookbook's plans are files under examples/cookbook/; the doc shows them verbatim and they all validate.

Beyond validating, a recipe's central claim is replayed through the engine where the prose rests
on it, so a change in the engine that breaks the recipe's reasoning fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reentry import cli, model
from reentry.engine import problems
from reentry.engine.observations import ActionProgress, Controls, Observations, ServiceObservation
from reentry.engine.ramp import value_at
from reentry.engine.reconcile import evaluate
from reentry.model import ActionState, Phase
from tests.unit.builders import passing, pods

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cookbook.md"
EXAMPLES = sorted((ROOT / "examples" / "cookbook").glob("*.yaml"))
BLOCK = re.compile(r"<!-- example: (examples/cookbook/[\w.-]+) -->\n```yaml\n(.*?)```\n", re.S)


def blocks() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text()))


def plan_of(path: Path) -> model.RecoveryPlanSpec:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == model.KIND]
    assert len(docs) == 1, f"{path.name}: one RecoveryPlan per recipe"
    return model.RecoveryPlanSpec.model_validate(docs[0]["spec"])


def test_there_are_four_recipes():
    assert {p.name for p in EXAMPLES} == {"database-failback.yaml", "signing-key-rotation.yaml", "dns-weights.yaml",
                                          "queue-consumers.yaml"}


def test_the_doc_shows_every_example_verbatim():
    shown = blocks()
    files = {str(p.relative_to(ROOT)): p.read_text() for p in EXAMPLES}
    assert set(shown) == set(files), "docs/cookbook.md and examples/cookbook/ name different files"
    for name, text in files.items():
        assert shown[name] == text, f"docs/cookbook.md shows an outdated {name}: copy the file into its block"
    # no other yaml block that could drift unnoticed
    assert DOC.read_text().count("```yaml") == len(files)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_offline_in_strict_mode(path: Path, capsys):
    assert cli.main(["validate", "--strict", str(path)]) == 0, capsys.readouterr().out
    spec = plan_of(path)
    assert problems.of(spec) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_holds_its_pods_behind_the_gate(path: Path):
    """A service the plan releases must carry the readiness gate, or the plan holds nothing back."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    templates = {(d["spec"]["template"]["metadata"]["labels"].get("app")): d["spec"]["template"]["spec"]
                 for d in docs if d["kind"] in ("Deployment", "StatefulSet")}
    for service in plan_of(path).services:
        app = service.selector.matchLabels["app"]
        gates = [g["conditionType"] for g in templates[app].get("readinessGates", [])]
        assert model.READINESS_GATE in gates, f"{path.name}: {service.name}'s pods carry no readiness gate"


def test_database_writer_moves_only_after_the_lag_checks_and_before_any_pod(clock):
    spec = plan_of(ROOT / "examples/cookbook/database-failback.yaml")
    everyone = {"db-proxy": ServiceObservation(pods("proxy", 2)), "orders-api": ServiceObservation(pods("api", 4)),
                "orders-worker": ServiceObservation(pods("worker", 3))}
    lagging = {"primary-rolled-out": passing("3/3"), "replica-lag": passing("0.4")}
    status = None
    started = Controls(start=True)

    def step(checks, actions=None, seconds=1.0):
        nonlocal status
        decision = evaluate(spec, 1, status, Observations(services=everyone, controls=started, checks=checks,
                                                          actions=actions or {}), clock.tick(seconds))
        status = decision.status
        return decision

    step(lagging)
    assert status.phase == Phase.STATE_RECONCILIATION  # replica-lag must hold for 2m (stableFor)
    assert [a.name for a in status.actions if a.state != ActionState.PENDING] == []
    d = step(lagging, seconds=121)
    assert status.phase == Phase.DEPENDENCY_CONVERGENCE
    assert {a.name: a.state for a in status.actions}["writer-back-to-primary"] == ActionState.RUNNING
    assert d.releases == [], "no pod is let in while the writer endpoint is still moving"
    d = step({}, actions={"writer-back-to-primary": ActionProgress(ActionState.SUCCEEDED, message="patched")})
    assert [r.service for r in d.releases] == ["db-proxy"]


def test_dns_weights_always_add_up_to_one_hundred():
    spec = plan_of(ROOT / "examples/cookbook/dns-weights.yaml")
    home, dr = (t.annotation for t in spec.traffic.targets)
    assert home is not None and dr is not None and home.key == dr.key
    for weight in [0] + [s.weight for s in spec.traffic.steps]:
        shown_home = value_at(home.from_, home.to, weight)
        assert shown_home == weight
        assert shown_home + value_at(dr.from_, dr.to, weight) == 100


def test_queue_consumers_start_degraded_and_end_at_full_strength():
    path = ROOT / "examples/cookbook/queue-consumers.yaml"
    spec = plan_of(path)
    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(path.read_text()) if d}
    scale = next(t.scale for t in spec.traffic.targets if t.scale)
    retry = next(t.configMapKey for t in spec.traffic.targets if t.configMapKey)
    # The manifests are the degraded state the ramp starts from (weight 0)...
    assert objects[("Deployment", scale.name)]["spec"]["replicas"] == value_at(scale.from_, scale.to, 0)
    assert objects[("ConfigMap", retry.name)]["data"][retry.key] == str(value_at(retry.from_, retry.to, 0))
    # ...an abort returns there, and the last step is full strength.
    assert spec.traffic.safeState == model.SafeState.FALLBACK
    assert spec.traffic.steps[-1].weight == 100
