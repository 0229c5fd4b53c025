"""The sandbox is a real control plane: real versions, real tokens, real readiness gates."""

from __future__ import annotations

import json
import os

from lightkube.models.authentication_v1 import TokenRequestSpec, TokenReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authentication_v1 import TokenReview
from lightkube.resources.core_v1 import Pod, ServiceAccount
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from reentry.kube import count_ready_endpoints
from reentry.model import READINESS_GATE
from reentry.sandbox.binaries import KUBERNETES_VERSION
from tests.e2e.conftest import Cluster, apply_docs, load_example, wait_for


def test_api_server_reports_the_pinned_version(cluster: Cluster):
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    # An external cluster (REENTRY_KUBECONFIG) runs whatever version it runs.
    expected = KUBERNETES_VERSION if not os.environ.get("REENTRY_KUBECONFIG") else version["gitVersion"]
    assert version["gitVersion"] == expected
    assert version["major"] == "1"


def test_token_request_then_token_review(cluster: Cluster, namespace: str):
    cluster.client.create(ServiceAccount(metadata=ObjectMeta(name="restored-client")), namespace=namespace)
    token = cluster.client.create(
        ServiceAccount.Token(metadata=ObjectMeta(name="restored-client"),
                             spec=TokenRequestSpec(audiences=["reentry-test"], expirationSeconds=600)),
        "restored-client", namespace=namespace)
    assert token.status is not None and token.status.token
    review = cluster.client.create(TokenReview(spec=TokenReviewSpec(token=token.status.token,
                                                                    audiences=["reentry-test"])))
    assert review.status is not None and review.status.authenticated
    assert review.status.user is not None
    assert review.status.user.username == f"system:serviceaccount:{namespace}:restored-client"


def _pods(cluster: Cluster, namespace: str, app: str) -> list[Pod]:
    return list(cluster.client.list(Pod, namespace=namespace, labels={"app": app}))


def _ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def test_readiness_gate_holds_a_running_pod_out_of_its_endpoints(cluster: Cluster, namespace: str):
    # Given the auth Deployment and Service of the example shop, gated
    auth = [d for d in load_example("shop.yaml") if d["metadata"]["name"] == "auth"]
    apply_docs(cluster, namespace, auth)

    # Then its pods run, containers ready, but the pods are not Ready and no endpoint is ready
    def two_running() -> list[Pod] | None:
        running = [p for p in _pods(cluster, namespace, "auth") if p.status and p.status.phase == "Running"]
        return running if len(running) == 2 else None

    pods = wait_for("two running auth pods", two_running)
    for pod in pods:
        conds = {c.type: c.status for c in pod.status.conditions}
        assert conds["ContainersReady"] == "True"
        assert conds["Ready"] == "False"
    slices = list(cluster.client.list(EndpointSlice, namespace=namespace,
                                      labels={"kubernetes.io/service-name": "auth"}))
    assert count_ready_endpoints(slices) == 0

    # When one pod's gate condition is set True
    first = pods[0].metadata.name
    cluster.client.patch(Pod.Status, first, {"status": {"conditions": [
        {"type": READINESS_GATE, "status": "True"}]}}, namespace=namespace, patch_type=PatchType.STRATEGIC)

    # Then that pod alone becomes Ready and exactly one endpoint is ready
    wait_for("the released pod to be Ready", lambda: _ready(cluster.client.get(Pod, first, namespace=namespace)))
    wait_for("one ready auth endpoint", lambda: count_ready_endpoints(list(cluster.client.list(
        EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": "auth"}))) == 1)
    other = cluster.client.get(Pod, pods[1].metadata.name, namespace=namespace)
    assert not _ready(other)
