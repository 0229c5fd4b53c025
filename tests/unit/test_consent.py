"""reentry.engine.consent: every namespace a plan names is found, and only granted ones pass."""

from __future__ import annotations

from reentry.engine import consent
from reentry.model import RecoveryPlanSpec


def _spec(**extra: object) -> RecoveryPlanSpec:
    return RecoveryPlanSpec.model_validate({
        "owner": {"team": "shop"}, "services": [{"name": "api", "selector": {"matchLabels": {"app": "api"}},
                                                  "service": "api"}], **extra})


def test_every_namespace_field_is_found_wherever_it_is() -> None:
    spec = _spec(
        identity={"checks": [{"name": "tls", "certificate": {"secret": "tls", "namespace": "vault"}},
                             {"name": "sa", "serviceAccountToken": {"serviceAccount": "api", "namespace": "shop"}}]},
        state={"checks": [{"name": "lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "lag",
                                                       "namespace": "db", "path": ".data.lag", "max": 1}}],
               "actions": [{"name": "leases", "releaseLeases": {"namespace": "vault"}}]},
        traffic={"steps": [{"weight": 100}],
                 "targets": [{"configMapKey": {"name": "w", "key": "w", "namespace": "edge", "from": 0, "to": 1}}]})
    assert consent.foreign_namespaces(spec, "shop") == {
        "vault": [("identity", "checks", 0, "certificate", "namespace"),
                  ("state", "actions", 0, "releaseLeases", "namespace")],
        "db": [("state", "checks", 0, "resource", "namespace")],
        "edge": [("traffic", "targets", 0, "configMapKey", "namespace")]}


def test_a_plan_that_stays_home_names_no_other_namespace() -> None:
    spec = _spec(identity={"checks": [{"name": "tls", "certificate": {"secret": "tls", "namespace": "shop"}}]})
    assert consent.foreign_namespaces(spec, "shop") == {}
    assert consent.foreign_namespaces(_spec(), "shop") == {}


def test_only_the_namespaces_that_grant_the_plans_namespace_let_it_in() -> None:
    foreign = {"vault": [("a", "namespace")], "db": [("b", "namespace")], "edge": [("c", "namespace")],
               "open": [("d", "namespace")], "locked": [("e", "namespace")]}
    grants = {"vault": consent.granted_from({"from": "payments, shop\nbilling"}),
              "db": consent.granted_from({"from": "payments"}),
              "edge": consent.granted_from(None),
              "open": consent.granted_from({"from": " * "}),
              "locked": "the operator may not read it: 403 Forbidden"}
    refused = consent.refusals(foreign, grants, "shop")
    assert [r.split(":")[0] for r in refused] == ["spec.b.namespace", "spec.c.namespace", "spec.e.namespace"]
    assert refused[0] == ("spec.b.namespace: namespace db does not grant plans of namespace shop references to its "
                          "objects (it has no ConfigMap reentry-reference-grant whose key from lists shop)")
    assert refused[2].endswith("(the operator may not read it: 403 Forbidden)")


def test_a_grant_lists_names_separated_by_commas_or_whitespace() -> None:
    assert consent.granted_from({"from": "a,b  c\n\td,"}) == {"a", "b", "c", "d"}
    assert consent.granted_from({"other": "a"}) == frozenset()
