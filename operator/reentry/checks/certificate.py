"""``certificate``: a restored TLS Secret holds a certificate that peers will accept.

From a Secret of type kubernetes.io/tls (``tls.crt`` with the leaf first and any intermediates
after it, ``tls.key``, optionally ``ca.crt``), every finding is collected, not only the first:

- the private key belongs to the certificate (same public key);
- the leaf is valid now and stays valid at least ``minValidity`` longer;
- the chain verifies to the CA bundle (``caBundle``, else the Secret's ``ca.crt``) the way a TLS
  client would (RFC 5280 path building with ``cryptography``), judged at a moment the leaf itself
  is valid, so an expired leaf is reported as expired and not also as "does not verify";
- every name in ``dnsNames`` is among the DNS names (a ``*.`` wildcard covers one label) and every
  one in ``uris`` among the URIs of the subject alternative names;
- with ``mtlsPeer``: the peer's certificate verifies against this side's CA bundle, and this
  certificate against the peer's CA bundle (``mtlsPeer.caBundle``, else the peer Secret's ``ca.crt``);
  the peer's own key is not read.

The observed value names the subject, the issuer, the expiry and the SHA-256 fingerprint of the
leaf; key material never leaves this module. A Secret that does not exist is a Fail (the restored
vault lacks it); a missing key, PEM that does not parse or an encrypted key is InvalidConfiguration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from reentry import model
from reentry.checks import material
from reentry.checks.material import Material, MaterialError
from reentry.engine.observations import CheckResult
from reentry.engine.timeutil import format_duration
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects

CERT_KEY = "tls.crt"
PRIVATE_KEY = "tls.key"
CA_KEY = "ca.crt"

# Path building as TLS clients do it (Go, OpenSSL): a CA must say it is one (basicConstraints), other
# extensions are not demanded. The stricter web-PKI profile would refuse many private CAs that work.
_CA_POLICY = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
_LEAF_POLICY = ExtensionPolicy.permit_all()


# ---- parsing ------------------------------------------------------------------------------------


def parse_certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order; InvalidConfiguration when there is none."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as err:
        raise material.invalid(f"{what} is not a PEM certificate bundle ({err})") from err
    return certs


def parse_private_key(pem: bytes, what: str) -> PrivateKeyTypes:
    """The PEM private key (unencrypted, as Kubernetes TLS Secrets hold it)."""
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError as err:  # cryptography's word for "encrypted, and no password given"
        raise material.invalid(f"{what} is an encrypted private key; the check needs it unencrypted") from err
    except (ValueError, UnsupportedAlgorithm) as err:
        raise material.invalid(f"{what} is not a PEM private key") from err


# ---- judgments (pure) ---------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """``2026-11-23T14:00:00Z``: certificates count in whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, in hex: what ``openssl x509 -fingerprint -sha256`` shows."""
    return cert.fingerprint(hashes.SHA256()).hex()


def describe(cert: x509.Certificate) -> str:
    """Subject, issuer, expiry and fingerprint: what status shows of a certificate."""
    return (f"subject {cert.subject.rfc4514_string()}, issuer {cert.issuer.rfc4514_string()}, "
            f"expires {format_time(cert.not_valid_after_utc)}, sha256 {fingerprint(cert)}")


def key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """The private key is the one the certificate's public key belongs to."""
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(key.public_key().public_bytes(*der) == cert.public_key().public_bytes(*der))


def validity_problem(cert: x509.Certificate, now: datetime, min_validity: timedelta) -> str | None:
    """Why the certificate is not valid long enough at ``now``; None when it is."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < not_before:
        return f"not valid before {format_time(not_before)}"
    if now >= not_after:
        return f"expired at {format_time(not_after)}"
    left = not_after - now
    if left < min_validity:
        return (f"expires at {format_time(not_after)}, {format_duration(left)} left, "
                f"wanted at least {format_duration(min_validity)}")
    return None


def verify_chain(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], now: datetime) -> str | None:
    """Why the chain (leaf first) does not verify to ``roots``; None when it does.

    Judged at ``now`` when the leaf is valid then, else at the nearest moment it is, so the leaf's own
    dates are left to :func:`validity_problem` and an intermediate or CA out of date still shows here.
    """
    leaf = chain[0]
    at = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc - timedelta(seconds=1))
    verifier = (PolicyBuilder().store(Store(list(roots))).time(at)
                .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY).build_client_verifier())
    try:
        verifier.verify(leaf, list(chain[1:]))
    except VerificationError as err:
        return str(err).removeprefix("validation failed: ")
    return None


def missing_names(cert: x509.Certificate, dns_names: Sequence[str], uris: Sequence[str]) -> list[str]:
    """The expected names the certificate's subject alternative names do not cover."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have_dns = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
        have_uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        have_dns, have_uris = [], []
    missing = [f"DNS:{name}" for name in dns_names if not any(_dns_covers(h, name.lower()) for h in have_dns)]
    return missing + [f"URI:{uri}" for uri in uris if uri not in have_uris]


