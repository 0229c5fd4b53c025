"""``make demo``: a whole failback drill on the local sandbox, shown as it happens.

The shop (auth <- orders <- checkout) comes back after an outage with every pod held by the
readiness gate. The plan is applied, stays Armed until on-call starts it, then re-attaches the
services bottom-up, then brings traffic back in steps (consumers, retry budget, DNS weight) until
the plan reports Restored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lightkube import ApiError, Client
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from reentry import crd, model
from reentry.kube import RecoveryPlanResource
from reentry.sandbox import cluster

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "shop"
PLAN = "checkout-failback"
DEADLINE_SECONDS = 180


def _say(text: str) -> None:
    print(text, flush=True)


def _fresh_namespace(client: Client) -> None:
    try:
        client.delete(Namespace, NAMESPACE)
    except ApiError as err:
        if err.status.code != 404:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.get(Namespace, NAMESPACE)
        except ApiError:
            break
        time.sleep(0.5)
    client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))


def _held_pods(client: Client) -> tuple[int, int]:
    pods = list(client.list(Pod, namespace=NAMESPACE))
    running = [p for p in pods if p.status and p.status.phase == "Running"]
    ready = [p for p in running if any(c.type == "Ready" and c.status == "True"
                                       for c in (p.status.conditions or []))]  # type: ignore[union-attr]
    return len(running), len(ready)


def summary(status: dict[str, Any]) -> str:
    """One line: phase, stage and each service's state with its released pods."""
    services = " | ".join(
        f"{s['name']} {s.get('state', '?')} {s.get('releasedPods', 0)}/{s.get('totalPods', 0)}"
        for s in status.get("services", []))
    stage = status.get("stage") or "-"
    traffic = status.get("traffic") or {}
    weight = (f" | traffic {traffic.get('weight', 0)}% {traffic.get('state', '')}".rstrip()
              if traffic.get("state") else "")
    return f"{status.get('phase', 'Pending'):<22} stage={stage:<13} {services}{weight}"


def _plan_status(client: Client) -> dict[str, Any]:
    status: Any = client.get(RecoveryPlanResource, PLAN, namespace=NAMESPACE).status
    return dict(status or {})


def _watch(client: Client, deadline: float) -> dict[str, Any]:
    last = ""
    while time.monotonic() < deadline:
        status = _plan_status(client)
        line = summary(status)
        if line != last:
            _say(f"  {time.strftime('%H:%M:%S')}  {line}")
            last = line
        if status.get("phase") in ("Restored", "Failed", "Aborted"):
            return status
        time.sleep(0.3)
    raise RuntimeError(f"the plan did not finish within {DEADLINE_SECONDS}s")


def main() -> int:
    """Run the drill; 0 when the plan ends Restored."""
    _say("== 1. sandbox: a real kube-apiserver, etcd, controller-manager and a simulated kubelet")
    box = cluster.up()
    client = Client(config=KubeConfig.from_file(box.kubeconfig), field_manager="reentry-demo")
    cluster.install_crd(box, ROOT / "crds" / crd.CRD_FILE, f"{model.PLURAL}.{model.GROUP}")

    _say(f"== 2. the shop comes back after the outage (namespace {NAMESPACE}); every pod is gated")
    _fresh_namespace(client)
    cluster.kubectl(box, "apply", "-n", NAMESPACE, "-f", str(ROOT / "examples" / "shop.yaml"))
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and _held_pods(client)[0] < 7:
        time.sleep(0.3)
    running, ready = _held_pods(client)
    _say(f"   {running} pods running, {ready} Ready: the readiness gate keeps them out of their Services")

    _say("== 3. the operator starts (`reentry run`)")
    log = box.directory / "logs" / "demo-operator.log"
    with log.open("ab") as out:
        operator = subprocess.Popen([sys.executable, "-m", "reentry.cli", "run", "--all-namespaces",
                                     "--metrics-port", "0"], stdout=out,
                                    stderr=subprocess.STDOUT, env={**os.environ, "KUBECONFIG": str(box.kubeconfig)},
                                    start_new_session=True)
    try:
        _say("== 4. the plan is applied; start: Manual keeps it Armed")
        cluster.kubectl(box, "apply", "-n", NAMESPACE, "-f", str(ROOT / "examples" / "checkout-failback.yaml"))
        while time.monotonic() < deadline:
            if _plan_status(client).get("phase") == "Armed":
                break
            time.sleep(0.3)
        _say(cluster.kubectl(box, "get", "rplan", "-n", NAMESPACE).rstrip())
        _say(f"== 5. on-call starts it: kubectl annotate rplan {PLAN} {model.START_ANNOTATION}=now")
        cluster.kubectl(box, "annotate", "-n", NAMESPACE, "rplan", PLAN, f"{model.START_ANNOTATION}=now")
        final = _watch(client, deadline)
    finally:
        operator.terminate()
        operator.wait(timeout=20)

    _say("== 6. result")
    _say(cluster.kubectl(box, "get", "rplan", "-n", NAMESPACE, "-o", "wide").rstrip())
    for s in final.get("services", []):
        _say(f"   {s['name']:<9} release started {s.get('releaseStartedAt')}  attached {s.get('attachedAt')}")
    me = sys.argv[0] if "/" in sys.argv[0] else "reentry"
    _say(f"\nLook around:  eval \"$({me} sandbox env)\"; kubectl describe rplan -n {NAMESPACE} {PLAN}")
    _say(f"              kubectl get events -n {NAMESPACE} --field-selector involvedObject.name={PLAN}")
    _say(f"Operator log: {log}")
    _say(f"Tear down:    {me} sandbox down")
    return 0 if final.get("phase") == "Restored" else 1
