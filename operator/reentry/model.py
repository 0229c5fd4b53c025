"""The RecoveryPlan API (reentry.dev/v1alpha1) as pydantic models.

These models are the source of truth: the CRD in ``crds/`` is generated from them
(``python -m reentry.crd``) and a unit test fails when the two drift apart.
Field names are the API contract users and checks rely on (docs/api.md is generated from these
models too): renaming one is a breaking change.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

GROUP = "reentry.dev"
VERSION = "v1alpha1"
KIND = "RecoveryPlan"
PLURAL = "recoveryplans"
SINGULAR = "recoveryplan"
SHORT_NAME = "rplan"
API_VERSION = f"{GROUP}/{VERSION}"

#: The pod readiness-gate condition type the operator sets to True to let a pod in.
READINESS_GATE = "reentry.dev/released"
#: Control annotations (docs/controls.md). Each is idempotent: setting the same value twice acts once.
START_ANNOTATION = "reentry.dev/start"
PAUSED_ANNOTATION = "reentry.dev/paused"
RESUME_ANNOTATION = "reentry.dev/resume"
ABORT_ANNOTATION = "reentry.dev/abort"
APPROVE_ANNOTATION = "reentry.dev/approve"
#: The finalizer a plan carries while deleting it must hand something back (``engine/protection.py``).
FINALIZER = "reentry.dev/release-on-delete"

#: How often a check is probed unless it says otherwise: Kubernetes' own default period for probes.
PROBE_INTERVAL = "10s"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: A DNS-1123 subdomain: what the API server accepts as the name of almost every kind. It can hold
#: nothing a URL path reads as another segment ("/", "..", "%"), which is why every name a plan
#: gives the operator to read or write must match it (the kinds that allow other names, such as
#: RBAC's ``system:`` roles, cannot be named by a plan).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
NAME_MAX_LENGTH, LABEL_MAX_LENGTH = 253, 63


def is_name(text: str) -> bool:
    """Whether ``text`` is a Kubernetes object name (a DNS-1123 subdomain, at most 253 characters)."""
    return len(text) <= NAME_MAX_LENGTH and re.fullmatch(NAME_PATTERN, text) is not None


#: ``v1``, ``apps/v1``, ``gateway.networking.k8s.io/v1beta1``: a group (a subdomain) and a version.
API_VERSION_PATTERN = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"v[0-9]+((alpha|beta)[0-9]+)?$")
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"
#: A key of a ConfigMap's or a Secret's data.
DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
#: An annotation or label key: an optional subdomain prefix and a name.
QUALIFIED_NAME_PATTERN = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                          r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


#: The longest duration a plan may give (a year): longer ones would overflow date arithmetic and
#: mean nothing for a failback.
MAX_DURATION = timedelta(hours=8760)


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration such as ``90s``, ``1h30m`` or ``250ms`` (at most :data:`MAX_DURATION`)."""
    if len(text) > 32 or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text[:40]!r}: use units ms, s, m, h (e.g. 10s, 1h30m)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is longer than the 8760h (a year) allowed")
    return timedelta(seconds=seconds)


def _bounded_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32,
                                description="A duration such as 10s, 5m or 1h30m."),
                     AfterValidator(_bounded_duration)]
