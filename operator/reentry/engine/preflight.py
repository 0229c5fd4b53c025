"""Pre-flight: what would stop a plan from working, reported before any outage needs it."""

from __future__ import annotations

from reentry.engine.observations import Observations
from reentry.engine.sections import named_objects
from reentry.model import READINESS_GATE, ObjectRef, RecoveryPlanSpec


def problems(spec: RecoveryPlanSpec, observed: Observations) -> list[str]:
    """References that do not resolve: missing Services, pods without the gate, missing objects."""
    found: list[str] = []
    for service in spec.services:
        seen = observed.services.get(service.name)
        if seen is None:
            continue
        if not seen.service_exists:
            found.append(f"Service {service.service} (service {service.name}) not found")
        if not seen.pods:
            found.append(f"service {service.name} selects no pods")
        ungated = [p.name for p in seen.pods if not p.gated]
        if ungated:
            found.append(f"{len(ungated)} pod(s) of {service.name} lack the {READINESS_GATE} readiness gate "
                         f"and take traffic at once (e.g. {ungated[0]})")
    found += [f"{ref} not found" for ref in observed.missing_refs]
    return found


def references(spec: RecoveryPlanSpec) -> list[tuple[str, ObjectRef]]:
    """Objects the operator reads for the plan's checks, actions and traffic targets, each with a label
    saying who refers to it (what each kind names: its model's ``named_objects``)."""
    return [(f"{o.ref.kind} {o.ref.name} ({who})", o.ref) for _, who, o in named_objects(spec) if o.read]
