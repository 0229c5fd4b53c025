"""The simulated kubelet: one process that plays every node of the sandbox.

There is no container runtime here. This process registers Nodes and keeps them alive (a Lease
per node and the Node's Ready heartbeat), binds unscheduled pods to them as the scheduler would,
reports each bound pod as running with the status a kubelet computes (`kubelet_logic`), and
finishes the deletion of pods that are terminating. Usage:

    python -m reentry.sandbox.kubelet --kubeconfig PATH [--nodes 3] [--node-prefix sandbox-node]

It logs one line per action to stderr and exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from lightkube import ApiError, AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core import resource
from lightkube.generic_resource import Generic
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from reentry.sandbox.kubelet_logic import (
    DEFAULT_SCHEDULER,
    LEASE_NAMESPACE,
    POD_IP_COUNT,
    Json,
    choose_node,
    desired_pod_status,
    format_micro_time,
    format_time,
    is_crashed,
    is_ready,
    lease_manifest,
    lease_renewal,
    node_conditions,
    node_manifest,
    node_names,
    pod_ip,
    status_changed,
    status_patch,
)

LEASE_RENEW_SECONDS = 10.0
NODE_HEARTBEAT_SECONDS = 20.0
RETRY_SECONDS = 2.0
# A fresh list this often, as informers resync: retries a write that failed with a server error.
RESYNC_SECONDS = 30.0
FIELD_MANAGER = "reentry-sandbox-kubelet"
NOT_FOUND, CONFLICT = 404, 409
TERMINAL_PHASES = ("Succeeded", "Failed")

log = logging.getLogger("reentry.sandbox.kubelet")


# lightkube's generic resources combine these bases the same way; their attribute stubs disagree.
class PodBinding(resource.NamespacedSubResource, Generic):  # type: ignore[misc]
    """The pods/binding subresource, as a plain dict.

    The API server answers a binding with a Status, which lightkube's typed `Pod.Binding` fails to
    decode (it expects a Binding back) after the binding has succeeded.
    """

    _api_info = resource.ApiInfo(
        resource=resource.ResourceDef("", "v1", "Binding"),
        parent=resource.ResourceDef("", "v1", "Pod"),
        plural="pods",
        verbs=["post"],
        action="binding",
    )


class Kubelet:
    """The nodes `nodes` and everything a kubelet does for the pods bound to them."""

    def __init__(self, client: AsyncClient, nodes: list[str]) -> None:
        self._client = client
        self._nodes = nodes
        self._node_uids: dict[str, str] = {}
        # What the pod watch has seen, by pod uid: where pods run (to spread new ones) and which
        # IPs are taken (an IP is reserved before the status write that publishes it).
        self._pod_nodes: dict[str, str] = {}
        self._pod_ips: dict[str, str] = {}
        self._next_ip = 0

    async def run(self) -> None:
        """Register the nodes, then keep them alive and serve their pods until cancelled."""
        for node in self._nodes:
            await _retrying(f"register node {node}", partial(self._register, node))
        await asyncio.gather(self._keep_leases(), self._keep_heartbeats(), self._serve_pods())

    async def _register(self, node: str) -> None:
        now = format_time(_now())
        try:
            created = await self._client.create(cast(Node, Node.from_dict(node_manifest(node, now))))
            log.info("registered node %s", node)
        except ApiError as error:
            if error.status.code != CONFLICT:
                raise
            # Left over from an earlier run: report it as this kubelet's node, Ready again.
            created = await self._client.get(Node, node)
            await self._heartbeat(node)
            log.info("took over node %s", node)
        self._node_uids[node] = created.to_dict()["metadata"]["uid"]

    async def _keep_leases(self) -> None:
        while True:
            for node in self._nodes:
                await _logging_errors(f"renew lease {node}", self._renew_lease(node))
            await asyncio.sleep(LEASE_RENEW_SECONDS)

    async def _renew_lease(self, node: str) -> None:
        renew = lease_renewal(node, format_micro_time(_now()))
        try:
            await self._client.patch(
                Lease, node, renew, namespace=LEASE_NAMESPACE, patch_type=PatchType.MERGE
            )
        except ApiError as error:
            if error.status.code != NOT_FOUND:
                raise
            await self._client.create(
                cast(Lease, Lease.from_dict(lease_manifest(node, self._node_uids[node])))
            )
            await self._client.patch(
                Lease, node, renew, namespace=LEASE_NAMESPACE, patch_type=PatchType.MERGE
            )
            log.info("created lease %s/%s", LEASE_NAMESPACE, node)

    async def _keep_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(NODE_HEARTBEAT_SECONDS)
            for node in self._nodes:
                await _logging_errors(f"heartbeat node {node}", self._beat_or_register(node))

    async def _beat_or_register(self, node: str) -> None:
        try:
            await self._heartbeat(node)
        except ApiError as error:
            if error.status.code != NOT_FOUND:
                raise
            # Someone deleted the Node: a kubelet registers it again.
            await self._register(node)

    async def _heartbeat(self, node: str) -> None:
        # Read first, so that a status the node lifecycle controller changed (to Unknown) counts
        # as a transition when it turns Ready again.
        current = (await self._client.get(Node, node)).to_dict().get("status", {}).get("conditions", [])
        conditions = node_conditions(current, format_time(_now()))
        await self._client.patch(Node.Status, node, {"status": {"conditions": conditions}})

    async def _serve_pods(self) -> None:
        """List every pod, then follow the watch; list again every RESYNC_SECONDS and after a failure."""
        while True:
            try:
                async with asyncio.timeout(RESYNC_SECONDS):
                    await self._list_and_watch()
            except TimeoutError:
                continue
            except Exception:
                log.exception("pod watch failed; listing again in %ss", RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)

    async def _list_and_watch(self) -> None:
        listing = self._client.list(Pod, namespace="*")
        pods = [pod.to_dict() async for pod in listing]
        self._pod_nodes.clear()
        self._pod_ips.clear()
        for pod in pods:
            self._remember(pod)
        for pod in pods:
            await self._reconcile(pod)
        async for event, obj in self._client.watch(
            Pod, namespace="*", resource_version=listing.resourceVersion
        ):
            pod = obj.to_dict()
            if event == "DELETED":
                self._forget(pod["metadata"]["uid"])
            else:
                self._remember(pod)
                await self._reconcile(pod)

    def _remember(self, pod: Json) -> None:
        uid, node = pod["metadata"]["uid"], pod["spec"].get("nodeName")
        status = pod.get("status") or {}
        if node in self._nodes and status.get("phase") not in TERMINAL_PHASES:
            self._pod_nodes[uid] = node
        if status.get("podIP"):
            self._pod_ips[uid] = status["podIP"]

    def _forget(self, uid: str) -> None:
        self._pod_nodes.pop(uid, None)
        self._pod_ips.pop(uid, None)

    async def _reconcile(self, pod: Json) -> None:
        """Do what a kubelet (or the scheduler) does next for the pod; an API error waits for a retry.

        404 and 409 mean the pod was deleted or changed meanwhile, and the watch brings its next
        version; any other refusal is retried by the next resync. Either way the other pods go on.
        """
        metadata, spec = pod["metadata"], pod["spec"]
        node = spec.get("nodeName")
        key = f"{metadata['namespace']}/{metadata['name']}"
        if node and node not in self._nodes:
            return
        try:
            if metadata.get("deletionTimestamp"):
                # No container to stop: finish the deletion at once, as the kubelet does after stopping
                # them. A grace period already at 0 means only finalizers hold the pod.
                if node and metadata.get("deletionGracePeriodSeconds") != 0:
                    await self._client.delete(
                        Pod, metadata["name"], namespace=metadata["namespace"], grace_period=0
                    )
                    log.info("deleted %s", key)
            elif not node:
                if spec.get("schedulerName", DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER:
                    await self._bind(pod, key)
            elif (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES:
                await self._update_status(pod, key)
        except ApiError as error:
            if error.status.code in (NOT_FOUND, CONFLICT):
                log.info("skipped %s: %s", key, error.status.reason)
            else:
                log.warning("failed %s, retrying at the next resync: %s", key, error)

    async def _bind(self, pod: Json, key: str) -> None:
        metadata = pod["metadata"]
        node = choose_node(self._nodes, Counter(self._pod_nodes.values()))
        binding = PodBinding(
            apiVersion="v1",
            kind="Binding",
            # The uid makes the API server refuse the binding if the pod was replaced meanwhile.
            metadata=ObjectMeta(name=metadata["name"], namespace=metadata["namespace"], uid=metadata["uid"]),
            target={"apiVersion": "v1", "kind": "Node", "name": node},
        )
        await self._client.create(binding, name=metadata["name"], namespace=metadata["namespace"])
        self._pod_nodes[metadata["uid"]] = node
        log.info("bound %s -> %s", key, node)

    async def _update_status(self, pod: Json, key: str) -> None:
        metadata, current = pod["metadata"], pod.get("status") or {}
        ip = current.get("podIP") or self._pod_ips.get(metadata["uid"]) or self._allocate_ip(metadata["uid"])
        desired = desired_pod_status(pod, format_time(_now()), ip, is_crashed(pod))
        if not status_changed(current, desired):
            return
        # resourceVersion makes the write conditional: a pod changed since it was read (say, its
        # readiness gate set) is refused with 409, and recomputed from the watch's newer version.
        patch = {
            "metadata": {"resourceVersion": metadata["resourceVersion"]},
            "status": status_patch(desired),
        }
        await self._client.patch(
            Pod.Status,
            metadata["name"],
            patch,
            namespace=metadata["namespace"],
            patch_type=PatchType.STRATEGIC,
        )
        log.info("status %s ready=%s", key, is_ready(desired))

    def _allocate_ip(self, uid: str) -> str:
        taken = set(self._pod_ips.values())
        for offset in range(POD_IP_COUNT):
            candidate = pod_ip((self._next_ip + offset) % POD_IP_COUNT)
            if candidate not in taken:
                self._next_ip = (self._next_ip + offset + 1) % POD_IP_COUNT
                self._pod_ips[uid] = candidate
                return candidate
        raise RuntimeError("every pod IP of 10.244.0.0/16 is taken")


async def _logging_errors(action: str, call: Awaitable[Any]) -> None:
    """Await `call`; log a failure instead of raising it, so that a periodic loop goes on."""
    try:
        await call
    except Exception as error:
        log.warning("%s failed: %r", action, error)


async def _retrying(action: str, call: Callable[[], Awaitable[None]]) -> None:
    """Call the coroutine function `call` until it succeeds, logging each failure."""
    while True:
        try:
            await call()
            return
        except Exception as error:
            log.warning("%s failed; retrying in %ss: %r", action, RETRY_SECONDS, error)
        await asyncio.sleep(RETRY_SECONDS)


def _now() -> datetime:
    return datetime.now(UTC)


async def _main(args: argparse.Namespace) -> int:
    client = AsyncClient(KubeConfig.from_file(args.kubeconfig), field_manager=FIELD_MANAGER)
    kubelet = Kubelet(client, node_names(args.node_prefix, args.nodes))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(kubelet.run())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (running, stopping):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await client.close()
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the simulated kubelet until SIGTERM or SIGINT; the exit code is 0 after a clean stop."""
    parser = argparse.ArgumentParser(
        prog="python -m reentry.sandbox.kubelet",
        description="The sandbox's simulated kubelet: it plays the nodes.",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the sandbox's API server")
    parser.add_argument("--nodes", type=int, default=3, help="how many nodes to simulate (default 3)")
    parser.add_argument(
        "--node-prefix", default="sandbox-node", help="node names are PREFIX-0, PREFIX-1, ..."
    )
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    # Only this module's actions at INFO: the HTTP client logs every request at INFO too.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s kubelet %(message)s")
    log.setLevel(logging.INFO)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