def _dns_covers(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    # A wildcard stands for exactly one leftmost label: *.shop.svc covers orders.shop.svc, not a.b.shop.svc.
    return pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]


@dataclass(frozen=True)
class TlsSide:
    """One side's certificate chain (leaf first), the CA bundle it trusts, and its private key."""

    chain: list[x509.Certificate]
    trusts: list[x509.Certificate]
    key: PrivateKeyTypes | None = None
    """None for an mTLS peer: only its certificate and its trust are judged."""


def judge(side: TlsSide, now: datetime, min_validity: timedelta, dns_names: Sequence[str],
          uris: Sequence[str]) -> list[str]:
    """Every finding about one side, in words; empty when it passes."""
    leaf = side.chain[0]
    findings = []
    if side.key is not None and not key_matches(leaf, side.key):
        findings.append(f"{PRIVATE_KEY} does not belong to the certificate")
    if problem := validity_problem(leaf, now, min_validity):
        findings.append(problem)
    if problem := verify_chain(side.chain, side.trusts, now):
        findings.append(f"chain does not verify to the CA bundle: {problem}")
    if missing := missing_names(leaf, dns_names, uris):
        findings.append(f"subject alternative names lack {', '.join(missing)}")
    return findings


def judge_pairing(side: TlsSide, peer: TlsSide, now: datetime) -> list[str]:
    """mTLS: each side's certificate verifies against the CA bundle the other side trusts."""
    findings = []
    if problem := verify_chain(peer.chain, side.trusts, now):
        findings.append(f"the peer's certificate does not verify against this side's CA bundle: {problem}")
    if problem := verify_chain(side.chain, peer.trusts, now):
        findings.append(f"this certificate does not verify against the peer's CA bundle: {problem}")
    return findings


def threshold(spec: model.CertificateCheck) -> str:
    """What the check wants, in one line."""
    parts = ["key matches", "chain verifies", "valid" + (f" >= {spec.minValidity} left" if spec.minValidity else "")]
    names = [f"DNS:{n}" for n in spec.dnsNames] + [f"URI:{u}" for u in spec.uris]
    if names:
        parts.append(f"names {', '.join(names)}")
    if spec.mtlsPeer:
        parts.append(f"mTLS pair with Secret {spec.mtlsPeer.secret}")
    return ", ".join(parts)


# ---- the probe ----------------------------------------------------------------------------------


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.CertificateCheck) -> CheckResult:
    """Read the TLS Secret (and the peer's), judge them, report the leaf and every finding."""
    wanted = threshold(spec)
    ns = spec.namespace or namespace
    try:
        secret = await material.load(objects, "Secret", spec.secret, ns)
        if secret is None:
            return _absent(material.where("Secret", spec.secret, ns), wanted)
        side = await _side(objects, secret, spec.caBundle, namespace, with_key=True)
        observed = describe(side.chain[0])
        now = datetime.now(UTC)
        min_validity = model.parse_duration(spec.minValidity) if spec.minValidity else timedelta(0)
        findings = judge(side, now, min_validity, spec.dnsNames, spec.uris)
        if spec.mtlsPeer is not None:
            peer_ns = spec.mtlsPeer.namespace or namespace
            peer_secret = await material.load(objects, "Secret", spec.mtlsPeer.secret, peer_ns)
            if peer_secret is None:
                return _absent(f"the mTLS peer's {material.where('Secret', spec.mtlsPeer.secret, peer_ns)}", wanted,
                               observed)
            peer = await _side(objects, peer_secret, spec.mtlsPeer.caBundle, namespace, with_key=False)
            findings += judge_pairing(side, peer, now)
    except MaterialError as err:
        return err.result(wanted)
    if findings:
        return CheckResult(Outcome.FAIL, observed, wanted, f"{secret.what}: {'; '.join(findings)}",
                           FailureClass.THRESHOLD_MISSED)
    return CheckResult(Outcome.PASS, observed, wanted)


async def _side(objects: Objects, secret: Material, ca_bundle: model.KeySource | None, namespace: str, *,
                with_key: bool) -> TlsSide:
    chain = parse_certificates(secret.value(CERT_KEY), f"{secret.what}: {CERT_KEY}")
    key = parse_private_key(secret.value(PRIVATE_KEY), f"{secret.what}: {PRIVATE_KEY}") if with_key else None
    if ca_bundle is not None:
        where = material.describe_source(ca_bundle, namespace)
        trusts = parse_certificates(await material.read(objects, ca_bundle, namespace), f"the CA bundle {where}")
    elif CA_KEY in secret.data:
        trusts = parse_certificates(secret.data[CA_KEY], f"{secret.what}: {CA_KEY}")
    else:
        raise material.invalid(f"{secret.what} has no {CA_KEY} and no caBundle is given: nothing to verify the "
                               "chain against")
    return TlsSide(chain, trusts, key)


def _absent(what: str, wanted: str, observed: str | None = None) -> CheckResult:
    return CheckResult(Outcome.FAIL, observed, wanted, f"{what} not found", FailureClass.NO_DATA)
