"""Checks: the gates of a stage, one kind each (workload, endpoints, resource, leases, the identity
kinds, the state kinds), and :class:`Check`, the item a plan lists.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from reentry.model.common import (
    PROBE_INTERVAL,
    Comparison,
    DataKey,
    Duration,
    LabelSelector,
    NamedObject,
    NamespaceName,
    ObjectName,
    ObjectRef,
    QualifiedName,
    ServiceName,
    _exactly_one,
    _Model,
    _OneKind,
    named,
)
from reentry.model.sources import HttpClient, KeyRef, KeySource, TlsOptions


class WorkloadCheck(_Model):
    """A Deployment or StatefulSet has rolled out: current generation observed, enough replicas available."""

    kind: str = Field(default="Deployment", pattern=r"^(Deployment|StatefulSet)$")
    name: ObjectName
    minAvailable: int | None = Field(default=None, ge=0, description="Defaults to spec.replicas.")

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("apps/v1", self.kind, self.name, None, "name"),)


class EndpointsCheck(_Model):
    """A Service shows enough ready endpoints in its EndpointSlices."""

    service: ServiceName
    minReady: int = Field(default=1, ge=0)

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("v1", "Service", self.service, None, "service"),)


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


# ---- identity kinds -----------------------------------------------------------------------------


class ServiceAccountTokenCheck(_Model):
    """TokenRequest for the ServiceAccount, then TokenReview: authenticated, with the audiences asked for."""

    serviceAccount: ObjectName
    namespace: NamespaceName | None = None
    audiences: list[str] = Field(default_factory=list, description="Defaults to the API server's own audience.")
    expirationSeconds: int = Field(default=600, ge=600, description="Lifetime of the token asked for (at least "
                                   "600, the API server's minimum); the token is used once and never stored.")

    def named_objects(self) -> tuple[NamedObject, ...]:
        return (named("v1", "ServiceAccount", self.serviceAccount, self.namespace, "serviceAccount", read=False),)


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


CHECK_KINDS = ("workload", "endpoints", "resource", "leases", "serviceAccountToken", "certificate", "signingKeys",
                "secretFreshness", "prometheus", "http")


class OnTimeout(StrEnum):
    PAUSE = "Pause"
    FAIL = "Fail"


class OnNoData(StrEnum):
    """How a NoData result counts: wait for data (Hold), count it as passing, or as failing."""

    HOLD = "Hold"
    PASS = "Pass"
    FAIL = "Fail"


class Check(_OneKind):
    """One gate of a stage: exactly one kind, optionally held stable and bounded in time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one(CHECK_KINDS))
    _kinds = CHECK_KINDS
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
