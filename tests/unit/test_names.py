"""Every name a plan gives the operator to read or write is a Kubernetes name: never a URL path.

A name such as ``../../secrets/db`` once reached another resource than the declared one (and a
Secret's value reached status). The model refuses it wherever a name, a namespace, an apiVersion
or a key is accepted; the CRD carries the same patterns; the object client refuses it again.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reentry import model
from reentry.errors import describe_validation_error
from reentry.objects import InvalidName, checked

HOSTILE = ["../../secrets/db", "..", ".", "a/b", "db%2F..", "DB", "db\nforged line", "-db", "db-", "", "a" * 254]
GOOD_NAMES = ["db", "db-creds", "tls.orders", "a" * 253, "0db"]


def _check(name: str, **kind: Any) -> dict[str, Any]:
    return {"name": name, **kind}


def _spec(**sections: Any) -> dict[str, Any]:
    return {"owner": {"team": "t"}, "services": [{"name": "a", "selector": {}, "service": "a"}], **sections}


def _traffic(target: dict[str, Any]) -> dict[str, Any]:
    return _spec(traffic={"steps": [{"weight": 100}], "targets": [target]})


#: Where a spec names an object, as (section builder, path of the field in the error).
def _locations(bad: str) -> list[tuple[dict[str, Any], str]]:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "path": ".data.a", "equals": "1"}
    key_ref = {"name": "x", "key": "k"}
    return [
        (_spec(state={"checks": [_check("c", resource={**ref, "name": bad})]}), "state.checks[0].resource.name"),
        (_spec(state={"checks": [_check("c", resource={**ref, "namespace": bad})]}),
         "state.checks[0].resource.namespace"),
        (_spec(state={"checks": [_check("c", workload={"name": bad})]}), "state.checks[0].workload.name"),
        (_spec(state={"checks": [_check("c", endpoints={"service": bad})]}), "state.checks[0].endpoints.service"),
        (_spec(state={"checks": [_check("c", leases={"names": [bad]})]}), "state.checks[0].leases.names[0]"),
        (_spec(identity={"checks": [_check("c", certificate={"secret": bad})]}),
         "identity.checks[0].certificate.secret"),
        (_spec(identity={"checks": [_check("c", serviceAccountToken={"serviceAccount": bad})]}),
         "identity.checks[0].serviceAccountToken.serviceAccount"),
        (_spec(identity={"checks": [_check("c", signingKeys={
            "issuer": {"secret": {**key_ref, "name": bad}}, "clients": {"configMap": key_ref}})]}),
         "identity.checks[0].signingKeys.issuer.secret.name"),
        (_spec(identity={"checks": [_check("c", secretFreshness={"secret": "s", "clients": {"name": bad}})]}),
         "identity.checks[0].secretFreshness.clients.name"),
        (_spec(state={"checks": [_check("c", http={"url": "http://x", "headersFrom": bad})]}),
         "state.checks[0].http.headersFrom"),
        (_spec(state={"actions": [{"name": "p", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": bad,
                                                           "patch": {}}}]}),
         "state.actions[0].patch.name"),
        (_traffic({"httpRoute": {"name": bad, "restoredBackend": "a", "fallbackBackend": "b"}}),
         "traffic.targets[0].httpRoute.name"),
        (_traffic({"ingressNginx": {"canaryIngress": bad}}),
         "traffic.targets[0].ingressNginx.canaryIngress"),
        (_traffic({"configMapKey": {"name": "cm", "key": "k", "namespace": bad, "from": 0, "to": 1}}),
         "traffic.targets[0].configMapKey.namespace"),
        (_traffic({"hpa": {"name": bad, "minReplicas": {"from": 1, "to": 2}}}),
         "traffic.targets[0].hpa.name"),
        (_traffic({"scale": {"name": bad, "from": 1, "to": 2}}), "traffic.targets[0].scale.name"),
    ]


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_name_that_is_not_a_kubernetes_name_is_refused_everywhere(bad):
    for spec, where in _locations(bad):
        with pytest.raises(ValidationError) as info:
            model.RecoveryPlanSpec.model_validate(spec)
        assert f"spec.{where}" in describe_validation_error(info.value), where


@pytest.mark.parametrize("good", ["db", "db-creds", "0db", "a" * 63])
def test_kubernetes_names_are_accepted_everywhere(good):
    for spec, _ in _locations(good):
        model.RecoveryPlanSpec.model_validate(spec)


@pytest.mark.parametrize("good", ["tls.orders", "a" * 253])
def test_object_names_may_be_dns_subdomains(good):
    model.ObjectRef(apiVersion="v1", kind="Secret", name=good)
    model.KeyRef(name=good, key="k")


@pytest.mark.parametrize("api_version", ["v1", "apps/v1", "gateway.networking.k8s.io/v1beta1", "reentry.dev/v1alpha1"])
def test_api_versions(api_version):
    model.ObjectRef(apiVersion=api_version, kind="Deployment", name="x")


@pytest.mark.parametrize("api_version", ["../v1", "apps/../../v1", "apps/v1/x", "v1/", "/v1", "Apps/v1"])
def test_an_api_version_that_is_a_path_is_refused(api_version):
    with pytest.raises(ValidationError):
        model.ObjectRef(apiVersion=api_version, kind="Deployment", name="x")


@pytest.mark.parametrize("key", ["a/b", "..x/y", "a b", "a\nb"])
def test_data_keys_and_annotation_keys(key):
    with pytest.raises(ValidationError):
        model.KeyRef(name="s", key=key)
    model.KeyRef(name="s", key="tls.crt")
    model.AnnotationTarget.model_validate({"apiVersion": "v1", "kind": "Service", "name": "s",
                                           "key": "external-dns.alpha.kubernetes.io/weight", "from": 0, "to": 1})
    with pytest.raises(ValidationError):
        model.AnnotationTarget.model_validate({"apiVersion": "v1", "kind": "Service", "name": "s",
                                               "key": f"x/{key}", "from": 0, "to": 1})


@pytest.mark.parametrize("bad", HOSTILE)
def test_the_object_client_refuses_what_the_model_would(bad):
    with pytest.raises(InvalidName) as info:
        checked(bad, model.NAME_PATTERN, "name", 253)
    assert "\n" not in str(info.value)  # quoted: a newline cannot forge a line of a log or a message
    assert str(info.value).startswith("name ")


@pytest.mark.parametrize("good", GOOD_NAMES)
def test_the_object_client_accepts_kubernetes_names(good):
    assert checked(good, model.NAME_PATTERN, "name", 253) == good
