"""``signingKeys``: the restored issuer publishes every key the clients hold, with the same material.

During an outage clients keep verifying tokens with the keys they cached. When the issuer comes
back from a backup that predates a rotation, it signs (and publishes) keys the clients never saw,
or lacks the one they use: every login fails while the issuer looks healthy. So:

- ``issuer``: the JWKS the restored issuer publishes, from a Secret key, a ConfigMap key, a URL,
  or ``apiServer: true`` for the API server's own service-account issuer (``/openid/v1/jwks``, read
  with the operator's credentials and TLS, so nothing needs to be configured for it);
- ``clients``: the JWKS the clients hold;
- every client key with a kid must be published under that kid with the same key material
  (RFC 7638 thumbprint, see :mod:`reentry.checks.jwks`); a client key without kid, by its material;
- with ``sampleToken``: a token (a compact JWS in a Secret key) verifies with the issuer's keys.

Fail (ThresholdMissed) names every missing and every mismatched kid. The issuer's Secret or
ConfigMap not existing is a Fail too (the restored issuer publishes nothing); the clients holding no
key is NoData. Keys and tokens are never shown: kids and short thumbprints only.
"""

from __future__ import annotations

from reentry import model
from reentry.checks import jwks, material
from reentry.checks.material import MaterialError
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects

#: Where the API server publishes its service-account issuer's keys (OIDC discovery).
API_SERVER_JWKS = "/openid/v1/jwks"


def threshold(spec: model.SigningKeysCheck) -> str:
    """What the check wants, in one line."""
    wanted = "every client kid published with the same key material"
    return wanted + ("; the sample token verifies" if spec.sampleToken else "")


def describe_issuer(source: model.JwksSource, namespace: str) -> str:
    """How messages name the issuer's JWKS."""
    if source.apiServer:
        return f"the API server's {API_SERVER_JWKS}"
    return material.describe_source(model.KeySource(secret=source.secret, configMap=source.configMap, url=source.url),
                                    namespace)


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.SigningKeysCheck) -> CheckResult:
    """Read both key sets (and the sample token), compare, verify."""
    wanted = threshold(spec)
    issuer_where = describe_issuer(spec.issuer, namespace)
    try:
        raw = await _published(objects, spec, namespace)
        if raw is None:
            return CheckResult(Outcome.FAIL, "the issuer publishes nothing", wanted,
                               f"the issuer's JWKS: {issuer_where} not found", FailureClass.NO_DATA)
        issuer = _parse(raw, f"the issuer's JWKS ({issuer_where})")
        clients_where = material.describe_source(spec.clients, namespace)
        clients = _parse(await material.read(objects, spec.clients, namespace, tls=spec.tls, timeout=spec.timeout),
                         f"the clients' JWKS ({clients_where})")
        token = None
        if spec.sampleToken is not None:
            token = (await material.read_key(objects, "Secret", spec.sampleToken, namespace)).decode(errors="replace")
    except MaterialError as err:
        return err.result(wanted)
    observed = f"issuer publishes {jwks.labels(issuer)}; clients hold {jwks.labels(clients)}"
    if not clients:
        return CheckResult(Outcome.NO_DATA, observed, wanted, f"the clients hold no keys ({clients_where})",
                           FailureClass.NO_DATA)
    drift = jwks.compare(issuer, clients)
    problems = [drift.describe()] if not drift.ok else []
    if token is not None:
        assert spec.sampleToken is not None
        try:
            verdict = jwks.verify_token(token, issuer)
        except jwks.JoseError as err:
            return material.invalid(f"the sample token in Secret {spec.sampleToken.name} key {spec.sampleToken.key} "
                                    f"is unusable: {err}").result(wanted, observed)
        signer = f"kid {verdict.kid}" if verdict.kid is not None else "no kid"
        observed += f"; sample token {verdict.alg} {signer}" + (" verifies" if verdict.problem is None else "")
        if verdict.problem is not None:
            problems.append(f"the sample token ({verdict.alg}, {signer}) does not verify: {verdict.problem}")
    if problems:
        return CheckResult(Outcome.FAIL, observed, wanted, "; ".join(problems), FailureClass.THRESHOLD_MISSED)
    return CheckResult(Outcome.PASS, observed, wanted)


async def _published(objects: Objects, spec: model.SigningKeysCheck, namespace: str) -> bytes | None:
    """The issuer's JWKS as published; None when its Secret or ConfigMap does not exist."""
    source = spec.issuer
    if source.apiServer:
        return await material.fetch_from_api_server(objects, API_SERVER_JWKS, spec.timeout)
    if source.url is not None:
        return await material.fetch(objects, source.url, namespace, tls=spec.tls, timeout=spec.timeout)
    kind, ref = ("Secret", source.secret) if source.secret is not None else ("ConfigMap", source.configMap)
    assert ref is not None  # JwksSource holds exactly one
    found = await material.load(objects, kind, ref.name, ref.namespace or namespace)
    return None if found is None else found.value(ref.key)


def _parse(raw: bytes, what: str) -> list[jwks.Key]:
    try:
        return jwks.parse_jwks(raw)
    except jwks.JoseError as err:
        raise material.invalid(f"{what} is unusable: {err}") from err
