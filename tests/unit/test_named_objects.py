"""What a plan names is declared once, by each kind's model (``named_objects``); pre-flight and
``reentry validate`` both derive from it and so cannot drift apart."""

from __future__ import annotations

from reentry import validate
from reentry.engine import preflight
from reentry.model import RecoveryPlanSpec
from tests.unit.builders import plan


def _spec() -> RecoveryPlanSpec:
    return plan(
        {"name": "auth"},
        identity={"checks": [{"name": "token", "serviceAccountToken": {"serviceAccount": "checkout"}}]},
        state={"checks": [{"name": "rollout", "workload": {"kind": "StatefulSet", "name": "db"}},
                          {"name": "lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "lag",
                                                       "namespace": "data", "path": ".data.lag", "max": 1}}],
               "actions": [{"name": "flag", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "flags",
                                                      "patch": {"data": {"a": "1"}}}}]},
        dependencies={"checks": [{"name": "ready", "endpoints": {"service": "orders"}}]},
        traffic={"steps": [{"weight": 100}], "targets": [
            {"httpRoute": {"name": "web", "restoredBackend": "web-new", "fallbackBackend": "web-old"}},
            {"configMapKey": {"name": "budget", "key": "retries", "from": 0, "to": 3}}]})


def test_preflight_reads_what_the_kinds_name_except_what_the_operator_never_reads():
    labels = [label for label, _ in preflight.references(_spec())]
    assert labels == [
        "StatefulSet db (check rollout)", "ConfigMap lag (check lag)", "Service orders (check ready)",
        "ConfigMap flags (action flag)", "HTTPRoute web (traffic target httpRoute/web)",
        "Service web-new (traffic target httpRoute/web)", "Service web-old (traffic target httpRoute/web)",
        "ConfigMap budget (traffic target configMapKey/budget)"]
    refs = dict(preflight.references(_spec()))
    assert refs["ConfigMap lag (check lag)"].namespace == "data"
    assert refs["StatefulSet db (check rollout)"].apiVersion == "apps/v1"


def test_validate_looks_up_the_same_objects_at_the_field_that_names_each():
    found = {(r.key.kind, r.key.name): r.loc for r in validate.references(_spec())}
    assert found == {
        ("Service", "auth"): ("services", 0, "service"),
        ("ServiceAccount", "checkout"): ("identity", "checks", 0, "serviceAccountToken", "serviceAccount"),
        ("StatefulSet", "db"): ("state", "checks", 0, "workload", "name"),
        ("ConfigMap", "lag"): ("state", "checks", 1, "resource", "name"),
        ("ConfigMap", "flags"): ("state", "actions", 0, "patch", "name"),
        ("Service", "orders"): ("dependencies", "checks", 0, "endpoints", "service"),
        ("HTTPRoute", "web"): ("traffic", "targets", 0, "httpRoute", "name"),
        ("Service", "web-new"): ("traffic", "targets", 0, "httpRoute", "restoredBackend"),
        ("Service", "web-old"): ("traffic", "targets", 0, "httpRoute", "fallbackBackend"),
        ("ConfigMap", "budget"): ("traffic", "targets", 1, "configMapKey", "name"),
    }


def test_a_target_writes_the_first_object_its_kind_names():
    route, budget = _spec().traffic.targets
    assert (route.written.kind, route.written.name) == ("HTTPRoute", "web")
    assert (budget.written.apiVersion, budget.written.kind) == ("v1", "ConfigMap")