ObjectName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
NamespaceName = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=LABEL_MAX_LENGTH)]
ServiceName = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=LABEL_MAX_LENGTH)]
DataKey = Annotated[str, Field(pattern=DATA_KEY_PATTERN, max_length=253)]
QualifiedName = Annotated[str, Field(pattern=QUALIFIED_NAME_PATTERN, max_length=316)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StartPolicy(StrEnum):
    MANUAL = "Manual"
    ON_TECHNICAL_RECOVERY = "OnTechnicalRecovery"


class Owner(_Model):
    """Who declares operational restoration at the finish line."""

    team: str = Field(min_length=1, description="The owning team.")
    contact: str | None = Field(default=None, description="Where to reach them, e.g. a chat channel.")


class LabelSelectorRequirement(_Model):
    key: str
    operator: str = Field(pattern=r"^(In|NotIn|Exists|DoesNotExist)$")
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector for the pods of one service."""

    matchLabels: dict[str, str] = Field(default_factory=dict)
    matchExpressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class Release(_Model):
    """How the readiness gate is lifted on a service's pods."""

    batch: int | str = Field(
        default="100%",
        description="Pods released per batch: a count (2) or a percentage of the service's pods (25%).",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    interval: Duration = Field(default="0s", description="Wait between two batches.")

    @field_validator("batch")
    @classmethod
    def _batch_is_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("batch must be at least 1")
            return value
        if not re.fullmatch(r"[1-9][0-9]*%|100%", value) or int(value[:-1]) > 100:
            raise ValueError(f"batch {value!r} must be a count or a percentage from 1% to 100%")
        return value


class ServiceSpec(_Model):
    """One node of the dependency graph: pods held by the readiness gate and the Service they join."""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Unique name within the plan.")
    selector: LabelSelector = Field(description="Selects the pods that carry the readiness gate.")
    service: str = Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="The Service whose EndpointSlices must show ready endpoints.",
    )
    dependsOn: list[str] = Field(default_factory=list, description="Services that must be Attached first.")
    minReadyEndpoints: int = Field(default=1, ge=1, description="Ready endpoints that make the service Attached.")
    release: Release = Field(default_factory=Release)


# ---- checks and actions -------------------------------------------------------------------------

Scalar = str | int | float | bool


class Comparison(_Model):
    """How an observed value is judged: any combination of equals, min and max."""

    equals: str | None = Field(default=None, description="Passes when the value, as text, equals this.")
    min: float | None = Field(default=None, description="Passes when the value is at least this.")
    max: float | None = Field(default=None, description="Passes when the value is at most this.")


class ObjectRef(_Model):
    """Any Kubernetes object, in the plan's namespace unless another is named."""

    apiVersion: str = Field(pattern=API_VERSION_PATTERN, max_length=253,
                            description="e.g. apps/v1, v1, gateway.networking.k8s.io/v1")
    kind: str = Field(pattern=KIND_PATTERN, max_length=63)
    name: ObjectName
    namespace: NamespaceName | None = None


class WorkloadCheck(_Model):
    """A Deployment or StatefulSet has rolled out: current generation observed, enough replicas available."""

    kind: str = Field(default="Deployment", pattern=r"^(Deployment|StatefulSet)$")
    name: ObjectName
    minAvailable: int | None = Field(default=None, ge=0, description="Defaults to spec.replicas.")


class EndpointsCheck(_Model):
    """A Service shows enough ready endpoints in its EndpointSlices."""

    service: ServiceName
    minReady: int = Field(default=1, ge=0)


class ResourceCheck(ObjectRef, Comparison):
    """A field of any object, by a path such as .status.conditions[type=Ready].status or .spec.replicas."""

    path: str = Field(pattern=r"^\.", description="Dotted path; [n] indexes a list, [key=value] selects an item.")


class LeaseTarget(_Model):
    """coordination.k8s.io Leases: those named plus those selected; with neither, every Lease of the namespace."""

    names: list[ObjectName] = Field(default_factory=list)
    selector: LabelSelector | None = None
    namespace: NamespaceName | None = None


class LeasesCheck(LeaseTarget):
    """No selected Lease is held by a pod that no longer exists (a stale leader from before the outage)."""


# ---- references to Secrets, ConfigMaps and URLs (identity and state kinds) ---------------------


class KeyRef(_Model):
    """One key of a Secret or a ConfigMap, in the plan's namespace unless another is named."""

    name: ObjectName
    key: DataKey
    namespace: NamespaceName | None = None


class KeySource(_Model):
    """Where some material lives: exactly one of a Secret key, a ConfigMap key or an HTTPS URL."""

    secret: KeyRef | None = None
    configMap: KeyRef | None = None
    url: str | None = Field(default=None, pattern=r"^https?://", description="Fetched with GET.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        chosen = [k for k in ("secret", "configMap", "url") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"needs exactly one of secret, configMap, url (got {', '.join(chosen) or 'none'})")
        return self


class TlsOptions(_Model):
    """How a TLS server is verified."""

    caBundle: KeySource | None = Field(default=None, description="PEM CA bundle; the system's by default.")
    insecureSkipVerify: bool = Field(default=False, description="Do not verify the server (tests only).")
    serverName: str | None = Field(default=None, description="The name to verify instead of the URL's host.")


class HttpAuth(_Model):
    """Credentials from a Secret: a bearer token, or basic auth (keys username and password)."""

    bearerToken: KeyRef | None = Field(default=None, description="Sent as Authorization: Bearer <token>.")
    basicAuthSecret: ObjectName | None = Field(default=None, description="A Secret with keys username and password.")

    @model_validator(mode="after")
    def _one_scheme(self) -> Self:
        if self.bearerToken is not None and self.basicAuthSecret is not None:
            raise ValueError("auth: use bearerToken or basicAuthSecret, not both")
        return self


class HttpClient(_Model):
    """Shared by the kinds that call HTTP: time limit, TLS and credentials."""

    timeout: Duration = Field(default="5s", description="Per request.")
    tls: TlsOptions | None = None
    auth: HttpAuth | None = None
    headersFrom: ObjectName | None = Field(default=None,
                                           description="A Secret whose keys and values are sent as headers.")


# ---- identity kinds -----------------------------------------------------------------------------


class ServiceAccountTokenCheck(_Model):
    """TokenRequest for the ServiceAccount, then TokenReview: authenticated, with the audiences asked for."""

    serviceAccount: ObjectName
    namespace: NamespaceName | None = None
    audiences: list[str] = Field(default_factory=list, description="Defaults to the API server's own audience.")
    expirationSeconds: int = Field(default=600, ge=600, description="Lifetime of the token asked for (at least "
                                   "600, the API server's minimum); the token is used once and never stored.")


class CertificatePeer(_Model):
    """The other side of an mTLS pair: its TLS Secret and the CA bundle it trusts."""

    secret: ObjectName
    namespace: NamespaceName | None = None
    caBundle: KeySource | None = Field(default=None, description="Defaults to the peer Secret's own ca.crt.")


class CertificateCheck(_Model):
    """A TLS Secret (tls.crt, tls.key, optional ca.crt): chain, expiry margin, key match, names."""

    secret: ObjectName
    namespace: NamespaceName | None = None
    caBundle: KeySource | None = Field(default=None, description="Defaults to the Secret's own ca.crt.")
    minValidity: Duration | None = Field(default=None, description="At least this long left before expiry.")
    dnsNames: list[str] = Field(default_factory=list, description="Subject alternative names that must be present.")
    uris: list[str] = Field(default_factory=list)
    mtlsPeer: CertificatePeer | None = Field(
        default=None, description="mTLS pairing: the peer's certificate verifies against this side's CA bundle "
        "and this certificate against the peer's.")


class JwksSource(_Model):
    """Where a JWKS is published: a Secret key, a ConfigMap key, a URL, or the API server's own issuer."""

    secret: KeyRef | None = None
    configMap: KeyRef | None = None
    url: str | None = Field(default=None, pattern=r"^https?://", description="Fetched with GET.")
    apiServer: bool | None = Field(
        default=None, description="true: the API server's service-account issuer, read from its /openid/v1/jwks "
        "with the operator's own credentials and TLS.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        chosen = [k for k in ("secret", "configMap", "url", "apiServer") if getattr(self, k)]
        if len(chosen) != 1:
            raise ValueError(f"needs exactly one of secret, configMap, url, apiServer: true "
                             f"(got {', '.join(chosen) or 'none'})")
        return self


class SigningKeysCheck(_Model):
    """Every key id the clients hold is published by the issuer with the same key material."""

    issuer: JwksSource = Field(description="The issuer's published JWKS.")
    clients: KeySource = Field(description="The JWKS the clients hold (what they cached during the outage).")
    tls: TlsOptions | None = Field(default=None, description="For url sources.")
    timeout: Duration = Field(default="5s", description="Per request, for url sources and the API server.")
    sampleToken: KeyRef | None = Field(default=None, description="A Secret key holding a token (JWS) that must "
                                       "verify with the issuer's keys (RS256/ES256).")


class FreshnessRule(StrEnum):
    """How the restored Secret and the clients' material are compared (docs/checks-and-actions.md)."""

    VERSION = "Version"
    KEY_ID = "KeyId"
    FINGERPRINT = "Fingerprint"


class FreshnessClients(_Model):
    """The Secret that keeps what the clients were given during the outage."""

    name: ObjectName
    namespace: NamespaceName | None = None
    key: DataKey | None = Field(default=None, description="Rules KeyId and Fingerprint: its key (defaults to the "
                            "restored Secret's key).")


class SecretFreshnessCheck(_Model):
    """The restored Secret is not older than the material the clients were given during the outage."""

    secret: ObjectName = Field(description="The restored Secret.")
    namespace: NamespaceName | None = None
    clients: FreshnessClients = Field(description="Where the material the clients hold is kept.")
    rule: FreshnessRule = Field(default=FreshnessRule.VERSION)
    versionAnnotation: QualifiedName = Field(default="reentry.dev/version",
                                   description="Rule Version: the annotation both Secrets carry.")
    key: DataKey | None = Field(default=None, description="Rules KeyId and Fingerprint: the restored Secret's key.")

    @model_validator(mode="after")
    def _key_for_content_rules(self) -> Self:
        if self.rule != FreshnessRule.VERSION and not self.key:
            raise ValueError(f"secretFreshness: rule {self.rule.value} compares key material and needs key")
        return self


# ---- state kinds --------------------------------------------------------------------------------


class PrometheusCheck(Comparison, HttpClient):
    """A PromQL instant query whose single value is judged by equals, min and max."""

    url: str = Field(pattern=r"^https?://", description="The Prometheus server's base URL.")
    query: str = Field(min_length=1)


class HttpCheck(Comparison, HttpClient):
    """GET a URL; the status code must be expected and, with a path, a JSON field is judged."""

    url: str = Field(pattern=r"^https?://")
    path: str | None = Field(default=None, pattern=r"^\.", description="A field of the JSON body, e.g. .lag")
    expectedStatus: list[int] = Field(default_factory=lambda: [200])


class InvalidateOnError(StrEnum):
    STOP = "Stop"
    CONTINUE = "Continue"


class InvalidateCall(_Model):
    """One HTTP call of an invalidation; credentials belong in the action's auth or headersFrom, not here."""

    url: str = Field(pattern=r"^https?://")
    method: str = Field(default="POST", pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")
    body: str | None = Field(default=None, description="Sent as is.")
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. Content-Type; not for secrets.")


class InvalidateAction(HttpClient):
    """HTTP calls one after another with spacing: a controlled invalidation instead of a mass expiry."""

    calls: list[InvalidateCall] = Field(min_length=1)
    spacing: Duration = Field(default="1s", description="Between the end of one call and the start of the next.")
    onError: InvalidateOnError = Field(default=InvalidateOnError.STOP)
    expectedStatus: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])


_CHECK_KINDS = ("workload", "endpoints", "resource", "leases", "serviceAccountToken", "certificate", "signingKeys",
                "secretFreshness", "prometheus", "http")
_ACTION_KINDS = ("releaseLeases", "patch", "job", "invalidate")


def _exactly_one(kinds: tuple[str, ...]) -> dict[str, Any]:
    """A structural ``oneOf`` that makes the API server refuse zero or several kinds in one item."""
    return {"oneOf": [{"required": [k]} for k in kinds]}


class OnTimeout(StrEnum):
    PAUSE = "Pause"
    FAIL = "Fail"


class OnNoData(StrEnum):
    """How a NoData result counts: wait for data (Hold), count it as passing, or as failing."""

    HOLD = "Hold"
    PASS = "Pass"
    FAIL = "Fail"


class _OneKind(_Model):
    """A named item that uses exactly one of its kinds (a check or an action)."""

    _kinds: ClassVar[tuple[str, ...]] = ()
    _what: ClassVar[str] = ""

    name: str = Field(pattern=DNS_LABEL_PATTERN, max_length=63, description="Unique within the plan.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        chosen = [k for k in self._kinds if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"{self._what} {self.name!r} needs exactly one of {', '.join(self._kinds)} "
                             f"(got {', '.join(chosen) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The name of the kind this item uses."""
        return next(k for k in self._kinds if getattr(self, k) is not None)


class Check(_OneKind):
    """One gate of a stage: exactly one kind, optionally held stable and bounded in time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(_CHECK_KINDS))
    _kinds = _CHECK_KINDS
    _what = "check"

    workload: WorkloadCheck | None = None
    endpoints: EndpointsCheck | None = None
    resource: ResourceCheck | None = None
    leases: LeasesCheck | None = None
    serviceAccountToken: ServiceAccountTokenCheck | None = None
    certificate: CertificateCheck | None = None
    signingKeys: SigningKeysCheck | None = None
    secretFreshness: SecretFreshnessCheck | None = None
    prometheus: PrometheusCheck | None = None
    http: HttpCheck | None = None
    onNoData: OnNoData = Field(default=OnNoData.HOLD, description="How a NoData result counts.")
    interval: Duration = Field(default=PROBE_INTERVAL, description="Probed at most this often; also when a stableFor, "
                               "a timeout or a traffic hold ends, so those are judged on a fresh result.")
    stableFor: Duration | None = Field(default=None, description="Must pass continuously this long.")
    timeout: Duration | None = Field(default=None, description="Give up waiting after this long.")
    onTimeout: OnTimeout = Field(default=OnTimeout.PAUSE, description="Pause (a person decides) or Fail.")


class PatchAction(ObjectRef):
    """A JSON merge patch on any object; the values it replaces are kept in status for undo."""

    patch: dict[str, Any] = Field(description="The merge patch.")


class JobAction(_Model):
    """Run a Job to completion; its failure message lands in status."""

    spec: dict[str, Any] = Field(description="A batch/v1 JobSpec.")


class Action(_OneKind):
    """Something a stage does once, in order, before its checks are evaluated."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(_ACTION_KINDS))
    _kinds = _ACTION_KINDS
    _what = "action"

    releaseLeases: LeaseTarget | None = None
    patch: PatchAction | None = None
    job: JobAction | None = None
    invalidate: InvalidateAction | None = None


class Stage(_Model):
    """A stage's gates: its actions run first, in order, then all its checks must pass."""

    checks: list[Check] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)


class ChecksOnly(_Model):
    checks: list[Check] = Field(default_factory=list)


# ---- traffic re-entry ---------------------------------------------------------------------------


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


class IngressNginxTarget(_Model):
    """An ingress-nginx canary Ingress: canary "true" and canary-weight w."""

    canaryIngress: ObjectName
    namespace: NamespaceName | None = None


class Ramp(_Model):
    """A number moved from ``from`` (weight 0) to ``to`` (weight 100) in proportion to the weight."""

    from_: int = Field(alias="from", description="The value at weight 0 (the degraded one).")
    to: int = Field(description="The value at weight 100 (the normal one).")


class ScaleTarget(Ramp):
    """Deployment or StatefulSet replicas, so consumers re-attach gradually."""

    kind: str = Field(default="Deployment", pattern=r"^(Deployment|StatefulSet)$")
    name: ObjectName
    namespace: NamespaceName | None = None


class HpaTarget(_Model):
    """A HorizontalPodAutoscaler recalibrated from its degraded bounds to the normal ones."""

    name: ObjectName
    namespace: NamespaceName | None = None
    minReplicas: Ramp
    maxReplicas: Ramp | None = None


class ConfigMapKeyTarget(Ramp):
    """A numeric ConfigMap key, e.g. a retry budget released gradually."""

    name: ObjectName
    key: DataKey
    namespace: NamespaceName | None = None


class AnnotationTarget(ObjectRef, Ramp):
    """A numeric annotation on any object, e.g. an external-dns weight."""

    key: QualifiedName


_TARGET_KINDS = ("httpRoute", "ingressNginx", "scale", "hpa", "configMapKey", "annotation")


class Target(_Model):
    """One routing object the traffic stage moves, exactly one kind."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(_TARGET_KINDS))

    httpRoute: HttpRouteTarget | None = None
    ingressNginx: IngressNginxTarget | None = None
    scale: ScaleTarget | None = None
    hpa: HpaTarget | None = None
    configMapKey: ConfigMapKeyTarget | None = None
    annotation: AnnotationTarget | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        chosen = [k for k in _TARGET_KINDS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"a traffic target needs exactly one of {', '.join(_TARGET_KINDS)} "
                             f"(got {', '.join(chosen) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _TARGET_KINDS if getattr(self, k) is not None)

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


class Approval(_Model):
    required: bool = Field(default=False, description="The owner must approve before the plan is restored.")
    groups: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list, max_length=32,
        description="Only members of one of these groups (as the API server authenticates the caller) may approve. "
                    "Enforced at admission by the chart's approval policy (docs/controls.md), not by the operator.")


class ValidationStage(_Model):
    """The finish line: checks, the owner's approval, and a watch before Restored."""

    checks: list[Check] = Field(default_factory=list)
    approval: Approval = Field(default_factory=Approval)
    observeFor: Duration | None = Field(default=None, description="After approval, keep watching this long.")


class Override(_Model):
    """Count a named check as passed, with the reason on record."""

    check: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Mode(StrEnum):
    ENFORCE = "Enforce"
    DRY_RUN = "DryRun"


class RecoveryPlanSpec(_Model):
    """How one restored system re-enters service."""

    owner: Owner
    restorationBudget: Duration | None = Field(
        default=None, description="Target time from technical recovery to operational restoration."
    )
    mode: Mode = Field(default=Mode.ENFORCE, description="DryRun evaluates and reports everything, changes nothing.")
    start: StartPolicy = Field(
        default=StartPolicy.MANUAL,
        description=f"Manual waits for the {START_ANNOTATION} annotation; OnTechnicalRecovery starts when "
        "technicalRecovery's checks pass (at once when it has none).",
    )
    technicalRecovery: ChecksOnly = Field(default_factory=ChecksOnly)
    services: list[ServiceSpec] = Field(min_length=1, description="The dependency graph, re-attached bottom-up.")
    identity: Stage = Field(default_factory=Stage)
    state: Stage = Field(default_factory=Stage)
    dependencies: Stage = Field(default_factory=Stage)
    traffic: TrafficStage = Field(default_factory=TrafficStage)
    validation: ValidationStage = Field(default_factory=ValidationStage)
    overrides: list[Override] = Field(default_factory=list)


# ---- status -------------------------------------------------------------------------------------


class Phase(StrEnum):
    PENDING = "Pending"
    ARMED = "Armed"
    IDENTITY_PRE_WARMING = "IdentityPreWarming"
    STATE_RECONCILIATION = "StateReconciliation"
    DEPENDENCY_CONVERGENCE = "DependencyConvergence"
    TRAFFIC_REENTRY = "TrafficReentry"
    VALIDATING = "Validating"
    OBSERVING = "Observing"
    RESTORED = "Restored"
    PAUSED = "Paused"
    FAILED = "Failed"
    ABORTED = "Aborted"


#: The phases a plan ends in: nothing more happens to it until its spec changes.
FINISHED_PHASES = frozenset({Phase.RESTORED, Phase.FAILED, Phase.ABORTED})
#: The phases of a plan re-entering now (pods released, checks gating, a ramp under way).
MOVING_PHASES = frozenset({Phase.IDENTITY_PRE_WARMING, Phase.STATE_RECONCILIATION, Phase.DEPENDENCY_CONVERGENCE,
                           Phase.TRAFFIC_REENTRY})


class StageName(StrEnum):
    IDENTITY = "identity"
    STATE = "state"
    DEPENDENCIES = "dependencies"
    TRAFFIC = "traffic"
    VALIDATION = "validation"


class StageState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class ServiceState(StrEnum):
    HELD = "Held"
    RELEASING = "Releasing"
    ATTACHED = "Attached"


class Outcome(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    NO_DATA = "NoData"
    ERROR = "Error"


class FailureClass(StrEnum):
    """Why a check did not pass, in words an on-call engineer acts on."""

    UNREACHABLE = "Unreachable"
    UNAUTHORIZED = "Unauthorized"
    NO_DATA = "NoData"
    THRESHOLD_MISSED = "ThresholdMissed"
    INVALID_CONFIGURATION = "InvalidConfiguration"


class ActionState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class _Status(BaseModel):
    # Status is written by the operator; an older operator's extra fields are ignored, not fatal.
    # The docstring under a field becomes its description (in the CRD and docs/api.md).
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class Condition(_Status):
    type: str
    """Ready, Progressing, Stalled, PlanReady, Overridden or ValidationHealthy."""
    status: str = Field(pattern=r"^(True|False|Unknown)$", description="True, False or Unknown.")
    reason: str
    """A CamelCase reason, e.g. StepHold, CheckTimeout, InvalidSpec."""
    message: str = ""
    """The reason in words."""
    observedGeneration: int | None = None
    """The spec generation the condition was computed from."""
    lastTransitionTime: str
    """When the status last changed (not when the message did)."""


class StageStatus(_Status):
    name: StageName
    """The stage."""
    state: StageState = StageState.PENDING
    """Pending, Running, Passed or Failed."""
    startedAt: str | None = None
    """When the stage started."""
    finishedAt: str | None = None
    """When the stage passed."""
    message: str | None = None
    """What the stage waits for."""


class ServiceStatus(_Status):
    name: str
    """The service's name."""
    state: ServiceState = ServiceState.HELD
    """Held, Releasing or Attached."""
    releasedPods: int = 0
    """Pods whose gate is open."""
    totalPods: int = 0
    """Pods the service's selector matches."""
    heldPods: int = Field(default=0, description="Pods whose readiness gate is still closed.")
    readyEndpoints: int = 0
    """Ready endpoints of its Service."""
    waitingFor: list[str] = Field(default_factory=list, description="Services in dependsOn that are not Attached yet.")
    releaseStartedAt: str | None = None
    """When the first batch was released."""
    lastBatchAt: str | None = None
    """When the latest batch was released."""
    attachedAt: str | None = None
    """When the service became Attached."""
    wouldRelease: int | None = Field(default=None, description="DryRun: pods that would have been released.")


class CheckStatus(_Status):
    """The latest result of one check, with what was observed against what was expected."""

    name: str
    """The check's name."""
    stage: str
    """The section it belongs to: technicalRecovery, a stage, or analysis."""
    kind: str
    """The check kind, e.g. prometheus."""
    result: Outcome | None = None
    """Pass, Fail, NoData or Error."""
    observed: str | None = None
    """What the probe saw (never secret material)."""
    threshold: str | None = None
    """What it was compared with."""
    message: str | None = None
    """Details of the result."""
    failureClass: FailureClass | None = Field(default=None, description="Why the check does not pass.")
    since: str | None = Field(default=None, description="When the current result began.")
    passingSince: str | None = Field(default=None, description="Start of the current continuous Pass.")
    firstEvaluatedAt: str | None = None
    """When the check was first probed (its timeout runs from here)."""
    overridden: bool = False
    """The check counts as passed because of spec.overrides."""
    overrideReason: str | None = None
    """The override's reason."""


class ActionStatus(_Status):
    """One action's progress; ``record`` carries what it needs to continue or undo (never secrets)."""

    name: str
    """The action's name."""
    stage: str
    """The stage it belongs to."""
    kind: str
    """The action kind, e.g. job."""
    state: ActionState = ActionState.PENDING
    """Pending, Running, Succeeded or Failed."""
    startedAt: str | None = None
    """When it started."""
    finishedAt: str | None = None
    """When it ended."""
    message: str | None = None
    """Progress or the cause of a failure."""
    record: dict[str, Any] = Field(
        default_factory=dict, description="What the action needs to continue or be undone (never secrets).")


class ApprovalStatus(_Status):
    by: str
    """Who approved (the API's user name when set by the kubectl plugin)."""
    at: str
    """When the approval was recorded."""
    comment: str | None = None
    """The approver's comment."""


class TrafficState(StrEnum):
    APPLYING = "Applying"          # the weight is written; waiting until every target took effect
    HOLDING = "Holding"            # every target took effect; analysis runs until holdUntil
    COOLING_DOWN = "CoolingDown"   # stepped back after a breach; waiting before the next try
    ABORTING = "Aborting"          # walking back to weight 0
    DONE = "Done"                  # the last step held (or the ramp reached its max)


class TargetStatus(_Status):
    """One routing object: the weight last written and whether it shows it and took effect."""

    name: str
    """The target, e.g. httpRoute/checkout."""
    weight: int | None = Field(default=None, description="The weight last written to it.")
    inPlace: bool = False
    """The object shows the weight's values."""
    effective: bool = False
    """The change took effect (an HTTPRoute: accepted by every parent gateway)."""
    shows: str | None = Field(default=None, description="What the object shows, e.g. primary=25 dr=75.")
    message: str | None = None
    """What the target waits for."""


class WeightChange(_Status):
    weight: int
    """The new weight."""
    at: str
    """When it was decided."""
    reason: str
    """Why: a step, a step back, an abort."""


class TrafficStatus(_Status):
    step: int = Field(default=0, description="1-based step under way; 0 before the first.")
    steps: int = 0
    """How many steps the ramp has (0 for an adaptive ramp)."""
    weight: int = 0
    """Percent of traffic sent to the restored system (printer column)."""
    state: TrafficState | None = None
    """Applying, Holding, CoolingDown, Aborting or Done."""
    holdUntil: str | None = None
    """When the current hold ends."""
    coolDownUntil: str | None = None
    """When the cool-down after a step back ends."""
    stepBacks: int = 0
    """Step-backs since the ramp started (or was resumed)."""
    targets: list[TargetStatus] = Field(
        default_factory=list, description="Each routing object: weight written, shown, in effect.")
    history: list[WeightChange] = Field(default_factory=list, description="Weight changes, newest last (bounded).")


class BudgetStatus(_Status):
    """The restoration budget: technical recovery -> operational restoration."""

    budget: str
    """spec.restorationBudget."""
    deadline: str
    """Technical recovery plus the budget."""
    exceeded: bool = False
    """The deadline passed before restoration."""
    elapsed: str | None = Field(default=None, description="Set when the plan is restored.")


class RecoveryPlanStatus(_Status):
    observedGeneration: int | None = None
    """The spec generation this status was computed from."""
    phase: Phase | None = None
    """Where the plan stands (printer column): Pending, Armed, a stage's phase, Observing, Restored, ..."""
    stage: StageName | None = Field(default=None, description="The stage under way (printer column).")
    message: str | None = None
    """What the plan is doing or waiting for, in words."""
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Progressing, Stalled (kstatus); PlanReady, Overridden, ...")
    stages: list[StageStatus] = Field(default_factory=list, description="One entry per stage, in the fixed order.")
    checks: list[CheckStatus] = Field(
        default_factory=list, description="The latest result of every check that has been evaluated.")
    actions: list[ActionStatus] = Field(
        default_factory=list, description="Every action's progress and what it recorded.")
    services: list[ServiceStatus] = Field(
        default_factory=list, description="One entry per service of the dependency graph.")
    unmatchedGatedPods: list[str] = Field(
        default_factory=list, description="Gated pods in the namespace that no plan's services select.")
    traffic: TrafficStatus | None = None
    """The traffic ramp: step, weight, hold, targets, history."""
    startedAt: str | None = None
    """When the plan left Armed."""
    technicalRecoveryAt: str | None = None
    """When technical recovery was declared (the start annotation, or technicalRecovery's checks passing)."""
    operationallyRestoredAt: str | None = None
    """When every stage had passed."""
    restoration: BudgetStatus | None = None
    """The restoration budget against the time taken."""
    approval: ApprovalStatus | None = None
    """Who approved at the finish line, when, and why."""
    observingSince: str | None = None
    """Start of the current continuous healthy watch (observeFor)."""
    pausedFrom: Phase | None = Field(default=None, description="The phase a paused plan resumes into.")
    pauseReason: str | None = None
    """Why the plan is paused."""
    lastResumeToken: str | None = Field(default=None, description="The reentry.dev/resume value last acted on.")


class RecoveryPlan(_Model):
    """The whole custom resource, as the CRD describes it."""

    apiVersion: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RecoveryPlanSpec
    status: RecoveryPlanStatus | None = None
