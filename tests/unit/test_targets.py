"""The pure parts of the traffic targets: rewriting HTTPRoute weights, ramped values, judging objects."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonpatch  # RFC 6902 reference implementation (a kopf dependency)
import pytest
import yaml

from reentry import model
from reentry.targets import TARGETS, config_map_key, hpa, http_route, ingress_nginx, scale
from reentry.targets import annotation as annotation_target
from reentry.targets.common import TargetError, as_int, generation_observed

ROUTE_SPEC = model.HttpRouteTarget(name="shop", restoredBackend="primary", fallbackBackend="dr")


def backend(name: str, weight: int | None = None, port: int = 80) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def route(generation: int = 3, parents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Two weighted rules (one with a third backend) and one unrelated rule."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "shop", "generation": generation},
        "spec": {"rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/checkout"}}],
             "backendRefs": [backend("primary", 0), backend("dr", 100)]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
             "backendRefs": [backend("cdn", 7)]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/cart"}}],
             "backendRefs": [backend("dr", 90), backend("audit", 10), backend("primary", 0)]},
        ]},
        "status": {"parents": parents or []},
    }


def parent(name: str, observed: int, status: str = "True") -> dict[str, Any]:
    return {"parentRef": {"name": name}, "controllerName": "example.com/gateway",
            "conditions": [{"type": "Accepted", "status": status, "reason": "Accepted",
                            "observedGeneration": observed}]}


def test_every_target_kind_is_registered() -> None:
    assert set(TARGETS) == {"httpRoute", "ingressNginx", "scale", "hpa", "configMapKey", "annotation"}


def test_route_weights_change_in_the_rules_naming_both_and_nowhere_else() -> None:
    before = route()
    operations = http_route.weight_operations(before, "primary", "dr", 25)
    after = jsonpatch.apply_patch(before, operations)

    rules = after["spec"]["rules"]
    assert rules[0]["backendRefs"] == [backend("primary", 25), backend("dr", 75)]
    assert rules[1] == before["spec"]["rules"][1]  # unrelated rule untouched
    assert rules[2]["backendRefs"] == [backend("dr", 75), backend("audit", 10), backend("primary", 25)]
    assert [r["matches"] for r in rules] == [r["matches"] for r in before["spec"]["rules"]]
    # Each write is guarded by a test of the backend's name at that position.
    tests = [op for op in operations if op["op"] == "test"]
    assert {op["path"]: op["value"] for op in tests} == {
        "/spec/rules/0/backendRefs/0/name": "primary", "/spec/rules/0/backendRefs/1/name": "dr",
        "/spec/rules/2/backendRefs/0/name": "dr", "/spec/rules/2/backendRefs/2/name": "primary"}


def test_a_route_already_at_the_weight_needs_no_operation() -> None:
    at_25 = jsonpatch.apply_patch(route(), http_route.weight_operations(route(), "primary", "dr", 25))
    assert http_route.weight_operations(at_25, "primary", "dr", 25) == []
    assert http_route.shows(at_25, "primary", "dr") == "primary=25 dr=75"


def test_only_the_differing_weights_are_written() -> None:
    partly = route()
    partly["spec"]["rules"][2]["backendRefs"][0]["weight"] = 60  # dr already 60 in rule 2
    operations = http_route.weight_operations(partly, "primary", "dr", 40)
    assert [op["path"] for op in operations if op["op"] == "add"] == [
        "/spec/rules/0/backendRefs/0/weight", "/spec/rules/0/backendRefs/1/weight",
        "/spec/rules/2/backendRefs/2/weight"]


def test_an_absent_weight_counts_as_the_schema_default_of_one() -> None:
    plain = route()
    plain["spec"]["rules"][0]["backendRefs"] = [backend("primary"), backend("dr")]
    plain["spec"]["rules"].pop(2)
    assert http_route.shows(plain, "primary", "dr") == "primary=1 dr=1"
    assert len(http_route.weight_operations(plain, "primary", "dr", 1)) == 2  # only dr: 1 -> 99
    assert http_route.weight_operations(plain, "primary", "dr", 1)[1]["value"] == 99


def test_rules_that_disagree_are_shown_each() -> None:
    mixed = route()
    assert http_route.shows(mixed, "primary", "dr") == "rule 0: primary=0 dr=100; rule 2: primary=0 dr=90"


def test_a_route_where_no_rule_names_both_is_a_clear_error() -> None:
    only_one = route()
    only_one["spec"]["rules"] = [{"backendRefs": [backend("primary", 1)]}, {"backendRefs": [backend("dr", 1)]}]
    with pytest.raises(TargetError, match="no rule has backendRefs naming both restoredBackend 'primary'"):
        http_route.weight_operations(only_one, "primary", "dr", 10)
    seen = http_route.judge(only_one, ROUTE_SPEC, 10)
    assert (seen.found, seen.in_place, seen.effective) == (True, False, False)
    assert "fallbackBackend 'dr'" in seen.message


def test_a_route_is_effective_once_every_parent_accepted_the_current_generation() -> None:
    at_25 = jsonpatch.apply_patch(route(), http_route.weight_operations(route(), "primary", "dr", 25))

    seen = http_route.judge(at_25, ROUTE_SPEC, 25)
    assert (seen.in_place, seen.effective) == (True, False)
    assert "no gateway has accepted" in seen.message

    at_25["status"]["parents"] = [parent("public", 3), parent("internal", 2)]
    seen = http_route.judge(at_25, ROUTE_SPEC, 25)
    assert not seen.effective and "internal: accepted generation 2, route is at 3" in seen.message

    at_25["status"]["parents"] = [parent("public", 3), parent("internal", 3, status="False")]
    assert not http_route.judge(at_25, ROUTE_SPEC, 25).effective

    at_25["status"]["parents"] = [parent("public", 3), parent("internal", 3)]
    seen = http_route.judge(at_25, ROUTE_SPEC, 25)
    assert (seen.in_place, seen.effective, seen.message) == (True, True, "")


def test_a_route_at_another_weight_is_neither_in_place_nor_effective() -> None:
    accepted = route(parents=[parent("public", 3)])
    seen = http_route.judge(accepted, ROUTE_SPEC, 50)
    assert (seen.in_place, seen.effective) == (False, False)
    assert seen.message == "wants primary=50 dr=50"


@pytest.mark.parametrize(("start", "end", "weight", "expected"), [
    (2, 10, 0, 2), (2, 10, 25, 4), (2, 10, 100, 10), (0, 12, 25, 3), (10, 2, 25, 8), (1, 4, 50, 3)])
def test_scale_follows_the_ramp(start: int, end: int, weight: int, expected: int) -> None:
    spec = model.ScaleTarget.model_validate({"name": "worker", "from": start, "to": end})
    workload = {"metadata": {"generation": 4}, "spec": {"replicas": expected}, "status": {"observedGeneration": 4}}
    seen = scale.judge(workload, spec, weight)
    assert (seen.in_place, seen.effective, seen.shows) == (True, True, f"replicas={expected}")


def test_scale_is_effective_only_once_the_controller_observed_the_generation() -> None:
    spec = model.ScaleTarget.model_validate({"name": "worker", "from": 0, "to": 8})
    workload = {"metadata": {"generation": 5}, "spec": {"replicas": 4}, "status": {"observedGeneration": 4}}
    seen = scale.judge(workload, spec, 50)
    assert (seen.in_place, seen.effective) == (True, False)
    assert not scale.judge(workload, spec, 75).in_place
    assert scale.judge(workload, spec, 75).message == "wants replicas=6"


def test_hpa_ramps_min_and_optionally_max() -> None:
    both = model.HpaTarget.model_validate({"name": "api", "minReplicas": {"from": 1, "to": 6},
                                           "maxReplicas": {"from": 3, "to": 20}})
    assert hpa.wanted(both, 50) == {"minReplicas": 4, "maxReplicas": 12}
    only_min = model.HpaTarget.model_validate({"name": "api", "minReplicas": {"from": 1, "to": 6}})
    assert hpa.wanted(only_min, 50) == {"minReplicas": 4}
    obj = {"metadata": {"generation": 2}, "spec": {"minReplicas": 4, "maxReplicas": 30}}
    assert hpa.judge(obj, only_min, 50).effective  # no observedGeneration reported: in place is enough
    assert not hpa.judge(obj, both, 50).in_place
    obj["status"] = {"observedGeneration": 1}
    assert not hpa.judge(obj, only_min, 50).effective


def test_ingress_canary_annotations_and_a_weight_total() -> None:
    spec = model.IngressNginxTarget(canaryIngress="shop-canary")
    ingress = {"metadata": {"annotations": {ingress_nginx.CANARY: "true", ingress_nginx.CANARY_WEIGHT: "30"}}}
    assert ingress_nginx.judge(ingress, 30).effective
    assert not ingress_nginx.judge(ingress, 31).in_place
    assert ingress_nginx.wanted({}, 30) == {ingress_nginx.CANARY: "true", ingress_nginx.CANARY_WEIGHT: "30"}
    assert ingress_nginx.wanted({ingress_nginx.CANARY_WEIGHT_TOTAL: "1000"}, 25)[ingress_nginx.CANARY_WEIGHT] == "250"
    not_canary = copy.deepcopy(ingress)
    not_canary["metadata"]["annotations"][ingress_nginx.CANARY] = "false"
    assert not ingress_nginx.judge(not_canary, 30).in_place
    assert spec.canaryIngress == "shop-canary"


def test_config_map_key_compares_numbers_not_strings() -> None:
    spec = model.ConfigMapKeyTarget.model_validate({"name": "limits", "key": "retries", "from": 0, "to": 10})
    assert config_map_key.judge({"data": {"retries": "05"}}, spec, 50).in_place
    assert not config_map_key.judge({"data": {"retries": "five"}}, spec, 50).in_place
    seen = config_map_key.judge({"data": {}}, spec, 50)
    assert (seen.found, seen.in_place, seen.shows, seen.message) == (True, False, "retries=<unset>", "wants retries=5")


def test_annotation_on_any_object() -> None:
    spec = model.AnnotationTarget.model_validate({"apiVersion": "v1", "kind": "Service", "name": "shop",
                                                  "key": "external-dns.alpha.kubernetes.io/aws-weight",
                                                  "from": 0, "to": 200})
    obj = {"metadata": {"annotations": {"external-dns.alpha.kubernetes.io/aws-weight": "50"}}}
    assert annotation_target.judge(obj, spec, 25).effective
    assert not annotation_target.judge({"metadata": {}}, spec, 25).in_place


def test_helpers() -> None:
    assert [as_int(v) for v in ("12", 12, "12.0", " 3 ", "1.5", "x", True, None)] == [12, 12, 12, 3, None, None,
                                                                                      None, None]
    assert generation_observed({"metadata": {"generation": 3}}) is None
    assert generation_observed({"metadata": {"generation": 3}, "status": {"observedGeneration": 3}}) is True
    assert generation_observed({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}}) is False


def test_every_target_example_in_the_docs_is_a_valid_target() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "traffic.md").read_text()
    section = text[text.index("## Targets"):text.index("## GitOps")]
    items = [yaml.safe_load(block)[0] for block in re.findall(r"^```\n(- .*?)^```", section, re.S | re.M)]
    kinds = [model.Target.model_validate(item).kind for item in items]
    assert sorted(kinds) == sorted(TARGETS)
