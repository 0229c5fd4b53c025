"""Pre-flight: what would stop a plan from working, reported before any outage needs it."""

from __future__ import annotations

from reentry.engine.observations import Observations
from reentry.engine.sections import all_actions, all_checks
from reentry.model import READINESS_GATE, ObjectRef, RecoveryPlanSpec, Target


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
    """Objects the plan's checks and actions name, each with a label saying who refers to it."""
    found: list[tuple[str, ObjectRef]] = []
    for _, check in all_checks(spec):
        if check.workload:
            ref = ObjectRef(apiVersion="apps/v1", kind=check.workload.kind, name=check.workload.name)
        elif check.endpoints:
            ref = ObjectRef(apiVersion="v1", kind="Service", name=check.endpoints.service)
        elif check.resource:
            r = check.resource
            ref = ObjectRef(apiVersion=r.apiVersion, kind=r.kind, name=r.name, namespace=r.namespace)
        else:
            continue
        found.append((f"{ref.kind} {ref.name} (check {check.name})", ref))
    for _, action in all_actions(spec):
        if action.patch:
            p = action.patch
            ref = ObjectRef(apiVersion=p.apiVersion, kind=p.kind, name=p.name, namespace=p.namespace)
            found.append((f"{ref.kind} {ref.name} (action {action.name})", ref))
    for target in spec.traffic.targets:
        ref = target_ref(target)
        found.append((f"{ref.kind} {ref.name} (traffic target {target.label})", ref))
    return found


def target_ref(target: Target) -> ObjectRef:
    """The object a traffic target writes to."""
    if target.httpRoute:
        r = target.httpRoute
        return ObjectRef(apiVersion="gateway.networking.k8s.io/v1", kind="HTTPRoute", name=r.name,
                         namespace=r.namespace)
    if target.ingressNginx:
        i = target.ingressNginx
        return ObjectRef(apiVersion="networking.k8s.io/v1", kind="Ingress", name=i.canaryIngress,
                         namespace=i.namespace)
    if target.scale:
        s = target.scale
        return ObjectRef(apiVersion="apps/v1", kind=s.kind, name=s.name, namespace=s.namespace)
    if target.hpa:
        h = target.hpa
        return ObjectRef(apiVersion="autoscaling/v2", kind="HorizontalPodAutoscaler", name=h.name,
                         namespace=h.namespace)
    if target.configMapKey:
        c = target.configMapKey
        return ObjectRef(apiVersion="v1", kind="ConfigMap", name=c.name, namespace=c.namespace)
    assert target.annotation is not None
    a = target.annotation
    return ObjectRef(apiVersion=a.apiVersion, kind=a.kind, name=a.name, namespace=a.namespace)
