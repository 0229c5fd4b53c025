"""What the simulated kubelet decides, as pure functions over plain Kubernetes JSON dicts.

There is no container runtime in the sandbox, so a Python process plays the nodes. This module holds
its decisions (Node and Lease bodies, where a pod goes, which IP it gets, what its status must say)
and no I/O; `reentry.sandbox.kubelet` is the shell that talks to the API server.

Pod status follows the real kubelet (k8s.io/kubernetes pkg/kubelet/status/generate.go and
kubelet_pods.go): conditions that the kubelet does not own are kept as they are, and `Ready` needs
every readiness gate's condition to be "True".
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

CRASHED_ANNOTATION = "sandbox.reentry.dev/crashed"
"""A pod annotation for tests: "true" crash-loops the pod's containers (unready) until it is removed.

Init containers, sidecars included, are not affected.
"""

NODE_IP = "127.0.0.1"
KUBELET_VERSION = "v1.34.4"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
DEFAULT_SCHEDULER = "default-scheduler"

# The kubelet's own pod conditions, in the order it appends them; every other type belongs to
# someone else (readiness gates, DisruptionTarget) and is never touched.
KUBELET_POD_CONDITIONS = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)

# The pod status fields the kubelet writes; the rest (qosClass, nominatedNodeName, ...) belong to others.
_KUBELET_STATUS_FIELDS = (
    "phase",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
)

# Lists that strategic merge patches merge by key instead of replacing (k8s.io/api core/v1 tags).
_MERGE_KEYS = {"conditions": "type", "podIPs": "ip", "hostIPs": "ip"}

# 10.244.0.0/16 (kind's pod range) without the .0 and .255 host parts of each /24.
_POD_HOSTS_PER_BLOCK = 254
POD_IP_COUNT = 256 * _POD_HOSTS_PER_BLOCK

_NODE_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_NODE_RESOURCES = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def format_time(moment: datetime) -> str:
    """Format `moment` as a Kubernetes Time (RFC 3339, whole seconds, UTC), as the API server stores it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime) -> str:
    """Format `moment` as a Kubernetes MicroTime; the API server rejects one without six fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_names(prefix: str, count: int) -> list[str]:
    """Names of the simulated nodes: `<prefix>-0` ... `<prefix>-<count-1>`."""
    return [f"{prefix}-{index}" for index in range(count)]


def node_manifest(name: str, now_iso: str) -> Json:
    """A Node as a freshly started kubelet registers it: Ready, untainted, 8 CPUs, 32Gi, 110 pods."""
    machine = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.sandbox.reentry.dev")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {},
        "status": {
            "capacity": dict(_NODE_RESOURCES),
            "allocatable": dict(_NODE_RESOURCES),
            "conditions": node_conditions([], now_iso),
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "machineID": machine.hex,
                "systemUUID": str(machine),
                "bootID": str(machine),
                "kernelVersion": "simulated",
                "osImage": "reentry sandbox (simulated node)",
                "containerRuntimeVersion": "sandbox://simulated",
                "kubeletVersion": KUBELET_VERSION,
                # Deprecated and left empty by current kubelets, but still a required field.
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def node_conditions(current: Sequence[Json], now_iso: str) -> list[Json]:
    """The node's conditions with a fresh heartbeat; a condition's lastTransitionTime moves only on a flip.

    `current` is the Node's present `status.conditions` (for example after the node lifecycle
    controller marked it Unknown), so a status that did not change keeps its transition time.
    """
    previous = {condition.get("type"): condition for condition in current}
    conditions = []
    for kind, status, reason, message in _NODE_CONDITIONS:
        old = previous.get(kind, {})
        unchanged = old.get("status") == status and old.get("lastTransitionTime")
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now_iso,
                "lastTransitionTime": old["lastTransitionTime"] if unchanged else now_iso,
            }
        )
    return conditions


def lease_manifest(node_name: str, node_uid: str) -> Json:
    """The node's Lease in kube-node-lease, owned by the Node so it goes away with it.

    It has no renewTime: `lease_renewal` sets that as a string, because a MicroTime must keep its six
    fraction digits, which a datetime round trip can lose.
    """
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": LEASE_DURATION_SECONDS},
    }


def lease_renewal(node_name: str, renew_time: str) -> Json:
    """A merge patch that renews the node's Lease at `renew_time` (a `format_micro_time` string)."""
    return {
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": renew_time,
        }
    }


def choose_node(nodes: Sequence[str], pods_per_node: Mapping[str, int]) -> str:
    """The node with the fewest pods; ties go to the earliest in `nodes`, so the choice is deterministic.

    Filling the emptiest node spreads the replicas of a workload over the nodes as the default
    scheduler does; node selectors, affinity and taints are not simulated.
    """
    if not nodes:
        raise ValueError("no node to schedule on")
    return min(nodes, key=lambda node: pods_per_node.get(node, 0))


