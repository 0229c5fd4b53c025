"""No confused deputy: a plan reaches into another namespace only once that namespace grants it.

Two users, each with rights in one namespace only (RBAC on the real API server; the test acts as
each by impersonation): alice writes plans in her namespace, bob owns another. Alice's plan names
an object in bob's namespace. The session's operator (at its default, ``Granted``) refuses it with
the field and the namespace named in status and touches nothing: the pod stays held. Alice cannot
grant herself (the API server refuses her the ConfigMap in bob's namespace); once bob grants
alice's namespace, the plan wakes at once (the grant is followed) and runs to Restored.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import Cluster, Operator, apply_docs, fresh_namespace
from tests.e2e.story import gated_service, given_running_pods, recovery_plan, released_count, service_entry, wait_phase

PLAN = "reaches-out"


def role(namespace: str, user: str, rules: list[dict[str, object]]) -> list[dict[str, object]]:
    name = f"{user}-rights"
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}]


@pytest.fixture
def other_namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """Bob's namespace, watched by the session's operator like the test's own."""
    yield from fresh_namespace(cluster, request, prefix="vault-")


def test_a_reference_to_another_namespace_waits_for_that_namespaces_grant(
        cluster: Cluster, operator: Operator, namespace: str, other_namespace: str):
    shop, vault = namespace, other_namespace
    apply_docs(cluster, shop, role(shop, "alice", [
        {"apiGroups": ["reentry.dev"], "resources": ["recoveryplans"], "verbs": ["get", "list", "create", "patch"]}]))
    apply_docs(cluster, vault, role(vault, "bob", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create", "patch"]}]))
    apply_docs(cluster, vault, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "issuer"},
                                 "data": {"ready": "yes"}}])
    given_running_pods(cluster, shop, gated_service("api", 1), 1)
    plan = recovery_plan(PLAN, [service_entry("api")], identity={"checks": [
        {"name": "issuer", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "issuer", "namespace": vault,
                                        "path": ".data.ready", "equals": "yes"}}]})

    # When alice applies a plan that reads an object in bob's namespace
    cluster.kubectl("apply", "--as=alice", "-f", "-", namespace=shop, stdin=yaml.safe_dump(plan))

    # Then it is refused, the field and the namespace named, and nothing is released
    refused = wait_phase(cluster, shop, PLAN, "Failed", timeout=60)
    assert refused["message"] == (
        f"spec.identity.checks[0].resource.namespace: namespace {vault} does not grant plans of namespace {shop} "
        f"references to its objects (it has no ConfigMap reentry-reference-grant whose key from lists {shop})")
    assert any(c["type"] == "Stalled" and c["status"] == "True" for c in refused["conditions"])
    assert released_count(cluster, shop) == 0
    assert not refused.get("checks"), "the operator read bob's object for alice's plan before the grant"

    # And alice cannot grant it herself
    grant = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "reentry-reference-grant"},
             "data": {"from": shop}}
    forbidden = cluster.kubectl("create", "--as=alice", "-f", "-", namespace=vault, stdin=yaml.safe_dump(grant),
                                check=False)
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower(), forbidden.stderr

    # When bob grants alice's namespace, the plan goes on at once (the grant is followed, not polled)
    cluster.kubectl("create", "--as=bob", "-f", "-", namespace=vault, stdin=yaml.safe_dump(grant))
    final = wait_phase(cluster, shop, PLAN, "Restored", timeout=60)
    assert final["checks"][0]["result"] == "Pass"
    assert released_count(cluster, shop) == 1
