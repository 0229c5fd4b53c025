"""State drills on the sandbox, against a real Prometheus and a real HTTP server, read as failback stories.

- State drift: a replica reports 5 s of lag against ``max: 1``: the state stage holds and no
  consumer is let in; when the lag drops, the plan goes on once it has held for ``stableFor``.
- Cache stampede avoided: instead of every cache expiring at once, an ``invalidate`` action
  empties five of them one by one, in order, spaced as the plan says.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, Operator, apply_docs
from tests.e2e.http_server import Recorder, http_server
from tests.e2e.prometheus_fixtures import Prometheus, unique
from tests.e2e.story import (
    by_name,
    gated_service,
    given_running_pods,
    recovery_plan,
    released_count,
    service_entry,
    stays,
    wait_phase,
    wait_status,
)

PLAN = "failback"


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def check_of(status: dict[str, Any], name: str) -> dict[str, Any]:
    return by_name(status.get("checks", [])).get(name, {})


def test_state_drift_holds_consumers_until_the_replica_caught_up(cluster: Cluster, operator: Operator,
                                                                  namespace: str, prometheus: Prometheus):
    # Given restored consumers held back, and a replica whose lag Prometheus scrapes
    given_running_pods(cluster, namespace, gated_service("consumer", 2), 2)
    replica = unique("orders-db")
    series = f'replica_lag_seconds{{replica="{replica}"}}'
    lag_check = {"name": "replica-lag", "stableFor": "3s",
                 "prometheus": {"url": prometheus.url, "query": f"max({series})", "max": 1}}
    apply_docs(cluster, namespace, [recovery_plan(PLAN, [service_entry("consumer")], state={"checks": [lag_check]})])

    # Before the replica reports anything, the check has no data and the stage waits (onNoData: Hold)
    waiting = wait_status(cluster, namespace, PLAN, "no data yet",
                          lambda s: check_of(s, "replica-lag").get("result") == "NoData")
    assert (waiting["phase"], check_of(waiting, "replica-lag")["failureClass"]) == ("StateReconciliation", "NoData")

    # When the replica reports 5 s of lag
    prometheus.exporter.set("replica_lag_seconds", 5, replica=replica)
    held = wait_status(cluster, namespace, PLAN, "the lag check to fail",
                       lambda s: check_of(s, "replica-lag").get("result") == "Fail")
    # Then the state stage holds, naming what it saw against what it wants, and no consumer is in
    check = check_of(held, "replica-lag")
    assert held["phase"] == "StateReconciliation"
    assert (check["observed"], check["threshold"], check["failureClass"]) == ("5", "max 1", "ThresholdMissed")
    stays("consumers held while the replica lags", lambda: released_count(cluster, namespace) == 0, 3)

    # When the lag drops below the threshold
    prometheus.exporter.set("replica_lag_seconds", 0.2, replica=replica)
    final = wait_phase(cluster, namespace, PLAN, "Restored")

    # Then the stage passed only after the check had passed for stableFor, and consumers came after it
    check = check_of(final, "replica-lag")
    state = by_name(final["stages"])["state"]
    assert (check["result"], check["observed"]) == ("Pass", "0.2")
    assert "failureClass" not in check
    assert seconds_between(check["passingSince"], state["finishedAt"]) >= 3
    assert state["finishedAt"] <= by_name(final["services"])["consumer"]["releaseStartedAt"]
    assert released_count(cluster, namespace) == 2


@pytest.fixture
def caches() -> Iterator[Recorder]:
    """Five cache nodes' invalidation endpoints on one real HTTP server that records arrival times."""
    with http_server() as recorder:
        for i in range(5):
            recorder.answer(f"/cache-{i}/invalidate", status=204)
        yield recorder


def test_cache_stampede_avoided_by_spaced_invalidation(cluster: Cluster, operator: Operator, namespace: str,
                                                       caches: Recorder):
    # Given restored consumers held back, and five caches whose entries would all expire at once
    given_running_pods(cluster, namespace, gated_service("consumer", 1), 1)
    calls = [{"url": caches.url(f"/cache-{i}/invalidate"), "method": "POST", "body": '{"prefix": "cart:"}',
              "headers": {"Content-Type": "application/json"}} for i in range(5)]
    flush = {"name": "flush-caches", "invalidate": {"calls": calls, "spacing": "1500ms"}}
    # When the plan runs its state stage
    apply_docs(cluster, namespace, [recovery_plan(PLAN, [service_entry("consumer")], state={"actions": [flush]})])
    final = wait_phase(cluster, namespace, PLAN, "Restored", timeout=120)

    # Then every cache was hit once, in order, at least the spacing apart
    arrivals = caches.arrived("/cache-")
    assert [a.path for a in arrivals] == [f"/cache-{i}/invalidate" for i in range(5)]
    assert all(a.method == "POST" and a.body == '{"prefix": "cart:"}' for a in arrivals)
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.5, gaps
    # And the action's record says so, and consumers came in only after the last call
    action = by_name(final["actions"])["flush-caches"]
    assert action["state"] == "Succeeded"
    assert action["record"]["done"] == 5
    assert action["message"] == "5 calls done, 1500ms apart"
    assert action["finishedAt"] <= by_name(final["services"])["consumer"]["releaseStartedAt"]
    assert released_count(cluster, namespace) == 1
