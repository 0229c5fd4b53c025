"""``secretFreshness``: the restored Secret is not older than what the clients were given meanwhile.

While the system was down, its clients may have been handed newer material (a rotated key, a
renewed credential) by a fallback. A restore from backup brings back what was current before:
the clients then hold material the restored system does not know. The restored Secret
(``secret``) is compared with the Secret that keeps what the clients were given (``clients``), by
one of three rules:

- **Version** (default): both Secrets carry the annotation ``versionAnnotation``
  (``reentry.dev/version``). Both values numbers: compared as numbers; both RFC 3339 timestamps:
  compared as times; anything else, or the annotation missing, is InvalidConfiguration. Passes when
  the restored version is the same or higher.
- **KeyId**: the key id of the material under ``key`` (in the clients' Secret under
  ``clients.key``, by default the same key). The material may be a JWK (its ``kid``), a JWKS (the
  first key is the current one, the others older ones still accepted), a PEM public or private key
  (the kid Kubernetes derives: base64url SHA-256 of the DER public key), or the bare key id as text.
  Passes when the clients' current kid is the restored current kid, or one the restored material
  still holds as older (then the restored Secret is the newer one). Otherwise the clients' is newer.
- **Fingerprint**: the SHA-256 of the two values (surrounding whitespace ignored) must be equal.
  Contents cannot be ordered, so a difference counts as the clients' being newer: the restored
  Secret does not hold what they were given.

Status names which side is newer. The restored Secret missing is a Fail (NoData); the clients'
Secret missing, or a key missing from either, is InvalidConfiguration. Values are never shown:
versions and key ids are, contents only as a short fingerprint.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from reentry import model
from reentry.checks import jwks, material
from reentry.checks.material import Material, MaterialError
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import FailureClass, FreshnessRule, Outcome
from reentry.objects import Objects

_BARE_KID = re.compile(r"[A-Za-z0-9._:/+=-]{1,256}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_SHOWN = 16  # hex characters of a content fingerprint in status


@dataclass(frozen=True)
class Verdict:
    """The comparison: passes or not, what was observed, and a message when it does not pass."""

    passes: bool
    observed: str
    message: str = ""


# ---- Version ------------------------------------------------------------------------------------


def order_versions(restored: str, clients: str) -> int:
    """-1, 0 or 1 as the restored version is older, the same or newer; :class:`ValueError` naming why not comparable.

    Both numbers: as numbers; else both RFC 3339 timestamps: as times.
    """
    try:
        ours, theirs = Decimal(restored.strip()), Decimal(clients.strip())
    except InvalidOperation:
        ours = theirs = Decimal("NaN")
    if ours.is_finite() and theirs.is_finite():
        return (ours > theirs) - (ours < theirs)
    if _RFC3339.fullmatch(restored.strip()) and _RFC3339.fullmatch(clients.strip()):
        since, until = _time(restored), _time(clients)
        return (since > until) - (since < until)
    raise ValueError(f"versions {restored!r} (restored) and {clients!r} (clients) are neither both numbers nor "
                     "both RFC 3339 timestamps")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))


def compare_versions(restored: str, clients: str) -> Verdict:
    """Rule Version: passes when the restored version is the same or newer."""
    order = order_versions(restored, clients)
    if order == 0:
        return Verdict(True, f"both at version {restored}")
    if order > 0:
        return Verdict(True, f"restored {restored}, clients {clients}: the restored Secret is newer")
    return Verdict(False, f"restored {restored}, clients {clients}: the clients' material is newer",
                   f"the clients were given version {clients}, newer than the restored {restored}")


# ---- KeyId --------------------------------------------------------------------------------------


def key_ids(raw: bytes) -> list[str]:
    """The key ids of some key material, the current one first (see the module's rules)."""
    text = raw.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            keys = jwks.parse_jwks(text.encode())
        except jwks.JoseError as err:
            raise ValueError(f"no usable JWK or JWKS ({err})") from err
        kids = [k.kid for k in keys if k.kid]
        if not kids:
            raise ValueError("a JWK or JWKS without any kid")
        return kids
    if text.startswith("-----BEGIN"):
        try:
            key = jwks.key_from_pem(text.encode())
        except jwks.JoseError as err:
            raise ValueError(str(err)) from err
        assert key.kid is not None  # key_from_pem always derives one
        return [key.kid]
    if _BARE_KID.fullmatch(text):
        return [text]
    raise ValueError("neither a JWK, a JWKS, a PEM key nor a bare key id")


def compare_key_ids(restored: list[str], clients: list[str]) -> Verdict:
    """Rule KeyId: the clients' current kid is the restored current one, or an older one it still holds."""
    current, theirs = restored[0], clients[0]
    if theirs == current:
        return Verdict(True, f"both at kid {current}")
    if theirs in restored:
        return Verdict(True, f"restored kid {current}, clients kid {theirs}: the restored Secret is newer "
                             "(it still holds the clients' kid)")
    held = ", ".join(restored)
    return Verdict(False, f"restored kid {current}, clients kid {theirs}: the clients' material is newer",
                   f"the clients were given kid {theirs}, which the restored Secret does not hold (it has {held})")


# ---- Fingerprint --------------------------------------------------------------------------------


def content_fingerprint(raw: bytes) -> str:
    """``sha256:<hex>`` of the value without surrounding whitespace (a trailing newline is no new content)."""
    return "sha256:" + hashlib.sha256(raw.strip()).hexdigest()


def compare_fingerprints(restored: bytes, clients: bytes) -> Verdict:
    """Rule Fingerprint: equal contents; a difference counts as the clients' being newer."""
    ours, theirs = content_fingerprint(restored)[:7 + _SHOWN], content_fingerprint(clients)[:7 + _SHOWN]
    if content_fingerprint(restored) == content_fingerprint(clients):
        return Verdict(True, f"same content {ours}")
    return Verdict(False, f"restored {ours}, clients {theirs}: the clients' material is newer",
                   f"the restored content ({ours}) is not what the clients were given ({theirs})")


# ---- the probe ----------------------------------------------------------------------------------


def threshold(spec: model.SecretFreshnessCheck) -> str:
    """What the check wants, in one line."""
    if spec.rule == FreshnessRule.VERSION:
        return f"restored {spec.versionAnnotation} >= the clients'"
    if spec.rule == FreshnessRule.KEY_ID:
        return "the clients' kid is the restored one (or an older one it holds)"
    return "restored content = the clients'"


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.SecretFreshnessCheck) -> CheckResult:
    """Read both Secrets, compare them by the rule, name the newer side."""
    wanted = threshold(spec)
    ns = spec.namespace or namespace
    try:
        restored = await material.load(objects, "Secret", spec.secret, ns)
        if restored is None:
            return CheckResult(Outcome.FAIL, None, wanted, f"{material.where('Secret', spec.secret, ns)} not found",
                               FailureClass.NO_DATA)
        clients = await material.require(objects, "Secret", spec.clients.name, spec.clients.namespace or namespace)
        verdict = _compare(spec, restored, clients)
    except MaterialError as err:
        return err.result(wanted)
    if verdict.passes:
        return CheckResult(Outcome.PASS, verdict.observed, wanted)
    return CheckResult(Outcome.FAIL, verdict.observed, wanted, f"{restored.what}: {verdict.message}",
                       FailureClass.THRESHOLD_MISSED)


def _compare(spec: model.SecretFreshnessCheck, restored: Material, clients: Material) -> Verdict:
    if spec.rule == FreshnessRule.VERSION:
        versions = [_annotation(s, spec.versionAnnotation) for s in (restored, clients)]
        try:
            return compare_versions(*versions)
        except ValueError as err:
            raise material.invalid(f"rule Version: {err}") from err
    assert spec.key is not None  # the model demands it for the content rules
    ours, theirs = restored.value(spec.key), clients.value(spec.clients.key or spec.key)
    if spec.rule == FreshnessRule.FINGERPRINT:
        return compare_fingerprints(ours, theirs)
    return compare_key_ids(_key_ids(restored, spec.key, ours), _key_ids(clients, spec.clients.key or spec.key, theirs))


def _annotation(secret: Material, name: str) -> str:
    if name not in secret.annotations:
        raise material.invalid(f"rule Version: {secret.what} has no annotation {name}")
    return secret.annotations[name]


def _key_ids(secret: Material, key: str, raw: bytes) -> list[str]:
    try:
        return key_ids(raw)
    except ValueError as err:
        raise material.invalid(f"rule KeyId: {secret.what} key {key} holds {err}") from err

