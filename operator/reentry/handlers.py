"""kopf wiring: a few lines per handler; the decisions live in ``reentry.engine``.

Run with ``reentry run`` (or ``kopf run -m reentry.handlers``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from reentry import controller, metrics, model
from reentry.kube import FIELD_MANAGER, Kube
from reentry.objects import Objects

#: Seconds between two evaluations of a plan. Short, because a held system waits on every tick.
RECONCILE_INTERVAL = float(os.environ.get("REENTRY_RECONCILE_INTERVAL", "0.5"))


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations, so the status schema stays strict; open the client."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=model.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=model.GROUP)
    settings.posting.level = logging.INFO
    client = AsyncClient(config=KubeConfig.from_env(), field_manager=FIELD_MANAGER)
    memo.kube, memo.objects = Kube(client), Objects(client)


@kopf.timer(model.GROUP, model.VERSION, model.PLURAL, interval=RECONCILE_INTERVAL, id="reconcile")
async def reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Evaluate the plan and post an Event for every transition the engine reports."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    with metrics.METRICS.reconciling(namespace, name):
        _, before = controller.parse(body)
        decision = await controller.reconcile(memo.kube, memo.objects, body)
    metrics.record(namespace, name, before, decision)
    for event in decision.events:
        kopf.event(body, type="Warning" if event.warning else "Normal", reason=event.reason, message=event.message)


@kopf.on.delete(model.GROUP, model.VERSION, model.PLURAL, id="release-on-delete")
async def release_on_delete(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """A deleted plan leaves no pod behind a closed gate."""
    released = await controller.release_on_delete(memo.kube, body)
    logger.info("plan deleted: released %d held pod(s) it selected", released)
    metrics.forget(body.metadata.namespace or "", body.metadata.name or "")