def pod_ip(index: int) -> str:
    """The `index`-th pod IP of 10.244.0.0/16 (0 -> 10.244.0.1), skipping .0 and .255 in each /24."""
    if not 0 <= index < POD_IP_COUNT:
        raise ValueError(f"pod IP index {index} is outside 0..{POD_IP_COUNT - 1}")
    block, host = divmod(index, _POD_HOSTS_PER_BLOCK)
    return f"10.244.{block}.{host + 1}"


def is_crashed(pod: Json) -> bool:
    """Whether a test crashed this pod's containers with the `CRASHED_ANNOTATION` annotation."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    return bool(annotations.get(CRASHED_ANNOTATION) == "true")


def desired_pod_status(pod: Json, now_iso: str, pod_ip: str, crashed: bool) -> Json:
    """The status a kubelet reports for `pod` running on a simulated node, given its current status.

    Phase Running, the pod and host IPs, a status per container (unready and in CrashLoopBackOff
    when `crashed`; init containers completed, sidecars running) and the kubelet's conditions:
    ContainersReady when every container is ready, Ready when, in addition, every readiness gate's
    condition is "True". Conditions of other types are kept untouched and in place; a condition's
    lastTransitionTime changes only when its status flips. The same input gives the same output.
    """
    spec = pod.get("spec", {})
    current = pod.get("status") or {}
    identity = _PodIdentity.of(pod)

    old_init = {status["name"]: status for status in current.get("initContainerStatuses") or []}
    init_statuses = [
        _container_status(identity, container, old_init.get(container["name"]), now_iso, crashed=False)
        if container.get("restartPolicy") == "Always"
        else _completed_init_status(identity, container, old_init.get(container["name"]), now_iso)
        for container in spec.get("initContainers") or []
    ]
    old_main = {status["name"]: status for status in current.get("containerStatuses") or []}
    main_statuses = [
        _container_status(identity, container, old_main.get(container["name"]), now_iso, crashed)
        for container in spec.get("containers") or []
    ]

    status = dict(current)
    status.update(
        phase="Running",
        hostIP=NODE_IP,
        hostIPs=[{"ip": NODE_IP}],
        podIP=pod_ip,
        podIPs=[{"ip": pod_ip}],
        startTime=current.get("startTime") or now_iso,
        containerStatuses=main_statuses,
    )
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    # Like the kubelet, ContainersReady counts sidecars (restartable init containers) and containers.
    sidecars = [s for s in init_statuses if "terminated" not in s["state"]]
    status["conditions"] = _pod_conditions(
        spec, current.get("conditions") or [], [*sidecars, *main_statuses], now_iso
    )
    return status


def status_patch(desired: Json) -> Json:
    """The `status` of a strategic merge patch that writes the kubelet's part of `desired`.

    Only kubelet-owned conditions are sent: the patch merges conditions by type, so the ones others
    own are left as they are even if they changed since the pod was read. A reason or message that
    a condition no longer has is sent as null, which removes it.
    """
    patch = {field: desired[field] for field in _KUBELET_STATUS_FIELDS if field in desired}
    patch["conditions"] = [
        {"reason": None, "message": None, **condition}
        for condition in desired.get("conditions") or []
        if condition.get("type") in KUBELET_POD_CONDITIONS
    ]
    return patch


def status_changed(current: Json, desired: Json) -> bool:
    """Whether writing `desired` (from `desired_pod_status`) would change the pod's `current` status.

    Compares what the patch of `status_patch(desired)` would do, so fields the server adds or
    others own do not count as differences and the kubelet writes only when something changes.
    """
    return _patch_changes(current, status_patch(desired), field="")


def is_ready(status: Json) -> bool:
    """Whether a pod status has the condition Ready=True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


@dataclass(frozen=True)
class _PodIdentity:
    """What container IDs and messages are derived from: the pod's namespace, name and uid."""

    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, pod: Json) -> _PodIdentity:
        metadata = pod.get("metadata", {})
        namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
        # A pod read from the API server always has a uid; the fallback keeps IDs stable without one.
        return cls(namespace, name, metadata.get("uid") or f"{namespace}/{name}")

    def container_id(self, container: str, restarts: int) -> str:
        """A containerd-style ID, new for each restart of the container."""
        return "containerd://" + _sha256(f"{self.uid}/{container}/{restarts}")


def _container_status(
    identity: _PodIdentity, container: Json, old: Json | None, now_iso: str, crashed: bool
) -> Json:
    """A long-running container: running and ready, or crash-looping and unready when `crashed`."""
    name = container["name"]
    old = old or {}
    old_state = old.get("state") or {}
    restarts = int(old.get("restartCount", 0))
    last_state = old.get("lastState") or {}
    if crashed:
        if "running" in old_state:
            # The crash happens now: the running container terminates and is restarted, once.
            last_state = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": old_state["running"].get("startedAt") or now_iso,
                    "finishedAt": now_iso,
                    "containerID": old.get("containerID") or identity.container_id(name, restarts),
                }
            }
            restarts += 1
        state: Json = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 10s restarting failed container={name} "
                f"pod={identity.name}_{identity.namespace}({identity.uid})",
            }
        }
    else:
        state = {"running": {"startedAt": (old_state.get("running") or {}).get("startedAt") or now_iso}}
    status = {
        "name": name,
        "state": state,
        "ready": not crashed,
        "started": not crashed,
        "restartCount": restarts,
        "image": container.get("image", ""),
        "imageID": _image_id(container.get("image", "")),
        "containerID": identity.container_id(name, restarts),
    }
    if last_state:
        status["lastState"] = last_state
    return status


