"""reentry benchmarks: ratios measured in one run, against one API server (a private sandbox).

Run from the repository root (this is what ``make bench`` is meant to run)::

    PYTHONPATH=.:operator python bench/run.py [--only throughput,latency,traffic,rest] [--pods 500]
        [--trials 20] [--traffic-trials 7] [--rest-plans 10,200] [--out docs/benchmarks.md]

Without ``--out`` the results are printed only; with it, (a) and (b) go to that file, (c) beside
it to ``docs/benchmarks-traffic.md`` and (d) to ``docs/benchmarks-rest.md``, so ``--only traffic``
or ``--only rest`` refreshes one alone.
The run starts its own sandbox in a temporary directory (``--workdir DIR`` keeps it, with the
sandbox's and the operator's logs), the operator as a real ``python -m reentry.cli run
--all-namespaces`` process at its shipped defaults, and stops both at the end,
also on error or at the overall deadline (``--timeout``, 15 minutes).

Absolute numbers depend on the machine; the point is the ratio of two numbers measured in the same
run against the same API server, simulated kubelet and controller manager.

(a) Release throughput (``bench/throughput.py``)
    Two namespaces, each with a Deployment of N pods carrying the ``reentry.dev/released``
    readiness gate and a Service selecting them (so the EndpointSlice controller does the same work
    in both). *Baseline* first: a plain ``asyncio.gather`` bounded by the same semaphore size as
    ``Kube.release_pods`` sends the operator's own patch (``Kube.release_pod``) for every pod; timed
    from the first patch to the last response. *Operator* second, in the other namespace: with the
    operator already running, a RecoveryPlan (one service, batch 100%, ``start: OnTechnicalRecovery``)
    is created; timed from just before the create request until a pod watch has seen every pod's
    gate condition True. The time to the first release (the operator's reaction) is reported too.
    The ratio compares like with like: both runs end when the watch sees the last gate open; the
    baseline starts at its first patch, the operator at the plan's creation (its reaction included).
    Baseline first, not interleaved, so it cannot profit from connections or caches the operator
    warmed; the operator's run then waits until the baseline's endpoints are ready and the operator
    process is idle again (it watches every pod, so it takes in the baseline's events too). A pod
    watch runs in the benchmark process during both runs, so both carry its cost. Three rounds by
    default (``--throughput-rounds``), each in two fresh namespaces; the median round's ratio is the
    one judged, the lowest and highest are reported with it (one round varied from 0.81 to 0.97).

(b) Reaction latency (``bench/latency.py``)
    Per trial a plan with services ``base`` and ``dep`` (``dep`` dependsOn ``base``), one gated pod
    each, in one namespace reused with fresh object names per trial (a trial's plan is deleted
    before the next, so only one plan ticks at a time). Measured: from a watch seeing ``base``'s
    EndpointSlice with a ready endpoint (the real-world event) to the watch seeing ``dep``'s pod
    with its gate condition True. For perspective, in a second namespace and without the operator:
    the *chain* (patching a pod's gate until its EndpointSlice shows it ready: API server, kubelet,
    EndpointSlice controller) and an *ideal* reaction (the benchmark itself patches the dependent's
    gate as soon as its watch sees that endpoint; the floor for any watch-driven controller). One
    warm-up trial, not counted, also proves the operator is up.

(c) Traffic steps (``bench/traffic.py``)
    Per trial a plan with one gated service and a traffic ramp of S steps (default 10, weights 10..100,
    each held 1 s) over K ``configMapKey`` targets (default 5 ConfigMaps, 0 -> 100), one plan at a
    time. Step latency: from a step's hold end (``status.traffic.holdUntil``, the operator's wall
    clock) to the benchmark's watch seeing the last target show the next step's value (stamped with
    ``time.time()``). Baseline, in a second namespace without a plan: the benchmark sleeps until a
    wall-clock deadline and writes the K targets concurrently with the operator's own
    ``reentry.targets.apply``; deadline to the last watch arrival. Writes per step: the watch's
    changes of the target ConfigMaps and the API server's own request counts (``/metrics``), so a
    repeated write that changed nothing is seen too. The operator's decision path is also timed piece
    by piece in the benchmark process, to show where a step's time goes. It runs before (a): the
    throughput plan and its pods stay, and would weigh on every later tick.

(d) The operator at rest (``bench/rest.py``)
    N plans (10 and 200), each in a namespace of its own with one service of gated pods (25, or
    ``--rest-pods``: 5,000 pods at 200 plans), resting one in five each as Armed, Paused,
    Validating (awaiting approval), Observing and Restored; a fresh operator per N. The API
    server's ``apiserver_request_total`` (WATCH left out) is read over a window longer than the
    resync with the operator running, and over a shorter one with it stopped: the first count
    minus the second's rate is the operator's. CPU and RSS of the operator process from ``/proc``.
    When (c) runs too, its ramps run again at the largest N, with those plans resting: the step
    latency under load.

Nothing here is part of the pytest suite.
"""
