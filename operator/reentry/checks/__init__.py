"""Probes for the check kinds: one module per kind, named after it (see ``reentry.kinds``).

A probe reads the cluster and says what it found as a :class:`CheckResult`; it changes nothing.
Whatever goes wrong inside one (a bad path, a kind the API server does not serve, a refused
request) becomes an Error result naming the cause and its failure class (see ``failures``): a check's
configuration never crashes the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reentry import kinds, model
from reentry.checks import failures
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects, describe_error

log = logging.getLogger(__name__)

#: ``probe(kube, objects, plan_namespace, kind_spec)``: the kind's own model (e.g. WorkloadCheck).
Probe = Callable[[Kube, Objects, str, Any], Awaitable[CheckResult]]

#: Each check kind's ``probe``, from the module named after it.
PROBES: dict[str, Probe] = {
    kind: module.probe for kind, module in kinds.implementations(__name__, model.CHECK_KINDS).items()}


async def probe(kube: Kube, objects: Objects, namespace: str, check: model.Check) -> CheckResult:
    """Evaluate one check of a plan in ``namespace``; never raises (but lets cancellation through)."""
    kind = check.kind
    run = PROBES.get(kind)
    if run is None:
        return CheckResult(Outcome.ERROR, message=f"check {check.name}: no probe for kind {kind}",
                           failure=FailureClass.INVALID_CONFIGURATION)
    try:
        return await run(kube, objects, namespace, getattr(check, kind))
    except Exception as err:
        # A traceback only where the cause is in the code rather than in the cluster or the spec.
        failure = failures.classify(err)
        log.warning("check %s (%s) in %s failed: %s", check.name, kind, namespace, describe_error(err),
                    exc_info=failure is None)
        return CheckResult(Outcome.ERROR, message=f"{kind} check {check.name}: {describe_error(err)}", failure=failure)