def _completed_init_status(identity: _PodIdentity, container: Json, old: Json | None, now_iso: str) -> Json:
    """A regular init container: it ran to completion (exit 0), which the kubelet reports as ready."""
    name = container["name"]
    terminated = ((old or {}).get("state") or {}).get("terminated") or {}
    container_id = identity.container_id(name, 0)
    return {
        "name": name,
        "state": {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": terminated.get("startedAt") or now_iso,
                "finishedAt": terminated.get("finishedAt") or now_iso,
                "containerID": container_id,
            }
        },
        "ready": True,
        "started": False,
        "restartCount": 0,
        "image": container.get("image", ""),
        "imageID": _image_id(container.get("image", "")),
        "containerID": container_id,
    }


def _pod_conditions(spec: Json, current: list[Json], long_running: list[Json], now_iso: str) -> list[Json]:
    """The pod's conditions: others' kept in place, the kubelet's recomputed, new ones appended."""
    foreign = [c for c in current if c.get("type") not in KUBELET_POD_CONDITIONS]
    containers_ready = _containers_ready(long_running)
    generated = {
        "PodReadyToStartContainers": {"type": "PodReadyToStartContainers", "status": "True"},
        "Initialized": {"type": "Initialized", "status": "True"},
        "Ready": _ready(spec, foreign, containers_ready),
        "ContainersReady": containers_ready,
        "PodScheduled": {"type": "PodScheduled", "status": "True"},
    }
    conditions = []
    for condition in current:
        kind = condition.get("type")
        if kind not in KUBELET_POD_CONDITIONS:
            conditions.append(condition)
        elif kind in generated:
            conditions.append(_with_transition(generated.pop(kind), condition, now_iso))
    conditions.extend(_with_transition(condition, None, now_iso) for condition in generated.values())
    return conditions


def _containers_ready(statuses: list[Json]) -> Json:
    """ContainersReady, with the kubelet's reason and message (Go formats a []string as [a b])."""
    unready = [status["name"] for status in statuses if not status["ready"]]
    if not unready:
        return {"type": "ContainersReady", "status": "True"}
    return {
        "type": "ContainersReady",
        "status": "False",
        "reason": "ContainersNotReady",
        "message": f"containers with unready status: [{' '.join(unready)}]",
    }


def _ready(spec: Json, foreign: list[Json], containers_ready: Json) -> Json:
    """Ready: ContainersReady, and then every readiness gate's condition True (a missing one is False)."""
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    by_type = {condition.get("type"): condition for condition in foreign}
    unready = []
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType")
        condition = by_type.get(kind)
        if condition is None:
            unready.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif condition.get("status") != "True":
            unready.append(
                f'the status of pod readiness gate "{kind}" is not "True", but {condition.get("status")}'
            )
    if unready:
        return {
            "type": "Ready",
            "status": "False",
            "reason": "ReadinessGatesNotReady",
            "message": ", ".join(unready),
        }
    return {"type": "Ready", "status": "True"}


def _with_transition(condition: Json, old: Json | None, now_iso: str) -> Json:
    """`condition` with the old lastTransitionTime if its status did not flip, else `now_iso`."""
    if old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
        return {**condition, "lastTransitionTime": old["lastTransitionTime"]}
    return {**condition, "lastTransitionTime": now_iso}


def _patch_changes(current: Any, patch: Any, field: str) -> bool:
    """Whether a strategic merge of `patch` into `current` changes it, for the shapes `status_patch` sends.

    null deletes a field; an empty map or list equals an absent one (Go omits them); maps merge key
    by key; `_MERGE_KEYS` lists merge item by item; other lists are replaced whole.
    """
    if patch is None:
        return current is not None
    if isinstance(patch, dict):
        current = {} if current is None else current
        if not isinstance(current, dict):
            return True
        return any(_patch_changes(current.get(key), value, key) for key, value in patch.items())
    if isinstance(patch, list):
        current = current or []
        if not isinstance(current, list):
            return True
        key = _MERGE_KEYS.get(field)
        if key is not None:
            by_key = {item.get(key): item for item in current if isinstance(item, dict)}
            return any(
                item[key] not in by_key or _patch_changes(by_key[item[key]], item, "") for item in patch
            )
        return len(current) != len(patch) or any(
            _patch_changes(old, new, "") for old, new in zip(current, patch, strict=True)
        )
    return bool(current != patch)


def _image_id(image: str) -> str:
    """A digest reference like the runtime reports: the image's repository at a stable fake digest."""
    repository = image.split("@", 1)[0]
    name_start = repository.rfind("/") + 1
    tag = repository.find(":", name_start)
    if tag != -1:
        repository = repository[:tag]
    return f"{repository}@sha256:{_sha256(image)}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
