"""The control plane fails under the operator mid-failback: it survives, resumes, and nothing is lost.

On a sandbox of its own (the session's keeps serving the other tests), a plan releases a service
one pod at a time and then ramps a traffic target. Mid-release the API server is stopped for 30 s
and started again; mid-ramp etcd is restarted. The operator process stays up throughout, the plan
reaches Restored, no pod is released early (every gap at least the plan's interval) and the target
ends at the last step's weight.
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
from tests.e2e.conftest import Cluster, apply_docs, start_operator, stop_operator, wait_for, with_crd
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


def test_the_api_server_down_30_s_mid_release_and_etcd_restarted_mid_ramp(
        own_sandbox: tuple[sandbox.Sandbox, Cluster], tmp_path: Path):
    box, cluster = own_sandbox
    cluster.client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
    given_running_pods(cluster, NAMESPACE, gated_service("a", PODS), PODS)
    cluster.client.create(ConfigMap(metadata=ObjectMeta(name="weights"), data={"a": "0"}), namespace=NAMESPACE)
    operator = start_operator(cluster, tmp_path / "operator.log", namespace=NAMESPACE)
    try:
        apply_docs(cluster, NAMESPACE, [recovery_plan(
            "faults", [service_entry("a", release={"batch": 1, "interval": f"{INTERVAL}s"})],
            traffic={"steps": [{"weight": 50, "hold": "10s"}, {"weight": 100}],
                     "targets": [{"configMapKey": {"name": "weights", "key": "a", "from": 0, "to": 100}}]})])
        wait_for("the first release", lambda: released_count(cluster, NAMESPACE) >= 1, timeout=60)

        # When the API server goes away mid-release, and comes back 30 s later
        sandbox.stop_process(box, "kube-apiserver")
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE:
            assert operator.process.poll() is None, "the operator exited while the API server was down"
            time.sleep(1)
        sandbox.start_process(box, "kube-apiserver")  # returns once it serves (/readyz), some seconds later
        serving_again = datetime.now(UTC)

        # Then the release goes on; and when etcd restarts mid-ramp, the ramp goes on too
        wait_status(cluster, NAMESPACE, "faults", "the ramp's first step",
                    lambda s: (s.get("traffic") or {}).get("weight") == 50, timeout=PODS * INTERVAL + 90)
        sandbox.stop_process(box, "etcd")
        sandbox.start_process(box, "etcd")
        wait_for("the API server serving again", lambda: sandbox.api_ready(box), timeout=60)
        wait_phase(cluster, NAMESPACE, "faults", "Restored", timeout=120)
        assert operator.process.poll() is None, "the operator exited"
    finally:
        stop_operator(operator)

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
