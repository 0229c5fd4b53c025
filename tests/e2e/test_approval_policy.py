"""The chart's approval policy on the real API server: an approval names the user who wrote it.

The chart's ValidatingAdmissionPolicy and its binding are applied (under names of their own); two
users, alice and bob, may edit plans in one namespace. Each writes approvals as a person would
(``kubectl annotate``, impersonated), and the API server admits or refuses them: one's own name is
admitted, another's name or a plain comment is refused naming the caller, a plan's approval groups
admit only their members, removing an approval and other edits of an approved plan pass.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from reentry.model import APPROVE_ANNOTATION, PAUSED_ANNOTATION
from reentry.plugin.controls import approval_value
from tests.e2e.conftest import Cluster, apply_docs, wait_for
from tests.e2e.story import recovery_plan, service_entry
from tests.unit.test_chart import of_kind, render

POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


@pytest.fixture
def policy(cluster: Cluster) -> Iterator[str]:
    """The chart's policy and binding, renamed for this test; yields the policy's name."""
    suffix = uuid.uuid4().hex[:5]
    docs = [d for kind in POLICY_KINDS for d in of_kind(render(), kind)]
    assert len(docs) == 2
    for doc in docs:
        doc["metadata"]["name"] += f"-{suffix}"
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] += f"-{suffix}"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    try:
        yield docs[0]["metadata"]["name"]
    finally:
        for doc in docs:
            cluster.kubectl("delete", doc["kind"].lower(), doc["metadata"]["name"], "--wait=false")


def annotate(cluster: Cluster, namespace: str, user: str, plan: str, *pairs: str,
             groups: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("annotate", "--overwrite", "recoveryplan", plan, *pairs, f"--as={user}",
                           *(f"--as-group={g}" for g in groups), namespace=namespace, check=False)


def refused_because(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, "admitted"
    return result.stderr


def test_an_approval_must_name_the_requesting_user_and_come_from_an_allowed_group(
        cluster: Cluster, namespace: str, policy: str):
    # Given alice and bob may edit plans here, and two plans waiting for an approval: one open to
    # anyone who may edit it, one to the sre group only
    role: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                            "metadata": {"name": "plan-editors"},
                            "rules": [{"apiGroups": ["reentry.dev"], "resources": ["recoveryplans"],
                                       "verbs": ["get", "list", "patch", "update"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "plan-editors"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "plan-editors"},
               "subjects": [{"kind": "User", "name": u, "apiGroup": "rbac.authorization.k8s.io"}
                            for u in ("alice", "bob")]}
    approval = {"approval": {"required": True}}
    apply_docs(cluster, namespace, [role, binding,
                                    recovery_plan("open", [service_entry("web")], start="Manual", validation=approval),
                                    recovery_plan("sre-only", [service_entry("web")], start="Manual",
                                                  validation={"approval": {"required": True, "groups": ["sre"]}})])
    by_alice = f"{APPROVE_ANNOTATION}={approval_value('alice', 'dashboards clean')}"
    # (the API server picks a new policy up within a second or so)
    wait_for("the policy to refuse bob's approval in alice's name", lambda: annotate(
        cluster, namespace, "bob", "open", by_alice).returncode != 0, timeout=30, every=0.5)

    # When bob approves in alice's name, or with a plain comment: refused, naming bob
    assert "must name the requesting user, bob" in refused_because(annotate(cluster, namespace, "bob", "open",
                                                                            by_alice))
    assert "must name the requesting user, bob" in refused_because(annotate(cluster, namespace, "bob", "open",
                                                                            f"{APPROVE_ANNOTATION}=lgtm"))
    # When alice approves in her own name: admitted
    assert annotate(cluster, namespace, "alice", "open", by_alice).returncode == 0
    # And bob may still pause the approved plan (the approval unchanged), and remove the approval
    assert annotate(cluster, namespace, "bob", "open", f"{PAUSED_ANNOTATION}=true").returncode == 0
    assert annotate(cluster, namespace, "bob", "open", f"{APPROVE_ANNOTATION}-").returncode == 0

    # When the plan names approval groups: alice outside them is refused, inside them admitted
    assert "only members of sre may approve this plan; alice is not" in refused_because(
        annotate(cluster, namespace, "alice", "sre-only", by_alice))
    assert annotate(cluster, namespace, "alice", "sre-only", by_alice, groups=("sre",)).returncode == 0
