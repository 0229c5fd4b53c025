"""Which plan loops a change in the cluster concerns, and waking them.

Each plan's loop sleeps until something it reads changes or one of its deadlines comes due. It
registers its *interest* after every evaluation (the selectors of its services and its Services);
the watch handlers report changes here, and only the plans a change concerns
wake. A pod whose labels changed wakes the plans that selected it before and those that select it
now, so a pod leaving a service is seen too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reentry import model
from reentry.engine import selectors

PlanKey = tuple[str, str]  # (namespace, name)


def plan_selectors(spec: Mapping[str, Any]) -> tuple[model.LabelSelector, ...]:
    """The service selectors of a plan's raw spec; a selector the model refuses is left out."""
    found = []
    for service in spec.get("services") or []:
        try:
            found.append(model.LabelSelector.model_validate((service or {}).get("selector") or {}))
        except ValueError:
            continue
    return tuple(found)


@dataclass(frozen=True)
class Interest:
    """What one plan reads: a change to any of it is a reason to evaluate the plan again."""

    selectors: tuple[model.LabelSelector, ...] = ()
    services: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Interest:
        """What a plan's raw spec reads (a spec the model refuses reads what can be made of it)."""
        names = frozenset(str((s or {}).get("service")) for s in spec.get("services") or [] if isinstance(s, dict))
        return cls(selectors=plan_selectors(spec), services=names)


@dataclass
class _Plan:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    interest: Interest = field(default_factory=Interest)
    said: Hashable = None
    """What the plan object said when last seen (generation and annotations), not its status."""


class Wakeups:
    """The plans of one operator process, by namespace, with what each of them reads."""

    def __init__(self) -> None:
        self._plans: dict[str, dict[str, _Plan]] = {}

    def event(self, key: PlanKey) -> asyncio.Event:
        """The plan's wake-up event, registering the plan on first use."""
        namespace, name = key
        return self._plans.setdefault(namespace, {}).setdefault(name, _Plan()).wake

    def declare(self, key: PlanKey, interest: Interest) -> None:
        """Record what the plan read in its latest evaluation."""
        self.event(key)
        self._plans[key[0]][key[1]].interest = interest

    def forget(self, key: PlanKey) -> None:
        """The plan is gone (or its loop ended)."""
        namespace, name = key
        self._plans.get(namespace, {}).pop(name, None)
        if not self._plans.get(namespace, True):
            del self._plans[namespace]

    def wake(self, key: PlanKey) -> None:
        """Wake one plan (a change to the plan itself, a control annotation)."""
        plan = self._plans.get(key[0], {}).get(key[1])
        if plan is not None:
            self._set(plan)

    def plan_changed(self, key: PlanKey, said: Hashable) -> None:
        """The plan object changed. Its loop wakes when what people say in it changed (its spec, its
        control annotations), not for the loop's own status write, which it waits for by itself."""
        plan = self._plans.get(key[0], {}).get(key[1])
        if plan is not None and plan.said != said:
            plan.said = said
            self._set(plan)

    def pod_changed(self, namespace: str, name: str, before: Mapping[str, str] | None,
                    labels: Mapping[str, str] | None, held: bool = False) -> None:
        """A pod was added (``before`` None), changed or deleted (``labels`` None); ``before`` and
        ``labels`` are its labels then and now; ``held``: its readiness gate is closed.

        A held pod that no plan selects wakes every plan of its namespace: they report it
        (``UnmatchedGatedPods``), since it would otherwise wait for a plan that does not exist.
        """
        plans = self._plans.get(namespace, {}).values()
        concerned = [p for p in plans if any(selectors.matches(s, seen) for s in p.interest.selectors
                                             for seen in (before, labels) if seen is not None)]
        for plan in concerned if concerned or not held else plans:
            self._set(plan)

    def service_changed(self, namespace: str, service: str) -> None:
        """A Service or one of its EndpointSlices changed."""
        for plan in self._plans.get(namespace, {}).values():
            if service in plan.interest.services:
                self._set(plan)

    @staticmethod
    def _set(plan: _Plan) -> None:
        plan.wake.set()
