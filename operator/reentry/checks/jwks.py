"""JSON Web Keys for the identity checks: parse a JWKS, compare keys, verify a token. Pure, no I/O.

Two keys are *the same key material* when their RFC 7638 thumbprints are equal: the SHA-256 of the
public members only (``e``, ``n`` for RSA; ``crv``, ``x``, ``y`` for EC; ``crv``, ``x`` for OKP;
``k`` for oct), with the numbers normalised first (no leading zero bytes for RSA, the curve's
fixed length for EC), so two encodings of one key compare equal. Private members (``d``, ...) are
never read, and what reaches a message is a key id or a thumbprint, never key material.

A token is verified as a compact JWS signed with RS256 (RSASSA-PKCS1-v1_5, SHA-256) or ES256
(ECDSA P-256, SHA-256): its signature only. It stands as evidence that the issuer's key signs what
the clients accept; its expiry and claims are not judged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

#: The algorithms a sample token may use, and the key type each needs.
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48), "P-521": (ec.SECP521R1(), 66)}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_SHOWN = 12  # characters of a thumbprint in messages: enough to tell keys apart


class JoseError(ValueError):
    """Key material or a token that cannot be used as it is (the message names why, never the value)."""


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Key:
    """One JWK as far as the checks need it."""

    kid: str | None
    kty: str
    thumbprint: str
    """RFC 7638 thumbprint (base64url SHA-256 of the canonical public members)."""
    public_key: PublicKey | None = None
    """For RSA and EC keys, to verify signatures."""

    @property
    def label(self) -> str:
        """How messages name the key: ``kid abc`` or, without a kid, ``key sha256:1a2b...``."""
        return f"kid {self.kid}" if self.kid is not None else f"key {self.short}"

    @property
    def short(self) -> str:
        return f"sha256:{self.thumbprint[:_SHOWN]}"


def b64url_decode(text: str) -> bytes:
    """base64url without padding (RFC 7515); :class:`JoseError` when it is not."""
    if not isinstance(text, str):
        raise JoseError("expected a base64url string")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as err:
        raise JoseError("not base64url") from err


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(text: str, member: str) -> int:
    try:
        return int.from_bytes(b64url_decode(text), "big")
    except JoseError as err:
        raise JoseError(f"member {member} is not base64url") from err


def _minimal(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def parse_jwk(jwk: Any) -> Key:
    """One JWK object as a :class:`Key`."""
    if not isinstance(jwk, dict):
        raise JoseError("a key is not a JSON object")
    kid = jwk.get("kid")
    name = f"kid {kid}" if kid is not None else "a key without kid"
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        raise JoseError(f"{name}: member kty is missing")
    try:
        for member in {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x"), "oct": ("k",)}.get(kty, ()):
            if member not in jwk:
                raise JoseError(f"member {member} is missing")
        if kty == "RSA":
            n, e = _uint(jwk["n"], "n"), _uint(jwk["e"], "e")
            members = {"e": b64url_encode(_minimal(e)), "kty": "RSA", "n": b64url_encode(_minimal(n))}
            return Key(kid, kty, _thumbprint(members), _rsa_key(n, e))
        if kty == "EC":
            if jwk["crv"] not in _CURVES:
                raise JoseError(f"curve {jwk['crv']} is not supported ({', '.join(_CURVES)})")
            curve, size = _CURVES[jwk["crv"]]
            x, y = _uint(jwk["x"], "x"), _uint(jwk["y"], "y")
            members = {"crv": jwk["crv"], "kty": "EC", "x": b64url_encode(x.to_bytes(size, "big")),
                       "y": b64url_encode(y.to_bytes(size, "big"))}
            return Key(kid, kty, _thumbprint(members), _ec_key(x, y, curve))
        if kty == "OKP":
            return Key(kid, kty, _thumbprint({"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}))
        if kty == "oct":
            return Key(kid, kty, _thumbprint({"k": jwk["k"], "kty": "oct"}))
    except (JoseError, OverflowError) as err:
        raise JoseError(f"{name}: {err}") from err
    raise JoseError(f"{name}: key type {kty!r} is not supported (RSA, EC, OKP, oct)")


def parse_jwks(raw: bytes) -> list[Key]:
    """A JWKS (``{"keys": [...]}``) or a single JWK, as keys in the order given."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise JoseError(f"not JSON ({err.__class__.__name__})") from err
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        return [parse_jwk(k) for k in document["keys"]]
    if isinstance(document, dict) and "kty" in document:
        return [parse_jwk(document)]
    raise JoseError('neither a JWKS ({"keys": [...]}) nor a JWK')


