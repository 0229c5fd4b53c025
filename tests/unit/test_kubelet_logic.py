"""The simulated kubelet reports pod status the way a real kubelet does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reentry.sandbox.kubelet_logic import (
    CRASHED_ANNOTATION,
    NODE_IP,
    choose_node,
    desired_pod_status,
    is_crashed,
    lease_renewal,
    node_conditions,
    node_manifest,
    pod_ip,
    status_changed,
    status_patch,
)

GATE = "reentry.dev/released"
T0 = "2025-01-01T00:00:00Z"
T1 = "2025-01-01T00:01:00Z"
T2 = "2025-01-01T00:02:00Z"
IP = "10.244.0.7"


def make_pod(*, gates: tuple[str, ...] = (GATE,), containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "0c4e-uid", "annotations": {}},
        "spec": {
            "nodeName": "sandbox-node-0",
            "containers": [{"name": name, "image": f"example.com/{name}:1.0"} for name in containers],
            "readinessGates": [{"conditionType": gate} for gate in gates],
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def run(pod: dict[str, Any], now: str) -> dict[str, Any]:
    """One kubelet pass: compute the status and store it on the pod, as the API server would."""
    status = desired_pod_status(pod, now, IP, is_crashed(pod))
    pod["status"] = status
    return status


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = [c for c in status["conditions"] if c["type"] == kind]
    return found


def set_gate(pod: dict[str, Any], value: str, when: str) -> None:
    """What the operator does: set the readiness gate's condition on the pod."""
    others = [c for c in pod["status"].get("conditions", []) if c["type"] != GATE]
    pod["status"]["conditions"] = [*others, {"type": GATE, "status": value, "lastTransitionTime": when}]


