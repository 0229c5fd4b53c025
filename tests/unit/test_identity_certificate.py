"""certificate: chains, expiry margins, key match, names and mTLS pairing, with certificates made here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from reentry.checks import certificate
from reentry.checks.certificate import TlsSide, judge, judge_pairing
from reentry.checks.material import Material, MaterialError
from reentry.model import CertificateCheck, FailureClass, Outcome

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(cn: str, by: Issued | None = None, *, ca: bool = False, dns: tuple[str, ...] = (), uris: tuple[str, ...] = (),
          not_before: datetime = NOW - DAY, not_after: datetime = NOW + 90 * DAY, rsa_key: bool = False) -> Issued:
    """A certificate signed by ``by`` (self-signed without), as cert-manager or a private CA would make it."""
    key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    signer = by or Issued(None, key)  # type: ignore[arg-type]
    builder = (x509.CertificateBuilder().subject_name(name(cn))
               .issuer_name(by.cert.subject if by else name(cn)).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    names = [x509.DNSName(d) for d in dns] + [x509.UniformResourceIdentifier(u) for u in uris]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer.key, hashes.SHA256()), key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki() -> dict[str, Issued]:
    """A root, an intermediate under it, a server leaf under the intermediate, and a stranger root."""
    root = issue("Shop Root CA", ca=True, not_before=NOW - 1000 * DAY, not_after=NOW + 3650 * DAY)
    inter = issue("Shop Issuing CA", root, ca=True, not_before=NOW - 1000 * DAY, not_after=NOW + 1000 * DAY)
    leaf = issue("orders", inter, dns=("orders.shop.svc", "*.orders.shop.svc"), uris=("spiffe://shop/orders",))
    other = issue("Other Root CA", ca=True, not_before=NOW - 1000 * DAY)
    return {"root": root, "inter": inter, "leaf": leaf, "other": other}


def side(leaf: Issued, *chain: Issued, trusts: tuple[Issued, ...], key: Issued | None = None) -> TlsSide:
    return TlsSide([leaf.cert, *(c.cert for c in chain)], [t.cert for t in trusts], (key or leaf).key)


def test_a_good_chain_through_an_intermediate_passes(pki: dict[str, Issued]):
    good = side(pki["leaf"], pki["inter"], trusts=(pki["root"],))
    assert judge(good, NOW, 30 * DAY, ["orders.shop.svc", "api.orders.shop.svc"], ["spiffe://shop/orders"]) == []


def test_a_chain_missing_its_intermediate_does_not_verify(pki: dict[str, Issued]):
    findings = judge(side(pki["leaf"], trusts=(pki["root"],)), NOW, timedelta(0), [], [])
    assert len(findings) == 1 and findings[0].startswith("chain does not verify to the CA bundle: ")


def test_a_certificate_from_another_ca_does_not_verify(pki: dict[str, Issued]):
    findings = judge(side(pki["leaf"], pki["inter"], trusts=(pki["other"],)), NOW, timedelta(0), [], [])
    assert [f.split(":")[0] for f in findings] == ["chain does not verify to the CA bundle"]


def test_an_expired_certificate_names_its_expiry_and_nothing_else(pki: dict[str, Issued]):
    old = issue("orders", pki["inter"], dns=("orders.shop.svc",), not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    findings = judge(side(old, pki["inter"], trusts=(pki["root"],)), NOW, timedelta(0), ["orders.shop.svc"], [])
    # The chain itself is sound: the leaf's dates are reported once, as expiry.
    assert findings == ["expired at 2026-11-22T12:00:00Z"]


def test_a_certificate_not_yet_valid_fails(pki: dict[str, Issued]):
    early = issue("orders", pki["inter"], not_before=NOW + DAY)
    assert judge(side(early, pki["inter"], trusts=(pki["root"],)), NOW, timedelta(0), [], []) == [
        "not valid before 2026-11-24T12:00:00Z"]


def test_short_validity_names_what_is_left_and_what_was_wanted(pki: dict[str, Issued]):
    short = issue("orders", pki["inter"], not_after=NOW + 10 * DAY)
    findings = judge(side(short, pki["inter"], trusts=(pki["root"],)), NOW, 30 * DAY, [], [])
    assert findings == ["expires at 2026-12-03T12:00:00Z, 240h left, wanted at least 720h"]
    assert judge(side(short, pki["inter"], trusts=(pki["root"],)), NOW, 9 * DAY, [], []) == []


def test_an_expired_intermediate_breaks_the_chain(pki: dict[str, Issued]):
    stale_inter = issue("Shop Issuing CA", pki["root"], ca=True, not_after=NOW - DAY)
    leaf = issue("orders", stale_inter, not_before=NOW - 30 * DAY, not_after=NOW + 30 * DAY)
    findings = judge(side(leaf, stale_inter, trusts=(pki["root"],)), NOW, timedelta(0), [], [])
    assert len(findings) == 1 and "chain does not verify" in findings[0] and "not valid" in findings[0]


def test_a_key_that_is_not_the_certificates_is_named(pki: dict[str, Issued]):
    stranger = issue("someone", pki["inter"])
    findings = judge(side(pki["leaf"], pki["inter"], trusts=(pki["root"],), key=stranger), NOW, timedelta(0), [], [])
    assert findings == ["tls.key does not belong to the certificate"]


def test_missing_names_are_listed_and_wildcards_cover_one_label(pki: dict[str, Issued]):
    leaf = pki["leaf"].cert
    assert certificate.missing_names(leaf, ["ORDERS.shop.svc", "v1.orders.shop.svc"], ["spiffe://shop/orders"]) == []
    assert certificate.missing_names(leaf, ["a.b.orders.shop.svc", "payments.shop.svc"], ["spiffe://shop/pay"]) == [
        "DNS:a.b.orders.shop.svc", "DNS:payments.shop.svc", "URI:spiffe://shop/pay"]
    bare = issue("bare", pki["inter"]).cert
    assert certificate.missing_names(bare, ["orders.shop.svc"], []) == ["DNS:orders.shop.svc"]


def test_every_finding_is_reported_at_once(pki: dict[str, Issued]):
    old = issue("orders", pki["other"], not_before=NOW - 90 * DAY, not_after=NOW - DAY)
    findings = judge(side(old, trusts=(pki["root"],), key=pki["leaf"]), NOW, timedelta(0), ["orders.shop.svc"], [])
    assert [f.split(" ")[0] for f in findings] == ["tls.key", "expired", "chain", "subject"]


def test_a_self_signed_certificate_verifies_against_itself():
    alone = issue("standalone", dns=("standalone.local",))
    assert judge(side(alone, trusts=(alone,)), NOW, timedelta(0), ["standalone.local"], []) == []


def test_rsa_certificates_work_as_well(pki: dict[str, Issued]):
    leaf = issue("legacy", pki["inter"], rsa_key=True)
    assert judge(side(leaf, pki["inter"], trusts=(pki["root"],)), NOW, timedelta(0), [], []) == []


def test_mtls_pairing_both_ways(pki: dict[str, Issued]):
    # The server side trusts the shop's root; the client side comes from another CA and trusts only that one.
    client_leaf = issue("checkout", pki["other"], uris=("spiffe://shop/checkout",))
    server = side(pki["leaf"], pki["inter"], trusts=(pki["root"], pki["other"]))
    client = side(client_leaf, trusts=(pki["other"],))
    findings = judge_pairing(server, client, NOW)
    assert len(findings) == 1
    assert findings[0].startswith("this certificate does not verify against the peer's CA bundle: ")

    # Once the client trusts the shop's root as well, the pair is sound.
    paired = side(client_leaf, trusts=(pki["other"], pki["root"]))
    assert judge_pairing(server, paired, NOW) == []

    # And a server that does not trust the client's CA is named from its side.
    strict = side(pki["leaf"], pki["inter"], trusts=(pki["root"],))
    assert [f.split(":")[0] for f in judge_pairing(strict, paired, NOW)] == [
        "the peer's certificate does not verify against this side's CA bundle"]


def test_observed_value_names_subject_issuer_expiry_and_fingerprint_never_the_key(pki: dict[str, Issued]):
    leaf = pki["leaf"].cert
    shown = certificate.describe(leaf)
    assert shown == (f"subject CN=orders, issuer CN=Shop Issuing CA, expires 2027-02-21T12:00:00Z, "
                     f"sha256 {leaf.fingerprint(hashes.SHA256()).hex()}")
    assert "PRIVATE" not in shown and key_pem(pki["leaf"].key).decode() not in shown


# ---- parsing and configuration errors: InvalidConfiguration, the cause named -------------------


def test_pem_that_does_not_parse_is_invalid_configuration():
    with pytest.raises(MaterialError) as err:
        certificate.parse_certificates(b"not a certificate", "Secret tls in namespace shop: tls.crt")
    assert err.value.failure == FailureClass.INVALID_CONFIGURATION
    assert str(err.value).startswith("Secret tls in namespace shop: tls.crt is not a PEM certificate bundle")


def test_an_encrypted_private_key_is_named_as_such(pki: dict[str, Issued]):
    locked = pki["leaf"].key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(MaterialError) as err:
        certificate.parse_private_key(locked, "tls.key")
    assert str(err.value) == "tls.key is an encrypted private key; the check needs it unencrypted"
    with pytest.raises(MaterialError, match=r"tls\.key is not a PEM private key"):
        certificate.parse_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "tls.key")


def test_a_missing_key_of_a_secret_names_the_keys_there_are():
    secret = Material("Secret", "tls-orders", "shop", {"tls.crt": b"x", "ca.crt": b"y"})
    with pytest.raises(MaterialError) as err:
        secret.value("tls.key")
    assert err.value.failure == FailureClass.INVALID_CONFIGURATION
    assert str(err.value) == "Secret tls-orders in namespace shop has no key tls.key (keys: ca.crt, tls.crt)"
    result = err.value.result("key matches")
    assert (result.outcome, result.failure, result.threshold) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION,
                                                                  "key matches")


def test_the_threshold_says_what_the_check_wants():
    spec = CertificateCheck.model_validate({"secret": "tls", "minValidity": "720h", "dnsNames": ["a.shop"],
                                            "uris": ["spiffe://shop/a"], "mtlsPeer": {"secret": "client-tls"}})
    assert certificate.threshold(spec) == ("key matches, chain verifies, valid >= 720h left, "
                                           "names DNS:a.shop, URI:spiffe://shop/a, mTLS pair with Secret client-tls")