def kubernetes_key_id(public_key: PublicKey) -> str:
    """The kid Kubernetes gives a service-account signing key: base64url SHA-256 of the DER public key."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url_encode(hashlib.sha256(der).digest())


def key_from_pem(pem: bytes) -> Key:
    """A PEM public or private key as a :class:`Key`, its kid derived as Kubernetes does."""
    try:
        public: Any = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            public = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError) as err:
            raise JoseError("not a PEM key (or an encrypted one)") from err
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        members = {"e": b64url_encode(_minimal(numbers.e)), "kty": "RSA", "n": b64url_encode(_minimal(numbers.n))}
    elif isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name in _CURVE_NAMES:
        crv = _CURVE_NAMES[public.curve.name]
        size = _CURVES[crv][1]
        point = public.public_numbers()
        members = {"crv": crv, "kty": "EC", "x": b64url_encode(point.x.to_bytes(size, "big")),
                   "y": b64url_encode(point.y.to_bytes(size, "big"))}
    else:
        raise JoseError(f"a {type(public).__name__} is not supported (RSA, EC P-256/384/521)")
    return Key(kubernetes_key_id(public), members["kty"], _thumbprint(members), public)


def _thumbprint(members: dict[str, str]) -> str:
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def _rsa_key(n: int, e: int) -> rsa.RSAPublicKey:
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as err:
        raise JoseError(f"not a valid RSA public key ({err})") from err


def _ec_key(x: int, y: int, curve: ec.EllipticCurve) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    except ValueError as err:
        raise JoseError("the point is not on the curve") from err


# ---- comparing what the clients hold with what the issuer publishes -----------------------------


@dataclass(frozen=True)
class Mismatch:
    """A kid both sides know, with different key material."""

    kid: str
    issuer: str
    clients: str


@dataclass(frozen=True)
class Drift:
    """How the clients' keys stand against the issuer's."""

    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    """Labels (``kid x`` / ``key sha256:...``) of client keys the issuer does not publish."""
    mismatched: tuple[Mismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched

    def describe(self) -> str:
        """One line naming every missing and mismatched key, e.g. for a status message."""
        parts = []
        if self.missing:
            parts.append(f"the issuer does not publish {', '.join(self.missing)} (held by the clients)")
        parts += [f"kid {m.kid} differs: the issuer publishes {m.issuer}, the clients hold {m.clients}"
                  for m in self.mismatched]
        return "; ".join(parts)


def compare(issuer: Sequence[Key], clients: Sequence[Key]) -> Drift:
    """Every client key must be published: a kid with the same material, a key without kid by its material."""
    by_kid: dict[str, list[Key]] = {}
    for key in issuer:
        if key.kid is not None:
            by_kid.setdefault(key.kid, []).append(key)
    published = {key.thumbprint for key in issuer}
    matched: list[str] = []
    missing: list[str] = []
    mismatched: list[Mismatch] = []
    for key in clients:
        if key.kid is None:
            (matched if key.thumbprint in published else missing).append(key.label)
        elif key.kid not in by_kid:
            missing.append(key.label)
        elif any(k.thumbprint == key.thumbprint for k in by_kid[key.kid]):
            matched.append(key.label)
        else:
            mismatched.append(Mismatch(key.kid, by_kid[key.kid][0].short, key.short))
    return Drift(tuple(matched), tuple(missing), tuple(mismatched))


def labels(keys: Sequence[Key]) -> str:
    """``kid a, kid b`` or ``no keys``."""
    return ", ".join(k.label for k in keys) or "no keys"


# ---- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenVerdict:
    """What verifying a token found: its header's kid and alg, and the problem when it does not verify."""

    kid: str | None
    alg: str
    problem: str | None = None


def verify_token(token: str, keys: Sequence[Key]) -> TokenVerdict:
    """Verify a compact JWS against ``keys`` (by its kid when it names one); :class:`JoseError` when malformed."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JoseError("not a compact JWS (three base64url parts separated by dots)")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise JoseError("its header is not JSON") from err
    if not isinstance(header, dict):
        raise JoseError("its header is not a JSON object")
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise JoseError(f"alg {alg!r} is not supported ({', '.join(ALGORITHMS)})")
    signature = b64url_decode(parts[2])
    signed = f"{parts[0]}.{parts[1]}".encode()
    candidates = [k for k in keys if k.kty == ALGORITHMS[alg] and k.public_key is not None
                  and (kid is None or k.kid == kid)]
    if not candidates:
        what = f"kid {kid}" if kid is not None else f"any {ALGORITHMS[alg]} key"
        return TokenVerdict(kid, alg, f"the issuer does not publish {what}")
    if any(_signature_valid(alg, key.public_key, signature, signed) for key in candidates):
        return TokenVerdict(kid, alg)
    return TokenVerdict(kid, alg, f"its signature does not verify with the issuer's {labels(candidates)}")


def _signature_valid(alg: str, key: PublicKey | None, signature: bytes, signed: bytes) -> bool:
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
            if len(signature) != 64:  # JWS carries r || s, 32 bytes each, not DER
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
