"""secretFreshness: the Version, KeyId and Fingerprint rules, and which side they call newer."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reentry.checks import jwks, secret_freshness
from reentry.checks.material import Material, MaterialError
from reentry.checks.secret_freshness import compare_fingerprints, compare_key_ids, compare_versions, key_ids
from reentry.model import FailureClass, FreshnessRule, SecretFreshnessCheck

# ---- Version ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("restored", "clients", "passes", "observed"), [
    ("7", "7", True, "both at version 7"),
    ("8", "7", True, "restored 8, clients 7: the restored Secret is newer"),
    ("9", "10", False, "restored 9, clients 10: the clients' material is newer"),  # numbers, not text
    ("1.5", "1.25", True, "restored 1.5, clients 1.25: the restored Secret is newer"),
    ("2026-11-23T10:00:00Z", "2026-11-23T11:00:00+02:00", True,
     "restored 2026-11-23T10:00:00Z, clients 2026-11-23T11:00:00+02:00: the restored Secret is newer"),
    ("2026-11-23T08:00:00.5Z", "2026-11-23T08:00:01Z", False,
     "restored 2026-11-23T08:00:00.5Z, clients 2026-11-23T08:00:01Z: the clients' material is newer"),
])
def test_version_compares_numbers_then_timestamps(restored: str, clients: str, passes: bool, observed: str):
    verdict = compare_versions(restored, clients)
    assert (verdict.passes, verdict.observed) == (passes, observed)


def test_an_older_restored_version_says_the_clients_are_newer():
    assert compare_versions("41", "42").message == "the clients were given version 42, newer than the restored 41"


@pytest.mark.parametrize(("restored", "clients"), [
    ("v7", "v8"), ("7", "2026-11-23T10:00:00Z"), ("NaN", "1"), ("Infinity", "1"), ("2026-11-23", "2026-11-24")])
def test_versions_that_cannot_be_ordered_are_refused_by_name(restored: str, clients: str):
    with pytest.raises(ValueError, match="neither both numbers nor both RFC 3339 timestamps"):
        compare_versions(restored, clients)


# ---- KeyId --------------------------------------------------------------------------------------


def test_key_ids_of_every_form_of_material():
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": jwks.b64url_encode(point.x.to_bytes(32, "big")),
           "y": jwks.b64url_encode(point.y.to_bytes(32, "big"))}
    assert key_ids(json.dumps({**jwk, "kid": "k-2026"}).encode()) == ["k-2026"]
    assert key_ids(json.dumps({"keys": [{**jwk, "kid": "new"}, {**jwk, "kid": "old"}]}).encode()) == ["new", "old"]
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    assert key_ids(pem) == [jwks.kubernetes_key_id(key.public_key())]
    assert key_ids(b"  k-2026\n") == ["k-2026"]
    with pytest.raises(ValueError, match="without any kid"):
        key_ids(json.dumps(jwk).encode())
    with pytest.raises(ValueError, match="neither a JWK, a JWKS, a PEM key nor a bare key id"):
        key_ids(b"two words")


def test_key_id_rule_names_the_newer_side():
    assert compare_key_ids(["k2"], ["k2"]).observed == "both at kid k2"
    rotated = compare_key_ids(["k3", "k2"], ["k2"])
    assert rotated.passes and rotated.observed == ("restored kid k3, clients kid k2: the restored Secret is newer "
                                                   "(it still holds the clients' kid)")
    stale = compare_key_ids(["k1"], ["k2", "k1"])
    assert not stale.passes
    assert stale.observed == "restored kid k1, clients kid k2: the clients' material is newer"
    assert stale.message == "the clients were given kid k2, which the restored Secret does not hold (it has k1)"


# ---- Fingerprint --------------------------------------------------------------------------------


def test_fingerprint_rule_demands_equal_content_and_never_shows_it():
    same = compare_fingerprints(b"s3cr3t-value\n", b"s3cr3t-value")
    assert same.passes and same.observed.startswith("same content sha256:")
    differ = compare_fingerprints(b"s3cr3t-old", b"s3cr3t-new")
    assert not differ.passes and "the clients' material is newer" in differ.observed
    assert "s3cr3t" not in differ.observed + differ.message
    assert differ.observed.count("sha256:") == 2 and len(differ.observed.split(",")[0]) == len("restored sha256:") + 16


# ---- the spec and how errors are classed --------------------------------------------------------


def test_content_rules_need_a_key_and_version_does_not():
    base = {"secret": "signing-key", "clients": {"name": "client-cache"}}
    assert SecretFreshnessCheck.model_validate(base).rule == FreshnessRule.VERSION
    with pytest.raises(ValueError, match="rule KeyId compares key material and needs key"):
        SecretFreshnessCheck.model_validate({**base, "rule": "KeyId"})
    spec = SecretFreshnessCheck.model_validate({**base, "rule": "Fingerprint", "key": "tls.key"})
    assert secret_freshness.threshold(spec) == "restored content = the clients'"


def _compare(spec: dict[str, object], restored: Material, clients: Material) -> secret_freshness.Verdict:
    return secret_freshness._compare(SecretFreshnessCheck.model_validate(
        {"secret": restored.name, "clients": {"name": clients.name}, **spec}), restored, clients)


def test_a_missing_annotation_or_key_is_invalid_configuration_naming_it():
    restored = Material("Secret", "signing-key", "shop", {"jwk": b"k1"}, {"reentry.dev/version": "3"})
    clients = Material("Secret", "client-cache", "shop", {"kid": b"k1"}, {})
    with pytest.raises(MaterialError) as err:
        _compare({}, restored, clients)
    assert err.value.failure == FailureClass.INVALID_CONFIGURATION
    assert str(err.value) == "rule Version: Secret client-cache in namespace shop has no annotation reentry.dev/version"
    with pytest.raises(MaterialError, match=r"Secret client-cache in namespace shop has no key jwk \(keys: kid\)"):
        _compare({"rule": "KeyId", "key": "jwk"}, restored, clients)
    assert _compare({"rule": "KeyId", "key": "jwk", "clients": {"name": "client-cache", "key": "kid"}},
                    restored, clients).passes


def test_unorderable_versions_and_unreadable_material_are_invalid_configuration():
    restored = Material("Secret", "signing-key", "shop", {"jwk": b"{not json"}, {"reentry.dev/version": "v3"})
    clients = Material("Secret", "client-cache", "shop", {"jwk": b"k1"}, {"reentry.dev/version": "4"})
    with pytest.raises(MaterialError, match=r"versions 'v3' \(restored\) and '4' \(clients\) are neither"):
        _compare({}, restored, clients)
    with pytest.raises(MaterialError) as err:
        _compare({"rule": "KeyId", "key": "jwk"}, restored, clients)
    assert err.value.failure == FailureClass.INVALID_CONFIGURATION
    assert str(err.value).startswith("rule KeyId: Secret signing-key in namespace shop key jwk holds no usable JWK "
                                     "or JWKS (not JSON")
