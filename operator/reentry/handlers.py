"""kopf wiring: a few lines per handler; the decisions live in ``reentry.engine``.

Run with ``reentry run`` (or ``kopf run -m reentry.handlers``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import kopf
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from reentry import controller, metrics, model
from reentry.engine.reconcile import next_deadline
from reentry.kube import FIELD_MANAGER, Kube
from reentry.objects import Objects

#: Seconds between two evaluations of a plan. Short, because a held system waits on every tick.
RECONCILE_INTERVAL = float(os.environ.get("REENTRY_RECONCILE_INTERVAL", "0.5"))
#: After a failed evaluation (API server unreachable, a bug), wait this long before the next one.
ERROR_DELAY = 5.0
#: How long to wait for the watch to deliver our own status write before evaluating again.
FRESHNESS_TIMEOUT = 2.0


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations, so the status schema stays strict; open the client."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=model.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=model.GROUP)
    settings.posting.level = logging.INFO
    client = AsyncClient(config=KubeConfig.from_env(), field_manager=FIELD_MANAGER)
    memo.kube, memo.objects = Kube(client), Objects(client)


@kopf.daemon(model.GROUP, model.VERSION, model.PLURAL, id="reconcile", cancellation_timeout=10)
async def reconcile(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """One loop per plan: evaluate, post the Events, sleep until the next tick or the next deadline.

    ``body`` is kopf's live view of the plan. After writing the status, the loop waits until the
    watch has delivered that write, so an evaluation never starts from a status older than its own.
    """
    failing_writes: dict[str, str] = {}  # target label -> the last refusal, so a repeat is not a new Event
    while True:
        seen = body.metadata.get("resourceVersion")
        started = datetime.now(UTC)
        try:
            with metrics.METRICS.reconciling(body.metadata.namespace or "", body.metadata.name or ""):
                _, before = controller.parse(body)
                decision = await controller.reconcile(memo.kube, memo.objects, body, failing_writes=failing_writes)
        except Exception:
            logger.exception("evaluation failed; retrying in %.0f s", ERROR_DELAY)
            await asyncio.sleep(ERROR_DELAY)
            continue
        metrics.record(body.metadata.namespace or "", body.metadata.name or "", before, decision)
        for event in decision.events:
            kopf.event(body, type="Warning" if event.warning else "Normal", reason=event.reason, message=event.message)
        if decision.status != before:
            await _until_delivered(body, seen)
        await asyncio.sleep(_delay(decision.status, started))


async def _until_delivered(body: kopf.Body, seen: str | None) -> None:
    deadline = time.monotonic() + FRESHNESS_TIMEOUT
    while body.metadata.get("resourceVersion") == seen and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _delay(status: model.RecoveryPlanStatus, decided_at: datetime) -> float:
    """A whole interval, or less when a hold or cool-down ends sooner.

    A deadline that had already passed when the evaluation started is no reason to hurry (the
    engine is then waiting on something else, such as the analysis); one that passed during the
    evaluation is due now.
    """
    due = next_deadline(status)
    if due is None or due <= decided_at:
        return RECONCILE_INTERVAL
    return max(0.0, min(RECONCILE_INTERVAL, (due - datetime.now(UTC)).total_seconds()))


@kopf.on.delete(model.GROUP, model.VERSION, model.PLURAL, id="release-on-delete")
async def release_on_delete(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """A deleted plan leaves no pod behind a closed gate and no traffic half-moved."""
    released = await controller.release_on_delete(memo.kube, body, memo.objects)
    logger.info("plan deleted: released %d held pod(s) it selected", released)
    metrics.forget(body.metadata.namespace or "", body.metadata.name or "")
