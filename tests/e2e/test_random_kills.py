"""The operator SIGKILLed at random moments of 20 whole drills: every drill ends Restored with each
action run once, each ramp step taken once, and no pod released out of order.

Each drill has every stage at work: an identity check, state actions (a Job, then a patch) and a
state check held for ``stableFor``, a dependency (b after a, a released one pod every 2 s), a ramp
of three steps on a ConfigMap target, and the owner's approval before observing. The 20 drills
run at once in namespaces of their own, started at random offsets, served by one operator that is
SIGKILLed at random moments and started again: every kill lands on the 20 drills at 20 different
points of their course. A thread plays the rest of the world: it completes each Job (the simulated
kubelet never ends a container) and approves a plan when it asks.

The offsets and kill times come from a seed that is printed (``REENTRY_KILL_SEED`` replays a run).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod

from tests.e2e.conftest import Cluster, Operator, apply_docs, start_operator, stop_operator, wait_for
from tests.e2e.story import (
    by_name,
    complete,
    gated_service,
    jobs_of,
    plan_status,
    recovery_plan,
    release_times,
    service_entry,
)

PLAN = "drill"
DRILLS = 20
KILLS = 6
#: Drills start at random moments within this many seconds, and the operator is killed at random
#: moments within the window after that: together they land kills on every stage of the drills.
START_SPREAD, KILL_WINDOW = 15.0, 15.0
STEPS = [30, 60, 100]
PAUSE = "registry.k8s.io/pause:3.10"


def drill_plan() -> dict[str, Any]:
    return recovery_plan(
        PLAN,
        [service_entry("a", release={"batch": 1, "interval": "2s"}), service_entry("b", ("a",))],
        identity={"checks": [{"name": "issuer", "resource": {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "name": "issuer", "path": ".data.ready",
                                                             "equals": "yes"}}]},
        state={
            "actions": [
                {"name": "warm-cache", "job": {"spec": {"backoffLimit": 0, "template": {"spec": {
                    "restartPolicy": "Never", "containers": [{"name": "warm", "image": PAUSE}]}}}}},
                {"name": "routing", "patch": {"apiVersion": "v1", "kind": "ConfigMap", "name": "routing",
                                              "patch": {"data": {"mode": "restored"}}}},
            ],
            "checks": [{"name": "lag", "stableFor": "2s", "resource": {
                "apiVersion": "v1", "kind": "ConfigMap", "name": "routing", "path": ".data.lag", "max": 1}}],
        },
        traffic={"steps": [{"weight": w, "hold": "2s"} for w in STEPS[:-1]] + [{"weight": STEPS[-1]}],
                 "targets": [{"configMapKey": {"name": "weights", "key": "w", "from": 0, "to": 100}}]},
        validation={"approval": {"required": True}, "observeFor": "1s"})


def kill(operator: Operator) -> None:
    operator.process.send_signal(signal.SIGKILL)
    operator.process.wait(timeout=10)


def where(cluster: Cluster, namespaces: list[str]) -> str:
    """How many drills stand where (phase and stage), e.g. ``3 DependencyConvergence/dependencies``."""
    seen: dict[str, int] = {}
    for ns in namespaces:
        status = plan_status(cluster, ns, PLAN)
        spot = f"{status.get('phase', 'new')}/{status.get('stage') or '-'}"
        seen[spot] = seen.get(spot, 0) + 1
    return ", ".join(f"{n} {spot}" for spot, n in sorted(seen.items()))


class World(threading.Thread):
    """Completes each drill's Job once it exists and approves each plan that waits for approval."""

    def __init__(self, cluster: Cluster, namespaces: list[str]) -> None:
        super().__init__(name="world", daemon=True)
        self.cluster, self.namespaces, self.done = cluster, namespaces, threading.Event()
        self.started: set[str] = set()
        """The namespaces whose plan exists (the test adds each as it applies it)."""
        self.completed: set[str] = set()
        self.approved: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.done.wait(0.3):
                for ns in self.namespaces:
                    if ns in self.started:
                        self.play(ns)
        except BaseException as err:  # reported by the test, not lost in the thread
            self.error = err

    def play(self, ns: str) -> None:
        if ns not in self.completed:
            jobs = jobs_of(self.cluster, ns, "warm-cache")
            if jobs and jobs[0].metadata and jobs[0].metadata.name:
                complete(self.cluster, ns, jobs[0].metadata.name)
                self.completed.add(ns)
        if ns not in self.approved:
            status = plan_status(self.cluster, ns, PLAN)
            if any(c.get("reason") == "AwaitingApproval" for c in status.get("conditions", [])):
                self.cluster.kubectl("annotate", "rplan", PLAN, "reentry.dev/approve=drill", namespace=ns)
                self.approved.add(ns)


