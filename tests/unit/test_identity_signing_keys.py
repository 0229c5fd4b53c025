"""signingKeys: JWKS parsing, comparing the clients' keys with the issuer's, RS256 and ES256 tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from reentry.checks import jwks
from reentry.checks.jwks import JoseError, compare, parse_jwks, verify_token
from reentry.model import SigningKeysCheck


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(number: int, size: int | None = None) -> str:
    return b64(number.to_bytes(size or (number.bit_length() + 7) // 8, "big"))


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str | None, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "alg": "RS256", "use": "sig", **({"kid": kid} if kid else {}), "n": uint(numbers.n),
            "e": uint(numbers.e), **extra}


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str | None) -> dict[str, Any]:
    point = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", **({"kid": kid} if kid else {}), "x": uint(point.x, 32),
            "y": uint(point.y, 32)}


def jwks_of(*keys: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


def sign(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, alg: str, kid: str | None,
         claims: dict[str, Any] | None = None) -> str:
    """A compact JWS as an issuer makes it (ES256 carries r || s, not DER)."""
    header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims or {'sub': 'orders'}).encode())}"
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"rsa-2025": rsa.generate_private_key(65537, 2048), "rsa-2026": rsa.generate_private_key(65537, 2048),
            "ec-2026": ec.generate_private_key(ec.SECP256R1())}


# ---- comparing key sets -------------------------------------------------------------------------


def test_clients_keys_all_published_with_the_same_material(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "2026"), rsa_jwk(keys["rsa-2025"], "2025"),
                                ec_jwk(keys["ec-2026"], "ec")))
    clients = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025"), ec_jwk(keys["ec-2026"], "ec")))
    drift = compare(issuer, clients)
    assert drift.ok and drift.matched == ("kid 2025", "kid ec")


def test_a_kid_the_clients_hold_that_the_issuer_does_not_publish_is_named(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025")))
    clients = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025"), rsa_jwk(keys["rsa-2026"], "2026")))
    drift = compare(issuer, clients)
    assert (drift.ok, drift.missing, drift.mismatched) == (False, ("kid 2026",), ())
    assert drift.describe() == "the issuer does not publish kid 2026 (held by the clients)"


def test_the_same_kid_with_other_key_material_is_a_mismatch(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "2026")))
    clients = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2026")))
    drift = compare(issuer, clients)
    assert drift.missing == () and [m.kid for m in drift.mismatched] == ["2026"]
    published, held = issuer[0].short, clients[0].short
    assert drift.describe() == f"kid 2026 differs: the issuer publishes {published}, the clients hold {held}"
    assert published != held and published.startswith("sha256:")


def test_keys_without_kid_are_matched_by_material(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "2026")))
    same = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], None)))
    other = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], None)))
    assert compare(issuer, same).ok
    assert compare(issuer, other).missing == (other[0].label,) and other[0].label.startswith("key sha256:")


def test_material_compares_by_value_not_by_encoding(keys: dict[str, Any]):
    # A leading zero byte in n, other members (alg, use) and member order do not make another key.
    numbers = keys["rsa-2026"].public_key().public_numbers()
    padded = {"e": uint(numbers.e), "n": b64(b"\x00" + numbers.n.to_bytes(256, "big")), "kid": "2026", "kty": "RSA"}
    plain = rsa_jwk(keys["rsa-2026"], "2026", x5t="ignored")
    assert parse_jwks(jwks_of(padded))[0].thumbprint == parse_jwks(jwks_of(plain))[0].thumbprint


def test_the_thumbprint_is_rfc_7638():
    # The example of RFC 7638 section 3.1.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29", "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
        "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
        "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzK"
        "nqDKgw")}
    assert parse_jwks(json.dumps(jwk).encode())[0].thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_private_members_never_reach_a_message(keys: dict[str, Any]):
    numbers = keys["rsa-2026"].private_numbers()
    private = rsa_jwk(keys["rsa-2026"], "2026", d=uint(numbers.d), p=uint(numbers.p))
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2026")))
    text = compare(issuer, parse_jwks(jwks_of(private))).describe()
    assert uint(numbers.d) not in text and private["n"] not in text


@pytest.mark.parametrize(("document", "cause"), [
    (b"not json", "not JSON"),
    (b'{"issuer": "x"}', 'neither a JWKS ({"keys": [...]}) nor a JWK'),
    (b'{"keys": [{"kid": "a", "kty": "RSA", "e": "AQAB"}]}', "kid a: member n is missing"),
    (b'{"keys": [{"kid": "a", "kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}]}', "kid a: curve P-192 is not"),
    (b'{"keys": [{"kid": "a", "kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}]}', "kid a: the point is not on"),
    (b'{"keys": [{"kid": "a", "kty": "RSA", "n": "***", "e": "AQAB"}]}', "kid a: member n is not base64url"),
    (b'{"keys": [{"kid": "a", "kty": "XYZ"}]}', "kid a: key type 'XYZ' is not supported"),
    (b'{"keys": [{"kid": "a"}]}', "kid a: member kty is missing"),
    (b'{"keys": ["a"]}', "a key is not a JSON object"),
])
def test_unusable_key_sets_name_the_cause(document: bytes, cause: str):
    with pytest.raises(JoseError) as err:
        parse_jwks(document)
    assert str(err.value).startswith(cause)


def test_a_single_jwk_and_other_key_types_are_read(keys: dict[str, Any]):
    assert [k.kid for k in parse_jwks(json.dumps(ec_jwk(keys["ec-2026"], "only")).encode())] == ["only"]
    okp = {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    oct_key = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
    found = parse_jwks(jwks_of(okp, oct_key))
    assert [(k.kid, k.kty) for k in found] == [("ed", "OKP"), ("hmac", "oct")]
    assert "c2VjcmV0" not in found[1].label + found[1].short


def test_kubernetes_key_ids_are_derived_from_pem(keys: dict[str, Any]):
    public = keys["rsa-2026"].public_key()
    from_public = jwks.key_from_pem(public.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    from_private = jwks.key_from_pem(keys["rsa-2026"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    assert from_public.kid == from_private.kid == jwks.kubernetes_key_id(public)
    assert from_public.thumbprint == parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "x")))[0].thumbprint
    with pytest.raises(JoseError, match="not a PEM key"):
        jwks.key_from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


# ---- sample tokens ------------------------------------------------------------------------------


def test_rs256_token_verifies_with_the_issuers_key(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025"), rsa_jwk(keys["rsa-2026"], "2026")))
    verdict = verify_token(sign(keys["rsa-2026"], "RS256", "2026"), issuer)
    assert (verdict.kid, verdict.alg, verdict.problem) == ("2026", "RS256", None)


def test_es256_token_verifies_with_the_issuers_key(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(ec_jwk(keys["ec-2026"], "ec")))
    assert verify_token(sign(keys["ec-2026"], "ES256", "ec") + "\n", issuer).problem is None


def test_a_token_without_kid_is_tried_against_every_key_of_its_type(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025"), rsa_jwk(keys["rsa-2026"], "2026")))
    assert verify_token(sign(keys["rsa-2025"], "RS256", None), issuer).problem is None


def test_a_token_signed_by_another_key_under_a_published_kid_does_not_verify(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "2026"), ec_jwk(keys["ec-2026"], "ec")))
    forged = verify_token(sign(keys["rsa-2025"], "RS256", "2026"), issuer)
    assert forged.problem == "its signature does not verify with the issuer's kid 2026"
    other_curve_key = ec.generate_private_key(ec.SECP256R1())
    assert verify_token(sign(other_curve_key, "ES256", "ec"), issuer).problem is not None


def test_a_token_whose_kid_is_not_published_is_named(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2025"], "2025")))
    assert verify_token(sign(keys["rsa-2026"], "RS256", "2026"), issuer).problem == (
        "the issuer does not publish kid 2026")
    assert verify_token(sign(keys["ec-2026"], "ES256", None), issuer).problem == (
        "the issuer does not publish any EC key")


def test_a_tampered_payload_does_not_verify(keys: dict[str, Any]):
    issuer = parse_jwks(jwks_of(rsa_jwk(keys["rsa-2026"], "2026")))
    header, _, signature = sign(keys["rsa-2026"], "RS256", "2026").split(".")
    tampered = f"{header}.{b64(json.dumps({'sub': 'admin'}).encode())}.{signature}"
    assert verify_token(tampered, issuer).problem is not None


@pytest.mark.parametrize(("token", "cause"), [
    ("abc", "not a compact JWS"),
    (f"{b64(b'not json')}.e30.sig", "its header is not JSON"),
    (f"{b64(b'[1]')}.e30.sig", "its header is not a JSON object"),
    (f"{b64(json.dumps({'alg': 'HS256'}).encode())}.e30.sig", "alg 'HS256' is not supported (RS256, ES256)"),
    (f"{b64(json.dumps({'alg': 'none'}).encode())}.e30.", "alg 'none' is not supported"),
])
def test_malformed_tokens_name_the_cause(token: str, cause: str):
    with pytest.raises(JoseError) as err:
        verify_token(token, [])
    assert str(err.value).startswith(cause)


def test_the_issuer_may_be_the_api_server_and_exactly_one_source_is_named():
    spec = SigningKeysCheck.model_validate({"issuer": {"apiServer": True},
                                            "clients": {"configMap": {"name": "jwks", "key": "keys.json"}}})
    assert spec.issuer.apiServer and spec.timeout == "5s"
    with pytest.raises(ValueError, match="needs exactly one of secret, configMap, url, apiServer: true"):
        SigningKeysCheck.model_validate({"issuer": {"apiServer": True, "url": "https://idp/jwks"},
                                         "clients": {"url": "https://idp/jwks"}})
    with pytest.raises(ValueError, match=r"\(got none\)"):
        SigningKeysCheck.model_validate({"issuer": {"apiServer": False}, "clients": {"url": "https://idp/jwks"}})