def test_missing_gate_condition_keeps_the_pod_unready_with_the_kubelets_reason() -> None:
    status = run(make_pod(), T0)

    assert condition(status, "ContainersReady")["status"] == "True"
    ready = condition(status, "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == f'corresponding condition of pod readiness gate "{GATE}" does not exist.'


def test_gate_false_keeps_the_pod_unready_and_names_the_status() -> None:
    pod = make_pod()
    run(pod, T0)
    set_gate(pod, "False", T1)

    ready = condition(run(pod, T1), "Ready")

    assert ready["status"] == "False"
    assert ready["message"] == f'the status of pod readiness gate "{GATE}" is not "True", but False'


def test_gate_true_and_containers_ready_make_the_pod_ready() -> None:
    pod = make_pod()
    run(pod, T0)
    set_gate(pod, "True", T1)

    status = run(pod, T1)

    ready = condition(status, "Ready")
    assert ready["status"] == "True"
    assert "reason" not in ready
    assert ready["lastTransitionTime"] == T1
    assert status["phase"] == "Running"
    assert status["podIP"] == IP
    assert status["podIPs"] == [{"ip": IP}]
    assert status["hostIP"] == NODE_IP


def test_a_pod_without_gates_is_ready_when_its_containers_are() -> None:
    status = run(make_pod(gates=()), T0)

    for kind in ("PodScheduled", "Initialized", "PodReadyToStartContainers", "ContainersReady", "Ready"):
        assert condition(status, kind)["status"] == "True", kind
    [app] = status["containerStatuses"]
    assert app["ready"] is True
    assert app["started"] is True
    assert app["restartCount"] == 0
    assert app["state"] == {"running": {"startedAt": T0}}
    assert app["image"] == "example.com/app:1.0"
    assert app["imageID"].startswith("example.com/app@sha256:")
    assert app["containerID"].startswith("containerd://")


def test_crash_annotation_makes_containers_and_pod_unready_and_counts_one_restart() -> None:
    pod = make_pod(gates=(), containers=("app", "proxy"))
    run(pod, T0)
    pod["metadata"]["annotations"][CRASHED_ANNOTATION] = "true"

    status = run(pod, T1)

    containers_ready = condition(status, "ContainersReady")
    assert containers_ready["status"] == "False"
    assert containers_ready["reason"] == "ContainersNotReady"
    assert containers_ready["message"] == "containers with unready status: [app proxy]"
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    app = status["containerStatuses"][0]
    assert app["ready"] is False
    assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert app["lastState"]["terminated"]["finishedAt"] == T1
    assert app["restartCount"] == 1
    # Still crashed later: no further restart is counted.
    assert run(pod, T2)["containerStatuses"][0]["restartCount"] == 1


def test_removing_the_crash_annotation_brings_the_pod_back() -> None:
    pod = make_pod(gates=())
    run(pod, T0)
    pod["metadata"]["annotations"][CRASHED_ANNOTATION] = "true"
    run(pod, T1)
    del pod["metadata"]["annotations"][CRASHED_ANNOTATION]

    status = run(pod, T2)

    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Ready")["lastTransitionTime"] == T2
    [app] = status["containerStatuses"]
    assert app["state"] == {"running": {"startedAt": T2}}
    assert app["restartCount"] == 1
    assert "terminated" in app["lastState"]


def test_crash_overrides_a_true_gate() -> None:
    pod = make_pod()
    run(pod, T0)
    set_gate(pod, "True", T0)
    pod["metadata"]["annotations"][CRASHED_ANNOTATION] = "true"

    assert condition(run(pod, T1), "Ready")["status"] == "False"


def test_conditions_the_kubelet_does_not_own_are_kept_as_they_are() -> None:
    pod = make_pod()
    foreign = [
        {
            "type": GATE,
            "status": "True",
            "lastTransitionTime": T0,
            "reason": "Released",
            "message": "stage 2",
        },
        {"type": "DisruptionTarget", "status": "False", "lastTransitionTime": T0},
    ]
    pod["status"]["conditions"] = copy.deepcopy(foreign)

    status = run(pod, T1)

    assert status["conditions"][:2] == foreign
    assert condition(status, "Ready")["status"] == "True"
    assert status["qosClass"] == "BestEffort"
    # The patch never carries them, so a change the operator made meanwhile is not overwritten.
    assert {c["type"] for c in status_patch(status)["conditions"]} == {
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    }


def test_same_input_gives_the_same_output_and_nothing_to_write() -> None:
    pod = make_pod()
    first = run(pod, T0)
    snapshot = copy.deepcopy(pod)

    second = desired_pod_status(pod, T1, IP, crashed=False)

    assert second == first
    assert pod == snapshot
    assert not status_changed(pod["status"], second)


def test_last_transition_time_moves_only_when_the_status_flips() -> None:
    pod = make_pod()
    run(pod, T0)
    set_gate(pod, "True", T1)

    status = run(pod, T1)

    assert condition(status, "Ready")["lastTransitionTime"] == T1
    for kind in ("PodScheduled", "Initialized", "ContainersReady"):
        assert condition(status, kind)["lastTransitionTime"] == T0, kind
    assert status["startTime"] == T0
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"] == T0


def test_status_changed_sees_a_flip_and_ignores_what_the_server_adds() -> None:
    pod = make_pod()
    stored = run(pod, T0)
    # The API server and others add fields that the kubelet does not write.
    stored["conditions"][0]["observedGeneration"] = 1
    stored["containerStatuses"][0]["lastState"] = {}
    stored["observedGeneration"] = 1

    assert not status_changed(stored, desired_pod_status(pod, T1, IP, crashed=False))
    set_gate(pod, "True", T1)
    assert status_changed(pod["status"], desired_pod_status(pod, T1, IP, crashed=False))


def test_a_reason_that_no_longer_applies_is_deleted_by_the_patch() -> None:
    pod = make_pod()
    run(pod, T0)
    set_gate(pod, "True", T1)

    patch = status_patch(desired_pod_status(pod, T1, IP, crashed=False))

    [ready] = [c for c in patch["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] is None
    assert ready["message"] is None


def test_init_containers_are_completed_and_sidecars_running() -> None:
    pod = make_pod(gates=())
    pod["spec"]["initContainers"] = [
        {"name": "migrate", "image": "example.com/migrate:1"},
        {"name": "mesh", "image": "example.com/mesh:1", "restartPolicy": "Always"},
    ]

    status = run(pod, T0)

    migrate, mesh = status["initContainerStatuses"]
    assert migrate["state"]["terminated"]["reason"] == "Completed"
    assert migrate["ready"] is True
    assert mesh["state"] == {"running": {"startedAt": T0}}
    assert condition(status, "Ready")["status"] == "True"
    assert not status_changed(status, desired_pod_status(pod, T1, IP, crashed=False))


def test_choose_node_fills_the_emptiest_node_first() -> None:
    nodes = ["n-0", "n-1", "n-2"]

    assert choose_node(nodes, {}) == "n-0"
    assert choose_node(nodes, {"n-0": 1}) == "n-1"
    assert choose_node(nodes, {"n-0": 1, "n-1": 1, "n-2": 0}) == "n-2"
    with pytest.raises(ValueError, match="no node"):
        choose_node([], {})


def test_pod_ips_are_unique_and_never_loopback() -> None:
    ips = [pod_ip(index) for index in range(1000)]

    assert len(set(ips)) == len(ips)
    assert all(ip.startswith("10.244.") and not ip.endswith((".0", ".255")) for ip in ips)
    with pytest.raises(ValueError, match="outside"):
        pod_ip(-1)


def test_node_is_ready_untainted_and_keeps_transition_time_on_heartbeat() -> None:
    node = node_manifest("sandbox-node-0", T0)

    assert "taints" not in node["spec"]
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "sandbox-node-0"
    assert node["status"]["allocatable"] == {
        "cpu": "8",
        "memory": "32Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }
    [ready] = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")

    beat = {c["type"]: c for c in node_conditions(node["status"]["conditions"], T1)}
    assert beat["Ready"]["lastHeartbeatTime"] == T1
    assert beat["Ready"]["lastTransitionTime"] == T0

    marked_unknown = [{**ready, "status": "Unknown"}]
    assert {c["type"]: c for c in node_conditions(marked_unknown, T2)}["Ready"]["lastTransitionTime"] == T2


def test_lease_renewal_keeps_the_micro_time_string() -> None:
    renewal = lease_renewal("sandbox-node-0", "2025-01-01T00:00:00.000000Z")

    assert renewal["spec"]["renewTime"] == "2025-01-01T00:00:00.000000Z"
    assert renewal["spec"]["holderIdentity"] == "sandbox-node-0"