def test_twenty_drills_survive_random_sigkills(cluster: Cluster, tmp_path: Path):
    seed = int(os.environ.get("REENTRY_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    print(f"\nREENTRY_KILL_SEED={seed}")
    run = uuid.uuid4().hex[:5]
    namespaces = [f"solo-kills-{run}-{i}" for i in range(DRILLS)]
    for ns in namespaces:
        cluster.client.create(Namespace(metadata=ObjectMeta(name=ns)))
    world = World(cluster, namespaces)
    operator = None
    try:
        # Given 20 restored systems held back: a (3 pods) <- b (2 pods), a target at 0, routing degraded
        for ns in namespaces:
            apply_docs(cluster, ns, gated_service("a", 3) + gated_service("b", 2) + [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "issuer"}, "data": {"ready": "yes"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "routing"},
                 "data": {"mode": "degraded", "lag": "0"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "weights"}, "data": {"w": "0"}}])
        wait_for("every drill's 5 pods running", lambda: all(
            sum(1 for p in cluster.client.list(Pod, namespace=ns) if p.status and p.status.phase == "Running") == 5
            for ns in namespaces), timeout=180)

        # When the drills start at random offsets and the operator serving them is killed at random moments
        operator = start_operator(cluster, tmp_path / "operator.log", namespace=f"solo-kills-{run}-*")
        world.start()
        began = time.monotonic()
        starts = sorted((rng.uniform(0, START_SPREAD), ns) for ns in namespaces)
        kills = sorted(rng.uniform(2.0, START_SPREAD + KILL_WINDOW) for _ in range(KILLS))
        print(f"drills start at {[round(t, 1) for t, _ in starts]} s; kills at {[round(t, 1) for t in kills]} s")
        events = sorted([(t, "start", ns) for t, ns in starts] + [(t, "kill", "") for t in kills])
        for at, what, ns in events:
            time.sleep(max(0.0, began + at - time.monotonic()))
            if what == "start":
                apply_docs(cluster, ns, [drill_plan()])
                world.started.add(ns)
            else:
                print(f"kill at {at:.1f} s, the drills then at: {where(cluster, sorted(world.started))}")
                kill(operator)
                operator = start_operator(cluster, tmp_path / "operator.log", namespace=f"solo-kills-{run}-*")

        # Then every drill ends Restored
        def phases() -> dict[str, str]:
            return {ns: plan_status(cluster, ns, PLAN).get("phase", "") for ns in namespaces}

        wait_for("every drill Restored", lambda: set(phases().values()) == {"Restored"}, timeout=240)
        assert operator.process.poll() is None, "the last operator exited"
        assert world.error is None, world.error
    finally:
        world.done.set()
        if operator is not None:
            stop_operator(operator)

    for ns in namespaces:
        final = plan_status(cluster, ns, PLAN)
        # each action ran once: one Job; the patch recorded the value before it, not its own
        assert len(jobs_of(cluster, ns, "warm-cache")) == 1, ns
        actions = by_name(final["actions"])
        assert [a["state"] for a in final["actions"]] == ["Succeeded", "Succeeded"], (ns, final["actions"])
        assert actions["routing"]["record"] == {"previous": {"data": {"mode": "degraded"}}}, ns
        assert actions["warm-cache"]["finishedAt"] <= actions["routing"]["startedAt"], ns
        # each ramp step once, in order, and the target at the last step's weight
        assert [h["weight"] for h in final["traffic"]["history"]] == STEPS, (ns, final["traffic"]["history"])
        assert cluster.client.get(ConfigMap, "weights", namespace=ns).data == {"w": "100"}, ns
        # the stages in order; a's pods one at a time, its interval kept; b only after a
        stages = final["stages"]
        assert [s["state"] for s in stages] == ["Passed"] * 5, (ns, stages)
        assert [s["startedAt"] for s in stages] == sorted(s["startedAt"] for s in stages), ns
        a, b = release_times(cluster, ns, "a"), release_times(cluster, ns, "b")
        assert len(a) == 3 and len(b) == 2, ns
        assert all((later - earlier).total_seconds() >= 1 for earlier, later in pairwise(a)), (ns, a)
        assert max(a) <= min(b), (ns, a, b)
        assert final["approval"]["comment"] == "drill", ns
    for ns in namespaces:
        try:
            cluster.client.delete(Namespace, ns)
        except ApiError as err:
            if err.status.code != 404:
                raise
