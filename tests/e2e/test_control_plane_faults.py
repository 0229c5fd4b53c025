"""The control plane fails under the operator mid-failback: it survives, resumes, and nothing is lost.

On a sandbox of its own (the session's keeps serving the other tests), a plan releases a service
one pod at a time and then ramps a traffic target in three steps. Mid-release the API server is
stopped for 30 s and started again; mid-ramp it is stopped for 30 s again (the step's hold ends
while it is away), and during the next hold etcd is restarted. The operator process stays up
throughout, the plan reaches Restored, no pod is released early (every gap at least the plan's
interval), every step is taken once and in order, and the target ends at the last step's weight.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace

from reentry.sandbox import cluster as sandbox
from tests.e2e.conftest import Cluster, Operator, apply_docs, start_operator, stop_operator, wait_for, with_crd
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

OUTAGE = 30.0  # seconds the API server stays down: the scenario itself, not a wait for something
INTERVAL = 2
HOLD = 10  # seconds each step of the ramp holds: the second outage outlasts the first step's
PODS = 8
NAMESPACE = "faults"


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sandbox.Sandbox, Cluster]]:
    directory = tmp_path_factory.mktemp("faulty-sandbox")
    box = sandbox.up(directory)
    try:
        handle = with_crd(box.kubeconfig, str(box.bin_dir / "kubectl"))
        yield box, handle
    finally:
        sandbox.down(directory)


def test_the_api_server_down_30_s_mid_release_and_mid_ramp_and_etcd_restarted(
        own_sandbox: tuple[sandbox.Sandbox, Cluster], tmp_path: Path):
    box, cluster = own_sandbox
    cluster.client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
    given_running_pods(cluster, NAMESPACE, gated_service("a", PODS), PODS)
    cluster.client.create(ConfigMap(metadata=ObjectMeta(name="weights"), data={"a": "0"}), namespace=NAMESPACE)
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=NAMESPACE)
    try:
        apply_docs(cluster, NAMESPACE, [recovery_plan(
            "faults", [service_entry("a", release={"batch": 1, "interval": f"{INTERVAL}s"})],
            traffic={"steps": [{"weight": 40, "hold": f"{HOLD}s"}, {"weight": 70, "hold": f"{HOLD}s"},
                               {"weight": 100}],
                     "targets": [{"configMapKey": {"name": "weights", "key": "a", "from": 0, "to": 100}}]})])
        wait_for("the first release", lambda: released_count(cluster, NAMESPACE) >= 1, timeout=60)

        # When the API server goes away mid-release, and comes back 30 s later
        serving_again = api_server_outage(box, operator)

        # Then the release goes on, and the ramp starts; when the API server goes away again during
        # the first step's hold (which ends meanwhile), the ramp goes on once it is back
        # (holding: the step's weight took effect and its hold began; a step still being applied when the
        # API server goes away starts its hold only once the target shows it, after the outage)
        wait_status(cluster, NAMESPACE, "faults", "the ramp's first step, holding",
                    lambda s: (s.get("traffic") or {}).get("weight") == 40
                    and (s.get("traffic") or {}).get("state") == "Holding", timeout=PODS * INTERVAL + 90)
        ramp_serving_again = api_server_outage(box, operator)
        second = wait_status(cluster, NAMESPACE, "faults", "the ramp's second step",
                             lambda s: (s.get("traffic") or {}).get("weight") == 70, timeout=60)

        # And when etcd restarts during the second step's hold, the ramp goes on too
        sandbox.stop_process(box, "etcd")
        sandbox.start_process(box, "etcd")
        wait_for("the API server serving again", lambda: sandbox.api_ready(box), timeout=60)
        final = wait_phase(cluster, NAMESPACE, "faults", "Restored", timeout=120)
        assert operator.process.poll() is None, "the operator exited"
    finally:
        stop_operator(operator)

    # Every step once and in order; the step whose hold ended during the outage taken within seconds
    # of the API server's return (the weight is decided, then written, by the first evaluation after)
    assert [h["weight"] for h in final["traffic"]["history"]] == [40, 70, 100]
    stepped = datetime.fromisoformat(second["traffic"]["history"][-1]["at"])
    print(f"\nthe ramp's step after the outage was decided {(stepped - ramp_serving_again).total_seconds():.1f} s "
          "after the API server served again")
    assert (stepped - ramp_serving_again).total_seconds() <= 10

    # And nothing was released early, nothing lost: every pod once, every gap at least the interval
    times = release_times(cluster, NAMESPACE, "a")
    assert len(times) == PODS
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    resumed = min(t for t in times if t >= serving_again.replace(microsecond=0))
    print(f"\ngaps between releases: {gaps} s (the API server was stopped {OUTAGE:.0f} s); the release resumed "
          f"{(resumed - serving_again).total_seconds():.1f} s after it served again")
    assert min(gaps) >= INTERVAL - 1, gaps  # lastTransitionTime has whole seconds
    assert max(gaps) >= OUTAGE - 5, gaps  # the outage is in there: the release waited for the API server
    # and resumed within seconds of its return (failed evaluations back off to 5 s at most meanwhile)
    assert (resumed - serving_again).total_seconds() <= 10
    weights = cluster.client.get(ConfigMap, "weights", namespace=NAMESPACE)
    assert weights.data == {"a": "100"}


def api_server_outage(box: sandbox.Sandbox, operator: Operator) -> datetime:
    """Stop the API server for :data:`OUTAGE` seconds, the operator checked alive every second, and start
    it again; when it served again."""
    sandbox.stop_process(box, "kube-apiserver")
    down_at = time.monotonic()
    while time.monotonic() - down_at < OUTAGE:
        assert operator.process.poll() is None, "the operator exited while the API server was down"
        time.sleep(1)
    sandbox.start_process(box, "kube-apiserver")  # returns once it serves (/readyz), some seconds later
    return datetime.now(UTC)
