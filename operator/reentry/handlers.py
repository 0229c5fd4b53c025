"""kopf wiring: a few lines per handler; the decisions live in ``reentry.engine``.

Run with ``reentry run`` (or ``kopf run -m reentry.handlers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from reentry import controller, heap, logs, metrics, model
from reentry.kube import Kube, aioapi_for, election_client, operator_client, unreachable
from reentry.leadership import Leadership
from reentry.loops import LivePlan, PlanLoops, context_for_loops
from reentry.objects import Objects
from reentry.throttle import DEFAULT_BURST, DEFAULT_QPS
from reentry.wakeups import Interest, Wakeups, plan_selectors
from reentry.watched import Caches

#: Seconds between two evaluations of a plan when nothing it watches changed and nothing falls due:
#: a safety net (a missed watch event, an object read by asking), not the engine's clock.
#: ``reentry run --resync`` sets it.
RESYNC_INTERVAL = 300.0
#: Each wait draws its resync from the last fifth below the interval: plans created together
#: (a GitOps sync of 200 of them) would otherwise all re-evaluate in the same second, every time,
#: and hold up a ramp's step behind them (measured: docs/benchmarks-rest.md).
RESYNC_JITTER = 0.2
#: The operator's client-side rate limit (``reentry run --qps/--burst``; see ``reentry.throttle``).
QPS, BURST = DEFAULT_QPS, DEFAULT_BURST
#: After failed evaluations (a bug, a refusal), wait 0.5 s, 1 s, 2 s, ... up to a minute; while the API
#: server cannot be reached, at most 5 s, so a plan resumes within seconds of its return.
ERROR_DELAY, MAX_ERROR_DELAY, MAX_UNREACHABLE_DELAY = 0.5, 60.0, 5.0
#: How long to wait for the watch to deliver our own status write before evaluating again.
FRESHNESS_TIMEOUT = 2.0
#: The context variables of kopf's handlers that a plan's loop keeps (see ``loops.context_for_loops``):
#: ``kopf.event`` posts through them. The others (kopf's cause, with the watch event) are left behind.
POSTING_VARIABLES = frozenset({"event_queue_loop_var", "event_queue_var", "settings_var"})
#: How long the plans' loops get to end when the operator stops.
LOOP_STOP_TIMEOUT = 10.0
#: Leader election (``reentry run --leader-elect``): the Lease's namespace and name, and this
#: replica's identity; None runs without (this process acts on every plan it watches).
LEADER_ELECTION: tuple[str, str, str] | None = None
#: The namespaces whose pods, EndpointSlices and Services the caches follow (``reentry run
#: --namespace``, exact names); None: the whole cluster (also for kopf's namespace patterns).
WATCHED_NAMESPACES: tuple[str, ...] | None = None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """No bookkeeping of kopf's on the objects; open the clients; start leader election if asked."""
    settings.persistence.diffbase_storage = NoDiffBase(prefix=model.GROUP)
    settings.posting.level = logging.INFO
    objects_log = logging.getLogger("kopf.objects")
    objects_log.addFilter(_quiet_watch_handlers)
    if not objects_log.isEnabledFor(logging.DEBUG):
        # Without --verbose/--debug, kopf's INFO lines about objects here are its handlers'
        # successes, one per watch event and all filtered out above: at WARNING they are not even
        # built (2 % of the operator's CPU while it released 500 pods, profiled with py-spy).
        objects_log.setLevel(logging.WARNING)
    client = operator_client(QPS, BURST)
    memo.kube, memo.objects, memo.wakeups = Kube(client), Objects(client), Wakeups()
    # The caches' watches hold a connection each for as long as the operator runs: a pool of their own.
    memo.caches = Caches(aioapi_for(client, connections=0), memo.wakeups, WATCHED_NAMESPACES,
                         on_relist=lambda kind: metrics.METRICS.cache_relists.labels(kind).inc())
    metrics.METRICS.watch_caches(memo.caches.sizes)
    memo.caches.start()
    memo.loops = PlanLoops(acting=LEADER_ELECTION is None, context=lambda: context_for_loops(POSTING_VARIABLES))
    metrics.METRICS.leader.set(int(memo.loops.acting))
    memo.leadership = None
    if LEADER_ELECTION is not None:
        def lead() -> None:
            metrics.METRICS.leader.set(1)
            memo.loops.act()

        def fence() -> None:
            metrics.METRICS.leader.set(0)
            memo.loops.fence()

        memo.leadership = Leadership(Kube(election_client()), *LEADER_ELECTION, on_lead=lead, on_fence=fence)
        memo.electing = asyncio.get_running_loop().create_task(memo.leadership.run())
    # The long-lived heap (what the imports loaded, kopf's bookkeeping, the caches) is kept out of
    # the collector's full scans, so a traffic step never waits for one (``reentry.heap``).
    memo.gc_pauses = heap.PauseObserver(metrics.METRICS.gc_pause)
    memo.gc_pauses.install()
    heap.settle()
    memo.moving = set()  # the plans re-entering now (pods released, checks gating, a ramp): no settle then
    memo.settling = asyncio.get_running_loop().create_task(heap.keep_settled(
        busy=lambda: bool(memo.moving) or memo.objects.following(), observer=memo.gc_pauses))


