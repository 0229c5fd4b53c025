"""What a cluster admin checks before installing the chart, proven on the real API server.

- The aggregated ClusterRoles: people bound (in one namespace) to the built-in ``view``, ``edit``
  and ``admin`` roles get RecoveryPlans with them, through the real clusterrole-aggregation
  controller: view reads, edit and admin also apply plans and their controls, nobody writes a
  plan's status but the operator, and a user bound to nothing gets nothing. Each call is made for
  real, as that user (impersonation), and its answer printed as a table.
- Pod Security ``restricted``: the chart's Deployment, applied to a namespace that enforces the
  restricted profile, draws no warning and its pod is admitted, with the chart's PriorityClass
  resolved by the API server; a pod without the chart's security context is refused there (so the
  label is in force). The optional NetworkPolicy is accepted by the API server's validation.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from lightkube.resources.core_v1 import Pod

from reentry.model import PAUSED_ANNOTATION
from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.story import recovery_plan, service_entry
from tests.unit.test_chart import aggregated, of_kind, one, render

USERS = {"viewer": "view", "editor": "edit", "owner": "admin"}
NOBODY = "nobody"


def as_user(cluster: Cluster, user: str, namespace: str, *args: str,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(*args, f"--as={user}", namespace=namespace, check=False, stdin=stdin)


def answer(result: subprocess.CompletedProcess[str]) -> str:
    """allowed, 403, or the error when it is neither (then the test fails on it)."""
    if result.returncode == 0:
        return "allowed"
    return "403" if "Forbidden" in result.stderr or "forbidden" in result.stderr else result.stderr.strip()


@pytest.fixture
def user_roles(cluster: Cluster, namespace: str) -> Iterator[list[dict[str, Any]]]:
    """The chart's aggregated ClusterRoles (under names of their own), and the users bound in ``namespace``."""
    suffix = uuid.uuid4().hex[:5]
    roles = [d for d in of_kind(render(), "ClusterRole") if aggregated(d)]
    for role in roles:
        role["metadata"]["name"] += f"-{suffix}"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(roles))
    for user, role_name in USERS.items():
        cluster.kubectl("create", "rolebinding", f"{user}-{role_name}", f"--clusterrole={role_name}", f"--user={user}",
                        namespace=namespace)
    try:
        yield roles
    finally:
        for role in roles:
            cluster.kubectl("delete", "clusterrole", role["metadata"]["name"], "--wait=false")


def test_view_edit_and_admin_users_get_plans_through_the_aggregated_roles(
        cluster: Cluster, namespace: str, user_roles: list[dict[str, Any]]):
    # Given the roles aggregated (the controller copies their rules into view, edit and admin)
    for user, verb in (("viewer", "list"), ("editor", "create"), ("owner", "create")):
        wait_for(f"{user} may {verb} plans", lambda u=user, v=verb: as_user(
            cluster, u, namespace, "auth", "can-i", v, "recoveryplans.reentry.dev").stdout.strip() == "yes")
    plan = recovery_plan("shop", [service_entry("web")], start="Manual")

    def calls(user: str, name: str) -> dict[str, str]:
        """Every call a plan's user makes, as ``user``, on a plan called ``name`` (created by the admin if the user
        may not create it)."""
        mine = yaml.safe_dump({**plan, "metadata": {"name": name}})
        made = {"create": answer(as_user(cluster, user, namespace, "create", "-f", "-", stdin=mine))}
        if made["create"] != "allowed":
            cluster.kubectl("create", "-f", "-", namespace=namespace, stdin=mine)
        made["get"] = answer(as_user(cluster, user, namespace, "get", "recoveryplan", name))
        made["list"] = answer(as_user(cluster, user, namespace, "get", "recoveryplans"))
        made["pause (annotate)"] = answer(as_user(cluster, user, namespace, "annotate", "recoveryplan", name,
                                                  f"{PAUSED_ANNOTATION}=incident-42"))
        made["write status"] = answer(as_user(cluster, user, namespace, "patch", "recoveryplan", name,
                                              "--subresource=status", "--type=merge",
                                              "-p", '{"status": {"phase": "Restored"}}'))
        made["delete"] = answer(as_user(cluster, user, namespace, "delete", "recoveryplan", name, "--wait=false"))
        return made

    table = {user: calls(user, f"plan-of-{user}") for user in (*USERS, NOBODY)}
    print("\n" + "\n".join(f"{user:8} " + ", ".join(f"{call}: {result}" for call, result in made.items())
                           for user, made in table.items()))

    readable = {"get": "allowed", "list": "allowed"}
    writable = {"create": "allowed", "pause (annotate)": "allowed", "delete": "allowed"}
    refused = {"create": "403", "pause (annotate)": "403", "delete": "403"}
    assert table["viewer"] == {**readable, **refused, "write status": "403"}
    assert table["editor"] == {**readable, **writable, "write status": "403"}
    assert table["owner"] == {**readable, **writable, "write status": "403"}
    assert table[NOBODY] == {"get": "403", "list": "403", **refused, "write status": "403"}


def test_the_operator_pod_is_admitted_under_pod_security_restricted_with_its_priority(
        cluster: Cluster, namespace: str):
    # Given a namespace that enforces the restricted Pod Security profile
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest", "pod-security.kubernetes.io/warn=restricted")
    # And the chart (with its NetworkPolicy on) rendered into it, its PriorityClass under a name of its own
    docs = render({"networkPolicy": {"enabled": True}})
    priority_class = one(docs, "PriorityClass")
    class_name = f"{priority_class['metadata']['name']}-{namespace}"
    priority_class["metadata"]["name"] = class_name
    deployment = one(docs, "Deployment")
    deployment["spec"]["template"]["spec"]["priorityClassName"] = class_name
    in_namespace = [deployment, one(docs, "ServiceAccount"), one(docs, "NetworkPolicy")]
    for doc in in_namespace:
        doc["metadata"]["namespace"] = namespace
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(priority_class))
    try:
        # When the operator's objects are applied
        applied = cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(in_namespace))

        # Then nothing would violate the profile, and the Deployment's pod is admitted with the chart's priority
        assert "PodSecurity" not in applied.stderr, applied.stderr
        name = deployment["metadata"]["name"]
        pod = wait_for("the operator's pod", lambda: next(iter(cluster.client.list(
            Pod, namespace=namespace, labels={"app.kubernetes.io/name": "reentry"})), None), timeout=60)
        assert pod.metadata is not None and (pod.metadata.name or "").startswith(f"{name}-")
        assert pod.spec is not None
        assert (pod.spec.priorityClassName, pod.spec.priority) == (class_name, priority_class["value"])

        # And the profile is in force: the same pod without the chart's security context is refused
        bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
                "spec": {"containers": [{"name": "operator", "image": deployment["spec"]["template"]["spec"]
                                         ["containers"][0]["image"]}]}}
        refused = cluster.kubectl("create", "-f", "-", namespace=namespace, check=False, stdin=yaml.safe_dump(bare))
        assert refused.returncode != 0 and 'violates PodSecurity "restricted:latest"' in refused.stderr, refused.stderr
    finally:
        cluster.kubectl("delete", "priorityclass", class_name, "--wait=false")
