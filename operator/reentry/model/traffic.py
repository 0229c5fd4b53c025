"""Traffic re-entry: the ramp (steps or adaptive), the routing objects it moves (:class:`Target`
and its kinds), what a breach and an abort do, and :class:`TrafficStage`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from reentry.model.checks import Check
from reentry.model.common import (
    DataKey,
    Duration,
    NamedObject,
    NamespaceName,
    ObjectName,
    ObjectRef,
    QualifiedName,
    ServiceName,
    _exactly_one,
    _ExactlyOne,
    _Model,
    named,
)


class TrafficStep(_Model):
    """One step of the ramp: every target at this weight, held this long once all took effect."""

    weight: int = Field(ge=0, le=100, description="Percent of traffic to the restored system.")
    hold: Duration | None = Field(default=None, description="How long to hold once every target took effect.")


class HttpRouteTarget(_Model):
    """A Gateway API HTTPRoute: in each rule naming both, restoredBackend gets w and fallbackBackend 100-w."""

    name: ObjectName
    namespace: NamespaceName | None = None
    restoredBackend: ServiceName
    fallbackBackend: ServiceName

    def named_objects(self) -> tuple[NamedObject, ...]:
        """The route first (the object written), then its two backends."""
        return (named("gateway.networking.k8s.io/v1", "HTTPRoute", self.name, self.namespace, "name"),
                named("v1", "Service", self.restoredBackend, self.namespace, "restoredBackend"),
                named("v1", "Service", self.fallbackBackend, self.namespace, "fallbackBackend"))


class IngressNginxTarget(_Model):
    """An ingress-nginx canary Ingress: canary "true" and canary-weight w."""

    canaryIngress: ObjectName
    namespace: NamespaceName | None = None

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("networking.k8s.io/v1", "Ingress", self.canaryIngress, self.namespace, "canaryIngress"),)


class Ramp(_Model):
    """A number moved from ``from`` (weight 0) to ``to`` (weight 100) in proportion to the weight."""

    from_: int = Field(alias="from", description="The value at weight 0 (the degraded one).")
    to: int = Field(description="The value at weight 100 (the normal one).")


class ScaleTarget(Ramp):
    """Deployment or StatefulSet replicas, so consumers re-attach gradually."""

    kind: str = Field(default="Deployment", pattern=r"^(Deployment|StatefulSet)$")
    name: ObjectName
    namespace: NamespaceName | None = None

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("apps/v1", self.kind, self.name, self.namespace, "name"),)


class HpaTarget(_Model):
    """A HorizontalPodAutoscaler recalibrated from its degraded bounds to the normal ones."""

    name: ObjectName
    namespace: NamespaceName | None = None
    minReplicas: Ramp
    maxReplicas: Ramp | None = None

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("autoscaling/v2", "HorizontalPodAutoscaler", self.name, self.namespace, "name"),)


class ConfigMapKeyTarget(Ramp):
    """A numeric ConfigMap key, e.g. a retry budget released gradually."""

    name: ObjectName
    key: DataKey
    namespace: NamespaceName | None = None

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("v1", "ConfigMap", self.name, self.namespace, "name"),)


class AnnotationTarget(ObjectRef, Ramp):
    """A numeric annotation on any object, e.g. an external-dns weight."""

    key: QualifiedName


TARGET_KINDS = ("httpRoute", "ingressNginx", "scale", "hpa", "configMapKey", "annotation")


class Target(_ExactlyOne):
    """One routing object the traffic stage moves, exactly one kind."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(TARGET_KINDS))
    _kinds = TARGET_KINDS

    httpRoute: HttpRouteTarget | None = None
    ingressNginx: IngressNginxTarget | None = None
    scale: ScaleTarget | None = None
    hpa: HpaTarget | None = None
    configMapKey: ConfigMapKeyTarget | None = None
    annotation: AnnotationTarget | None = None

    def _subject(self) -> str:
        return "a traffic target"

    @property
    def written(self) -> ObjectRef:
        """The object the target writes the weight to (its kind names it first)."""
        return self.named_objects()[0].ref

    @property
    def label(self) -> str:
        """How status and events name the target, e.g. ``httpRoute/checkout``."""
        spec = getattr(self, self.kind)
        name = spec.canaryIngress if self.kind == "ingressNginx" else spec.name
        return f"{self.kind}/{name}"


class OnFailure(StrEnum):
    STEP_BACK = "StepBack"
    PAUSE = "Pause"
    ABORT = "Abort"


class SafeState(StrEnum):
    FALLBACK = "Fallback"
    KEEP_CURRENT = "KeepCurrent"


class Adaptive(_Model):
    """An adaptive ramp instead of fixed steps: additive increase, multiplicative decrease."""

    start: int = Field(default=5, ge=1, le=100, description="The first weight.")
    max: int = Field(default=100, ge=1, le=100, description="The weight at which the ramp is done.")
    increase: int = Field(default=10, ge=1, le=100, description="Added after each interval the analysis passes.")
    interval: Duration = Field(default="1m", description="How long each weight is held and analysed.")
    decreaseFactor: float = Field(default=0.5, gt=0, lt=1, description="The weight is multiplied by this on a breach.")

    @model_validator(mode="after")
    def _start_within_max(self) -> Self:
        if self.start > self.max:
            raise ValueError(f"traffic.adaptive: start {self.start} is above max {self.max}")
        return self


class AbortRamp(_Model):
    """How an abort returns the targets to weight 0."""

    gradual: bool = Field(default=True, description="Walk back down the steps already taken, else one jump.")
    interval: Duration = Field(default="10s", description="Between two steps down.")


class TrafficStage(_Model):
    """Stepped traffic re-entry: steps (or an adaptive ramp) applied to targets, analysed during holds."""

    checks: list[Check] = Field(default_factory=list, description="Must pass before the first step.")
    steps: list[TrafficStep] = Field(default_factory=list)
    adaptive: Adaptive | None = None
    targets: list[Target] = Field(default_factory=list)
    analysis: list[Check] = Field(default_factory=list, description="Evaluated during every hold.")
    onFailure: OnFailure = Field(default=OnFailure.STEP_BACK)
    maxStepBacks: int = Field(default=3, ge=0, description="After this many step-backs the plan pauses.")
    coolDown: Duration | None = Field(default=None, description="After a step back, hold before retrying "
                                      "(defaults to the lower step's hold).")
    abort: AbortRamp = Field(default_factory=AbortRamp)
    safeState: SafeState = Field(
        default=SafeState.FALLBACK,
        description="Where the targets go when the plan is deleted or aborted before it is restored.")

    @model_validator(mode="after")
    def _steps_or_adaptive(self) -> Self:
        if self.steps and self.adaptive:
            raise ValueError("traffic: use steps or adaptive, not both")
        if self.targets and not (self.steps or self.adaptive):
            raise ValueError("traffic: targets need steps or an adaptive ramp")
        weights = [s.weight for s in self.steps]
        if weights != sorted(weights):
            raise ValueError(f"traffic: step weights must not decrease (got {weights})")
        return self