#: The handlers that only note a change for the plans' loops: their every success is not news.
_WATCH_HANDLERS = ("plan_changed",)


def _quiet_watch_handlers(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (message.endswith(" succeeded.") and any(f"'{h}'" in message for h in _WATCH_HANDLERS))


class NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """No record of what an object last looked like: this operator compares none.

    kopf builds such an "essence" (a deep copy of the object without its status) on every event of
    every kind it watches, for change handlers (on.create/update/delete). This operator has none:
    the plans' own loops read the newest version and keep the plans' finalizer. During a release of
    500 pods the copies cost about a tenth of the operator's CPU (profiled with py-spy).
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return {}


# ---- the caches: pods, EndpointSlices and Services follow ``reentry.watched``'s informers; the plans'
# selectors are a kopf index, since kopf watches the plans anyway. Every handler here is ``async``:
# kopf runs a sync handler in a thread pool, a hop per event that costs more than the handler itself.


@kopf.index(model.GROUP, model.VERSION, model.PLURAL)
async def reentry_plans(namespace: str | None, spec: kopf.Spec, **_: Any) -> dict[str, tuple[model.LabelSelector, ...]]:
    """Every plan's service selectors, by namespace."""
    return {namespace or "": plan_selectors(spec)}


# ---- what wakes a plan's loop ---------------------------------------------------------------------


@kopf.on.event(model.GROUP, model.VERSION, model.PLURAL)
async def plan_changed(event: kopf.RawEvent, namespace: str | None, name: str, meta: kopf.Meta, memo: Any,
                       **indexes: Any) -> None:
    """Start the plan's loop, or hand it the newest version; stop it when the plan goes."""
    key = (namespace or "", name)
    if event["type"] == "DELETED":
        memo.loops.gone(key)
        metrics.forget(*key)
        return
    memo.loops.seen(key, event["object"], lambda live: reconcile(key, live, memo, indexes))
    said = (meta.get("generation"), meta.get("deletionTimestamp"),
            tuple(sorted((k, v) for k, v in meta.annotations.items() if k.startswith(f"{model.GROUP}/"))))
    memo.wakeups.plan_changed(key, said)


@kopf.on.cleanup()
async def stop_loops(memo: kopf.Memo, **_: Any) -> None:
    """Stop acting, then hand the Lease back, so a standby takes over at its next attempt."""
    memo.settling.cancel()
    memo.gc_pauses.remove()
    if memo.leadership is not None:
        memo.electing.cancel()
    await memo.loops.stop(LOOP_STOP_TIMEOUT)
    await memo.caches.stop()
    await memo.kube.close()
    if memo.leadership is not None:
        await memo.leadership.release()


# ---- one loop per plan ----------------------------------------------------------------------------


async def reconcile(key: tuple[str, str], live: LivePlan, memo: Any, indexes: dict[str, Any]) -> None:
    """One loop per plan: evaluate, post the Events, sleep until a change it reads or its next deadline.

    ``live`` holds the newest version of the plan the watch delivered (see ``reentry.loops``). After
    writing the status, the loop waits until the watch has delivered that write, so an evaluation
    never starts from a status older than its own. ``indexes`` are kopf's (the plans' selectors),
    which kopf passes to every handler by name; the other caches are ``memo.caches``.
    """
    logger = logging.getLogger("reentry.plan")
    logs.about_plan(*key)  # this loop is a task of its own: its log lines, and only those, are about this plan
    caches: Caches = memo.caches
    view = caches.view(indexes["reentry_plans"])
    wakeups: Wakeups = memo.wakeups
    wake = wakeups.event(key)
    memory = controller.PlanMemory(key=key, wake=wake.set)
    failures = hurried = 0
    try:
        await caches.synced()  # nothing is decided from a cache that has not been listed yet
        while True:
            wake.clear()  # a change from here on wakes the next wait at once
            body = live.body
            wakeups.declare(key, Interest.of(body.get("spec") or {}))
            started = datetime.now(UTC)
            try:
                with metrics.METRICS.reconciling(*key):
                    if controller.deleting(body):
                        released = await controller.finish_deletion(memo.kube, memo.objects, body)
                        if released is not None:
                            logger.info("plan %s/%s deleted: released %d held pod(s) it selected", *key, released)
                        return
                    _, before = controller.parse(body)
                    logs.at_stage(before.stage if before else None)
                    # The finalizer first: nothing is held or moved that a deletion could not hand back.
                    if controller.protects(controller.valid_spec(body), before):
                        added = await controller.keep_finalizer(memo.kube, body, wanted=True)
                        if added is not None:
                            await _until_delivered(live, added)
                            continue
                    decision = await controller.reconcile(memo.kube, memo.objects, view, body, memory=memory)
                    removed = None
                    if not controller.protects(memory.spec, decision.status):  # the spec it just validated
                        removed = await controller.keep_finalizer(memo.kube, body, wanted=False)
                        memory.written = removed or memory.written
            except Exception as err:
                failures += 1
                ceiling = MAX_UNREACHABLE_DELAY if unreachable(err) else MAX_ERROR_DELAY
                delay = min(ceiling, ERROR_DELAY * 2 ** (failures - 1))
                logger.exception("plan %s/%s: evaluation failed; retrying in %.1f s", *key, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if decision.status.phase in model.MOVING_PHASES:  # the heap is not settled meanwhile
                memo.moving.add(key)
            else:
                memo.moving.discard(key)
            metrics.record(*key, before, decision)
            for event in decision.events:
                kopf.event(kopf.Body(cast(kopf.RawBody, body)), type="Warning" if event.warning else "Normal",
                           reason=event.reason, message=event.message)
            hurried = hurried + 1 if decision.status != before or removed is not None else 0
            if hurried:
                await _until_delivered(live, memory.written)
            resync = RESYNC_INTERVAL * (1 - RESYNC_JITTER * random.random())
            delay = controller.next_wake(decision.status, memory, started, resync, hurried)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=delay)
    finally:
        memo.moving.discard(key)
        wakeups.forget(key)
        memo.objects.unfollow(key)
        memo.objects.unfollow(controller.grants_owner(key))


async def _until_delivered(live: LivePlan, written: str | None) -> None:
    """Wait (a bounded time) until the ``live`` plan is at least the version our write produced.

    The version must be reached, not merely changed: another write to the plan (another finalizer, a
    person's annotation) arriving first would otherwise let the next evaluation start from the
    status before ours, and repeat what it had just done.
    """
    deadline = time.monotonic() + FRESHNESS_TIMEOUT
    while not _at_least(live.resource_version, written) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _at_least(seen: str | None, written: str | None) -> bool:
    """``seen`` is ``written`` or later. resourceVersions are opaque to clients, but every API server
    backed by etcd writes its revision, an increasing integer; anything else is compared for equality."""
    if written is None:
        return True
    if seen is not None and seen.isdigit() and written.isdigit():
        return int(seen) >= int(written)
    return seen == written
