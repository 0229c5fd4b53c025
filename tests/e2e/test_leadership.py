"""Leader election on the real API server: one replica acts, a standby takes over, a cut-off leader fences itself.

- In process, two electors over one Lease with short timings: the second waits while the first
  renews; the first, cut off (its attempts stopped), stops acting at its renew deadline, *before*
  the second may take over; a clean release hands over at the next attempt.
- As real processes, two ``reentry run --leader-elect`` replicas over one solo namespace: the
  leader is SIGKILLed mid-release, again and again (``REENTRY_FAILOVER_TRIALS`` times, 3 in
  ``make test``, 10 in ``make failover``); each time the standby holds the Lease within 15 s and the
  release goes on from where it was: no batch early (two operators acting would release them
  faster than the plan's interval), none repeated. Then the plan ramps a target, a step per trial,
  and the leader is SIGKILLed again during each step's hold: each time the standby takes over and
  the ramp goes on, each step once. The plan is Restored, and a SIGTERM hands over at once. The
  takeover times are printed (p50, max, mid-release and mid-ramp).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import uuid
from itertools import pairwise
from pathlib import Path

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap

from reentry.kube import Kube
from reentry.leadership import Leadership
from tests.e2e.conftest import Cluster, Operator, apply_docs, start_operator, stop_operator, wait_for
from tests.e2e.story import (
    gated_service,
    given_running_pods,
    recovery_plan,
    release_times,
    released_count,
    service_entry,
    wait_phase,
    wait_status,
)

TRIALS = int(os.environ.get("REENTRY_FAILOVER_TRIALS", "3"))
TAKEOVER_GOAL = 15.0
INTERVAL = 4  # seconds between two batches of one pod: a takeover lands between batches or within one
RAMP_HOLD = 12  # seconds each step of the ramp holds: longer than a takeover (about 10 s)


def test_a_cut_off_leader_fences_itself_before_a_standby_may_take_over(cluster: Cluster, namespace: str):
    timings = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}
    happened: list[tuple[str, float]] = []

    async def scenario() -> None:
        client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
        try:
            kube, started = Kube(client), time.monotonic()

            def elector(name: str) -> Leadership:
                return Leadership(kube, namespace, "election", name,
                                  on_lead=lambda: happened.append((f"{name} leads", time.monotonic() - started)),
                                  on_fence=lambda: happened.append((f"{name} fenced", time.monotonic() - started)),
                                  **timings)

            a, b = elector("a"), elector("b")
            await a.attempt()
            for _ in range(4):  # b waits while a renews
                await b.attempt()
                await a.attempt()
                await asyncio.sleep(0.5)
            assert (a.leading, b.leading) == (True, False)
            cut_at = time.monotonic() - started
            happened.append(("a cut off", cut_at))
            while not b.leading:  # a makes no attempt any more: as if its API server were unreachable
                await b.attempt()
                await asyncio.sleep(0.5)
            # a clean release hands the Lease over at once
            await b.release()
            await a.attempt()
            assert a.leading
        finally:
            await client.close()

    asyncio.run(scenario())
    order = [what for what, _ in happened]
    assert order == ["a leads", "a cut off", "a fenced", "b leads", "b fenced", "a leads"], happened
    at = dict(happened)
    assert at["a fenced"] < at["b leads"]  # never two acting at once
    lease = cluster.client.get(Lease, "election", namespace=namespace)
    assert lease.spec is not None and lease.spec.holderIdentity == "a" and lease.spec.leaseTransitions == 2


def holder(cluster: Cluster, namespace: str, name: str) -> str | None:
    try:
        lease = cluster.client.get(Lease, name, namespace=namespace)
    except Exception:
        return None
    return lease.spec.holderIdentity if lease.spec else None


def test_the_standby_takes_over_within_15_s_of_a_leader_killed_mid_release_and_mid_ramp(
        cluster: Cluster, solo_namespace: str, tmp_path: Path):
    ns, lease_id = solo_namespace, f"reentry-{uuid.uuid4().hex[:6]}"
    pods = TRIALS * 4 + 4  # enough batches (one every INTERVAL s) to outlast every takeover
    given_running_pods(cluster, ns, gated_service("a", pods), pods)
    # A step per trial, each held longer than a takeover takes, then 100 %
    weights = [round(100 * (i + 1) / (TRIALS + 1)) for i in range(TRIALS)] + [100]

    def replica(identity: str) -> Operator:
        return start_operator(cluster, tmp_path / f"{identity}.log", namespace=ns, extra_args=(
            "--leader-elect", f"--leader-election-namespace={ns}", f"--leader-election-id={lease_id}",
            f"--identity={identity}"))

    replicas = {"r0": replica("r0"), "r1": replica("r1")}
    try:
        first = wait_for("a leader", lambda: holder(cluster, ns, lease_id), timeout=30)
        cluster.client.create(ConfigMap(metadata=ObjectMeta(name="weights"), data={"w": "0"}), namespace=ns)
        apply_docs(cluster, ns, [recovery_plan("failover", [service_entry("a", release={
            "batch": 1, "interval": f"{INTERVAL}s"})], traffic={
            "steps": [{"weight": w, "hold": f"{RAMP_HOLD}s"} for w in weights[:-1]] + [{"weight": 100}],
            "targets": [{"configMapKey": {"name": "weights", "key": "w", "from": 0, "to": 100}}]})])
        wait_for("the first release", lambda: released_count(cluster, ns) >= 1, timeout=60)

        takeovers, leader = [], first
        for trial in range(TRIALS):
            standby = "r1" if leader == "r0" else "r0"
            before = released_count(cluster, ns)
            replicas[leader].process.send_signal(signal.SIGKILL)  # no shutdown handler: an OOM kill, a node lost
            killed_at = time.monotonic()
            replicas[leader].process.wait(timeout=10)
            wait_for(f"{standby} to hold the Lease", lambda s=standby: holder(cluster, ns, lease_id) == s,
                     timeout=TAKEOVER_GOAL + 10, every=0.1)
            takeovers.append(time.monotonic() - killed_at)
            assert released_count(cluster, ns) < pods, "the release ended before the trial: too few pods"
            wait_for("the new leader to release the next batch", lambda b=before: released_count(cluster, ns) > b,
                     timeout=INTERVAL + 20)
            replicas[leader] = replica(leader)  # back, as the standby
            leader = standby
            print(f"trial {trial + 1}: {standby} took over {takeovers[-1]:.1f} s after the kill")

        # And when the leader is killed during each step's hold of the ramp, the standby takes over the ramp
        mid_ramp = []
        for trial, weight in enumerate(weights[:-1]):
            wait_status(cluster, ns, "failover", f"the ramp's step to {weight} %",
                        lambda s, w=weight: (s.get("traffic") or {}).get("weight") == w,
                        timeout=pods * INTERVAL + 60 if trial == 0 else RAMP_HOLD + TAKEOVER_GOAL + 30)
            standby = "r1" if leader == "r0" else "r0"
            replicas[leader].process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            replicas[leader].process.wait(timeout=10)
            wait_for(f"{standby} to hold the Lease", lambda s=standby: holder(cluster, ns, lease_id) == s,
                     timeout=TAKEOVER_GOAL + 10, every=0.1)
            mid_ramp.append(time.monotonic() - killed_at)
            replicas[leader] = replica(leader)
            leader = standby
            print(f"mid-ramp trial {trial + 1}: {standby} took over {mid_ramp[-1]:.1f} s after the kill")

        # Then the release finished one batch at a time: never two at once (two acting operators would
        # release faster than the interval), each pod once; and the ramp took each step once
        final = wait_phase(cluster, ns, "failover", "Restored", timeout=RAMP_HOLD + 60)
        assert [h["weight"] for h in final["traffic"]["history"]] == weights
        assert cluster.client.get(ConfigMap, "weights", namespace=ns).data == {"w": "100"}
        times = release_times(cluster, ns, "a")
        assert len(times) == pods
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert min(gaps) >= INTERVAL - 1, gaps  # lastTransitionTime has whole seconds

        # And a clean stop (SIGTERM) hands the Lease over at once
        standby = "r1" if leader == "r0" else "r0"
        replicas[leader].process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        wait_for(f"{standby} to hold the Lease", lambda: holder(cluster, ns, lease_id) == standby, timeout=10,
                 every=0.1)
        handover = time.monotonic() - stopped_at
    finally:
        for process in replicas.values():
            stop_operator(process)

    print(f"takeover after SIGKILL over {TRIALS} trials mid-release: p50 {statistics.median(takeovers):.1f} s, "
          f"max {max(takeovers):.1f} s; over {TRIALS} trials mid-ramp: p50 {statistics.median(mid_ramp):.1f} s, "
          f"max {max(mid_ramp):.1f} s; after SIGTERM {handover:.1f} s")
    assert max(takeovers) < TAKEOVER_GOAL, takeovers
    assert max(mid_ramp) < TAKEOVER_GOAL, mid_ramp
    assert handover < 5, handover
