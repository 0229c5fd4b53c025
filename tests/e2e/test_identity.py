"""Identity checks against the real sandbox: its TokenRequest/TokenReview, its service-account issuer,
real Secrets and ConfigMaps, a real HTTPS JWKS endpoint; and the identity-drift drill.

The probes are called as the engine calls them (one async client per step); the drill runs the
operator.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from reentry import checks
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import Check, FailureClass, Outcome
from reentry.objects import Objects
from tests.e2e import story
from tests.e2e.conftest import Cluster, Operator, apply_docs
from tests.e2e.story import (
    by_name,
    gated_service,
    given_running_pods,
    recovery_plan,
    released_count,
    service_entry,
    stays,
    wait_phase,
    wait_status,
)

PLAN = "failback"


# ---- the engine's side of the calls -------------------------------------------------------------


def probe(cluster: Cluster, namespace: str, **kind: Any) -> CheckResult:
    return story.probe(cluster, namespace, "identity", **kind)


def outcome(result: CheckResult) -> tuple[Outcome, FailureClass | None]:
    return result.outcome, result.failure


# ---- material: secrets, config maps, certificates, keys ----------------------------------------


def secret(name: str, data: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "annotations": annotations or {}},
            "stringData": data}


def config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()


def issue(cn: str, by: Issued | None = None, *, ca: bool = False, dns: tuple[str, ...] = (),
          valid: tuple[timedelta, timedelta] = (timedelta(days=-1), timedelta(days=90))) -> Issued:
    """A certificate from ``by`` (self-signed without), valid from now + valid[0] to now + valid[1]."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(by.cert.subject if by else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + valid[0]).not_valid_after(now + valid[1])
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    if dns:
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign((by or Issued(None, key)).key, hashes.SHA256()), key)  # type: ignore[arg-type]


def tls_secret(name: str, leaf: Issued, ca: Issued | None) -> dict[str, Any]:
    data = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, **({"ca.crt": ca.cert_pem} if ca else {})}
    return {**secret(name, data), "type": "kubernetes.io/tls"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64(numbers.e.to_bytes(3, "big"))}


def jwks(*keys: dict[str, Any]) -> str:
    return json.dumps({"keys": list(keys)})


def api_server_jwks(cluster: Cluster) -> dict[str, Any]:
    """The sandbox's service-account issuer keys, as the API server publishes them."""
    document: dict[str, Any] = json.loads(cluster.kubectl("get", "--raw", "/openid/v1/jwks").stdout)
    return document


def real_token(cluster: Cluster, namespace: str, account: str, audience: str) -> str:
    """A token the sandbox's issuer signs, from a real TokenRequest."""
    return cluster.kubectl("create", "token", account, "--audience", audience, namespace=namespace).stdout.strip()


def header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# ---- a real HTTPS JWKS endpoint on loopback -----------------------------------------------------


@dataclass
class JwksEndpoint:
    """What an identity provider publishes at /jwks; ``ca_pem`` is the CA its serving certificate chains to."""

    port: int
    ca_pem: str
    document: str = '{"keys": []}'
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/jwks"


@contextmanager
def jwks_endpoint(tmp: Path) -> Iterator[JwksEndpoint]:
    """An HTTPS server that serves ``endpoint.document`` at /jwks (404 elsewhere) until the test ends."""
    ca = issue("IdP Test CA", ca=True)
    serving = issue("idp.local", ca, dns=("idp.local", "localhost"))
    (tmp / "idp.crt").write_text(serving.cert_pem + ca.cert_pem)
    (tmp / "idp.key").write_text(serving.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "idp.crt", tmp / "idp.key")
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    endpoint = JwksEndpoint(port, ca.cert_pem)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.requests.append(self.path)
            found = self.path == "/jwks"
            body = endpoint.document.encode() if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- serviceAccountToken ------------------------------------------------------------------------


def test_service_account_token_is_issued_and_reviewed(cluster: Cluster, namespace: str):
    # Given a restored ServiceAccount
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "orders"}}])

    # Then a token for it, asked for the vault audience, is issued and the API server authenticates it
    result = probe(cluster, namespace, serviceAccountToken={"serviceAccount": "orders", "audiences": ["vault"]})
    assert result.outcome == Outcome.PASS, result.message
    assert result.observed == f"authenticated as system:serviceaccount:{namespace}:orders, audiences vault"
    assert result.threshold == "token issued and authenticated, audiences vault"

    # And with no audience named, the API server's own audience is used
    default = probe(cluster, namespace, serviceAccountToken={"serviceAccount": "orders"})
    assert default.outcome == Outcome.PASS and "audiences https://kubernetes.default.svc" in (default.observed or "")


def test_service_account_token_names_the_step_that_failed(cluster: Cluster, namespace: str):
    # Given no ServiceAccount "payments" was restored
    missing = probe(cluster, namespace, serviceAccountToken={"serviceAccount": "payments"})
    # Then the first step, the account, is named
    assert outcome(missing) == (Outcome.FAIL, FailureClass.NO_DATA)
    assert missing.message == f"account: no ServiceAccount payments in namespace {namespace}"

    # And a request the API server refuses names issuance: a lifetime beyond the 2^32 s it validates
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "orders"}}])
    refused = probe(cluster, namespace, serviceAccountToken={"serviceAccount": "orders",
                                                             "expirationSeconds": 2**32 + 1})
    assert outcome(refused) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION), refused.message
    assert (refused.message or "").startswith(f"issuance: refused for ServiceAccount orders in namespace {namespace}")


# ---- certificate --------------------------------------------------------------------------------


def test_certificate_from_a_restored_tls_secret(cluster: Cluster, namespace: str):
    # Given the shop's CA, a restored TLS Secret for orders, and the CA bundle in a ConfigMap too
    ca = issue("Shop CA", ca=True, valid=(timedelta(days=-30), timedelta(days=3650)))
    orders = issue("orders", ca, dns=("orders.shop.svc",))
    apply_docs(cluster, namespace, [tls_secret("orders-tls", orders, ca),
                                    config_map("shop-ca", {"ca.crt": ca.cert_pem})])

    # Then it passes, showing subject, issuer, expiry and fingerprint but no key material
    spec = {"secret": "orders-tls", "minValidity": "720h", "dnsNames": ["orders.shop.svc"]}
    result = probe(cluster, namespace, certificate=spec)
    assert result.outcome == Outcome.PASS, result.message
    fingerprint = orders.cert.fingerprint(hashes.SHA256()).hex()
    assert (result.observed or "").startswith("subject CN=orders, issuer CN=Shop CA, expires ")
    assert (result.observed or "").endswith(f"sha256 {fingerprint}")
    assert "PRIVATE" not in f"{result.observed}{result.message}"

    # And the CA bundle may come from a ConfigMap key
    from_config_map = probe(cluster, namespace, certificate={
        **spec, "caBundle": {"configMap": {"name": "shop-ca", "key": "ca.crt"}}})
    assert from_config_map.outcome == Outcome.PASS, from_config_map.message

    # And asking for a name it lacks and more validity than it has fails, naming both
    wanting = probe(cluster, namespace, certificate={"secret": "orders-tls", "minValidity": "2400h",
                                                      "dnsNames": ["payments.shop.svc"]})
    assert outcome(wanting) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert "wanted at least 2400h" in (wanting.message or "")
    assert "subject alternative names lack DNS:payments.shop.svc" in (wanting.message or "")


def test_an_expired_certificate_misses_the_threshold_with_its_expiry(cluster: Cluster, namespace: str):
    # Given a restored vault that brought back last year's certificate
    ca = issue("Shop CA", ca=True, valid=(timedelta(days=-800), timedelta(days=3650)))
    old = issue("orders", ca, valid=(timedelta(days=-400), timedelta(days=-35)))
    apply_docs(cluster, namespace, [tls_secret("orders-tls", old, ca)])

    result = probe(cluster, namespace, certificate={"secret": "orders-tls", "minValidity": "24h"})
    expiry = old.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert outcome(result) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert result.message == f"Secret orders-tls in namespace {namespace}: expired at {expiry}"
    assert f"expires {expiry}" in (result.observed or "") and result.threshold == (
        "key matches, chain verifies, valid >= 24h left")


def test_certificate_configuration_errors_and_absence_are_named(cluster: Cluster, namespace: str):
    ca = issue("Shop CA", ca=True)
    orders = issue("orders", ca)
    no_key = secret("half-tls", {"tls.crt": orders.cert_pem, "ca.crt": ca.cert_pem})
    no_ca = secret("no-ca-tls", {"tls.crt": orders.cert_pem, "tls.key": orders.key_pem})
    garbage = secret("garbage-tls", {"tls.crt": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                     "tls.key": orders.key_pem, "ca.crt": ca.cert_pem})
    apply_docs(cluster, namespace, [no_key, no_ca, garbage])

    # A Secret that was not restored: Fail, NoData
    absent = probe(cluster, namespace, certificate={"secret": "orders-tls"})
    assert outcome(absent) == (Outcome.FAIL, FailureClass.NO_DATA)
    assert absent.message == f"Secret orders-tls in namespace {namespace} not found"
    # A missing key: InvalidConfiguration, naming the key and the keys there are
    half = probe(cluster, namespace, certificate={"secret": "half-tls"})
    assert outcome(half) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert half.message == f"Secret half-tls in namespace {namespace} has no key tls.key (keys: ca.crt, tls.crt)"
    # No CA to verify against, and a certificate that does not parse
    assert probe(cluster, namespace, certificate={"secret": "no-ca-tls"}).message == (
        f"Secret no-ca-tls in namespace {namespace} has no ca.crt and no caBundle is given: nothing to verify the "
        "chain against")
    bad = probe(cluster, namespace, certificate={"secret": "garbage-tls"})
    assert outcome(bad) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert (bad.message or "").startswith(f"Secret garbage-tls in namespace {namespace}: tls.crt is not a PEM")
    # A CA bundle from a ConfigMap that does not exist
    nowhere = probe(cluster, namespace, certificate={"secret": "no-ca-tls",
                                                      "caBundle": {"configMap": {"name": "ca", "key": "ca.crt"}}})
    assert (outcome(nowhere), nowhere.message) == ((Outcome.ERROR, FailureClass.INVALID_CONFIGURATION),
                                                   f"ConfigMap ca in namespace {namespace} not found")


def test_mtls_pairing_between_two_restored_secrets(cluster: Cluster, namespace: str):
    # Given a server under the shop's CA and a client under the partner's CA, each trusting only its own
    shop_ca, partner_ca = issue("Shop CA", ca=True), issue("Partner CA", ca=True)
    server, client = issue("orders", shop_ca, dns=("orders.shop.svc",)), issue("checkout", partner_ca)
    apply_docs(cluster, namespace, [tls_secret("orders-tls", server, shop_ca),
                                    tls_secret("checkout-tls", client, partner_ca)])
    spec = {"secret": "orders-tls", "mtlsPeer": {"secret": "checkout-tls"}}

    # Then the pairing fails in both directions, each named
    unpaired = probe(cluster, namespace, certificate=spec)
    assert outcome(unpaired) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert "the peer's certificate does not verify against this side's CA bundle" in (unpaired.message or "")
    assert "this certificate does not verify against the peer's CA bundle" in (unpaired.message or "")

    # When both sides trust both CAs (bundles in ConfigMaps), the pair passes
    both = shop_ca.cert_pem + partner_ca.cert_pem
    apply_docs(cluster, namespace, [config_map("trust", {"bundle.pem": both})])
    bundle = {"configMap": {"name": "trust", "key": "bundle.pem"}}
    paired = probe(cluster, namespace, certificate={"secret": "orders-tls", "caBundle": bundle,
                                                    "mtlsPeer": {"secret": "checkout-tls", "caBundle": bundle}})
    assert paired.outcome == Outcome.PASS, paired.message


# ---- signingKeys --------------------------------------------------------------------------------


def test_signing_keys_against_the_sandboxs_own_issuer_and_a_real_token(cluster: Cluster, namespace: str):
    # Given the clients cached the issuer's keys, and hold a token it issued
    published = api_server_jwks(cluster)
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "orders"}}])
    token = real_token(cluster, namespace, "orders", "vault")
    apply_docs(cluster, namespace, [config_map("client-jwks", {"keys.json": json.dumps(published)}),
                                    secret("sample", {"token": token})])
    kids = [k["kid"] for k in published["keys"]]
    assert header(token)["kid"] in kids and header(token)["alg"] == "RS256"

    # Then every kid the clients hold is published by the API server's issuer, and the token verifies
    spec = {"issuer": {"apiServer": True}, "clients": {"configMap": {"name": "client-jwks", "key": "keys.json"}},
            "sampleToken": {"name": "sample", "key": "token"}}
    result = probe(cluster, namespace, signingKeys=spec)
    assert result.outcome == Outcome.PASS, result.message
    assert result.observed == (f"issuer publishes kid {kids[0]}; clients hold kid {kids[0]}; "
                               f"sample token RS256 kid {kids[0]} verifies")
    assert token not in f"{result.observed}{result.message}"

    # And a kid the clients hold that the issuer does not publish is named
    rotated = rsa_jwk(rsa.generate_private_key(65537, 2048), "rotated-at-dr-site")
    apply_docs(cluster, namespace, [config_map("client-jwks", {"keys.json": jwks(*published["keys"], rotated)})])
    drift = probe(cluster, namespace, signingKeys=spec)
    assert outcome(drift) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert drift.message == "the issuer does not publish kid rotated-at-dr-site (held by the clients)"

    # And a token signed elsewhere under the issuer's kid does not verify
    forged = token.rsplit(".", 1)[0] + "." + b64(b"\x00" * 256)
    apply_docs(cluster, namespace, [config_map("client-jwks", {"keys.json": json.dumps(published)}),
                                    secret("sample", {"token": forged})])
    bad = probe(cluster, namespace, signingKeys=spec)
    assert outcome(bad) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert bad.message == (f"the sample token (RS256, kid {kids[0]}) does not verify: its signature does not verify "
                           f"with the issuer's kid {kids[0]}")


def test_signing_keys_over_https_and_the_failure_classes_of_fetching(cluster: Cluster, namespace: str,
                                                                     tmp_path: Path):
    key = rsa.generate_private_key(65537, 2048)
    with jwks_endpoint(tmp_path) as idp:
        idp.document = jwks(rsa_jwk(key, "k1"))
        apply_docs(cluster, namespace, [config_map("idp-ca", {"ca.crt": idp.ca_pem}),
                                        config_map("client-jwks", {"keys.json": jwks(rsa_jwk(key, "k1"))})])
        clients = {"configMap": {"name": "client-jwks", "key": "keys.json"}}
        tls = {"caBundle": {"configMap": {"name": "idp-ca", "key": "ca.crt"}}}

        # A real HTTPS endpoint, verified with the CA from a ConfigMap: passes
        ok = probe(cluster, namespace, signingKeys={"issuer": {"url": idp.url}, "clients": clients, "tls": tls})
        assert ok.outcome == Outcome.PASS, ok.message

        # Without the CA the server's certificate does not verify: Unreachable, saying so
        untrusted = probe(cluster, namespace, signingKeys={"issuer": {"url": idp.url}, "clients": clients})
        assert outcome(untrusted) == (Outcome.ERROR, FailureClass.UNREACHABLE)
        assert "TLS: the server's certificate does not verify" in (untrusted.message or "")

        # A wrong path: the server answers 404, the plan's URL is wrong
        wrong = probe(cluster, namespace, signingKeys={"issuer": {"url": idp.url + "s?token=x"}, "clients": clients,
                                                       "tls": tls})
        assert (outcome(wrong), wrong.message) == ((Outcome.ERROR, FailureClass.INVALID_CONFIGURATION),
                                                   f"{idp.url}s answered 404 Not Found")

        # Nothing listening: Unreachable
        down = probe(cluster, namespace, signingKeys={"issuer": {"url": f"https://127.0.0.1:{closed_port()}/jwks"},
                                                      "clients": clients, "timeout": "2s"})
        assert outcome(down) == (Outcome.ERROR, FailureClass.UNREACHABLE)

    # The API server's JWKS without credentials: the anonymous request is refused, Unauthorized
    server = KubeConfig.from_file(cluster.kubeconfig).get().cluster.server
    anonymous = probe(cluster, namespace, signingKeys={
        "issuer": {"url": f"{server}/openid/v1/jwks"}, "clients": clients, "tls": {"insecureSkipVerify": True}})
    assert outcome(anonymous) == (Outcome.ERROR, FailureClass.UNAUTHORIZED), anonymous.message

    # The clients' JWKS in a ConfigMap key that does not exist: InvalidConfiguration naming it
    no_key = probe(cluster, namespace, signingKeys={"issuer": {"apiServer": True},
                                                    "clients": {"configMap": {"name": "client-jwks", "key": "jwks"}}})
    assert (outcome(no_key), no_key.message) == ((Outcome.ERROR, FailureClass.INVALID_CONFIGURATION),
                                                 f"ConfigMap client-jwks in namespace {namespace} has no key jwks "
                                                 "(keys: keys.json)")

    # Clients that hold no keys: NoData
    apply_docs(cluster, namespace, [config_map("empty-jwks", {"keys.json": '{"keys": []}'})])
    empty_jwks = {"configMap": {"name": "empty-jwks", "key": "keys.json"}}
    empty = probe(cluster, namespace, signingKeys={"issuer": {"apiServer": True}, "clients": empty_jwks})
    assert outcome(empty) == (Outcome.NO_DATA, FailureClass.NO_DATA)


def test_unauthorized_when_the_operator_may_not_read_the_secret(cluster: Cluster, namespace: str):
    # Given an identity the cluster knows but grants nothing (a ServiceAccount without RoleBindings)
    apply_docs(cluster, namespace, [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}},
                                    secret("signing-key", {"kid": "k1"}, {"reentry.dev/version": "1"})])
    token = real_token(cluster, namespace, "nobody", "https://kubernetes.default.svc.cluster.local")
    config = KubeConfig.from_file(cluster.kubeconfig)
    server = config.get().cluster.server
    restricted = KubeConfig.from_dict({
        "apiVersion": "v1", "kind": "Config", "current-context": "nobody",
        "clusters": [{"name": "sandbox", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {"cluster": "sandbox", "user": "nobody"}}]})
    check = Check.model_validate({"name": "fresh", "secretFreshness": {"secret": "signing-key",
                                                                       "clients": {"name": "signing-key"}}})

    async def main() -> CheckResult:
        client = AsyncClient(config=restricted)
        try:
            return await checks.probe(Kube(client), Objects(client), namespace, check)
        finally:
            await client.close()

    result = asyncio.run(main())
    assert outcome(result) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)
    assert (result.message or "").startswith(f"reading Secret signing-key in namespace {namespace}: the operator may "
                                             "not (403 Forbidden")


# ---- secretFreshness ----------------------------------------------------------------------------


def test_secret_freshness_names_the_newer_side(cluster: Cluster, namespace: str):
    # Given the restored signing key at version 7, while the clients were given version 8 during the outage
    apply_docs(cluster, namespace, [secret("signing-key", {"kid": "k7"}, {"reentry.dev/version": "7"}),
                                    secret("client-cache", {"kid": "k8"}, {"reentry.dev/version": "8"})])
    spec = {"secret": "signing-key", "clients": {"name": "client-cache"}}
    stale = probe(cluster, namespace, secretFreshness=spec)
    assert outcome(stale) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED)
    assert stale.observed == "restored 7, clients 8: the clients' material is newer"
    assert stale.message == (f"Secret signing-key in namespace {namespace}: the clients were given version 8, newer "
                             "than the restored 7")
    by_kid = probe(cluster, namespace, secretFreshness={**spec, "rule": "KeyId", "key": "kid"})
    assert by_kid.observed == "restored kid k7, clients kid k8: the clients' material is newer"
    by_content = probe(cluster, namespace, secretFreshness={**spec, "rule": "Fingerprint", "key": "kid"})
    assert outcome(by_content) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED) and "k8" not in str(by_content)

    # When the restored key is rotated to version 9, which still accepts k8
    apply_docs(cluster, namespace, [secret("signing-key", {"kid": "k8"}, {"reentry.dev/version": "9"})])
    fresh = probe(cluster, namespace, secretFreshness=spec)
    assert (fresh.outcome, fresh.observed) == (Outcome.PASS, "restored 9, clients 8: the restored Secret is newer")
    assert probe(cluster, namespace, secretFreshness={**spec, "rule": "KeyId", "key": "kid"}).outcome == Outcome.PASS

    # And a Secret that was not restored, or a version that is no number, is named
    assert probe(cluster, namespace, secretFreshness={**spec, "secret": "gone"}).message == (
        f"Secret gone in namespace {namespace} not found")
    apply_docs(cluster, namespace, [secret("client-cache", {"kid": "k8"}, {"reentry.dev/version": "eight"})])
    bad = probe(cluster, namespace, secretFreshness=spec)
    assert outcome(bad) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert bad.message == ("rule Version: versions '9' (restored) and 'eight' (clients) are neither both numbers nor "
                           "both RFC 3339 timestamps")


# ---- the drill ----------------------------------------------------------------------------------


def test_identity_drift_holds_every_service_until_the_issuer_publishes_the_clients_key(
        cluster: Cluster, operator: Operator, namespace: str, tmp_path: Path):
    # Given a restored shop, held back by its readiness gates: auth, and orders depending on it
    given_running_pods(cluster, namespace, gated_service("auth", 2) + gated_service("orders", 2), 4)
    # And the identity provider came back from a backup taken before the DR site rotated its signing key:
    # it publishes only the old key, while the clients cached both during the outage
    old_key, rotated_key = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    with jwks_endpoint(tmp_path) as idp:
        idp.document = jwks(rsa_jwk(old_key, "2026-05"))
        clients_hold = jwks(rsa_jwk(old_key, "2026-05"), rsa_jwk(rotated_key, "2026-11"))
        apply_docs(cluster, namespace, [config_map("idp-ca", {"ca.crt": idp.ca_pem}),
                                        config_map("client-jwks", {"keys.json": clients_hold})])
        signing_keys = {"name": "signing-keys", "signingKeys": {
            "issuer": {"url": idp.url}, "tls": {"caBundle": {"configMap": {"name": "idp-ca", "key": "ca.crt"}}},
            "clients": {"configMap": {"name": "client-jwks", "key": "keys.json"}}}}

        # When the plan runs with the signing keys as its identity gate
        plan = recovery_plan(PLAN, [service_entry("auth"), service_entry("orders", ("auth",))],
                             identity={"checks": [signing_keys]})
        apply_docs(cluster, namespace, [plan])

        # Then the identity stage holds, naming the kid the issuer does not publish
        held = wait_status(cluster, namespace, PLAN, "the signing-keys check to fail",
                           lambda s: by_name(s.get("checks", [])).get("signing-keys", {}).get("result") == "Fail")
        assert held["phase"] == "IdentityPreWarming"
        check = by_name(held["checks"])["signing-keys"]
        assert check["message"] == "the issuer does not publish kid 2026-11 (held by the clients)"
        assert check["failureClass"] == "ThresholdMissed"
        assert check["observed"] == "issuer publishes kid 2026-05; clients hold kid 2026-05, kid 2026-11"
        # And no pod of any service is released while it holds
        stays("every pod held", lambda: released_count(cluster, namespace) == 0, seconds=3)
        assert {s["name"]: s["state"] for s in held["services"]} == {"auth": "Held", "orders": "Held"}

        # When the restored issuer publishes the rotated key
        idp.document = jwks(rsa_jwk(rotated_key, "2026-11"), rsa_jwk(old_key, "2026-05"))

        # Then the plan proceeds: identity passes, the services re-enter bottom-up, and it is restored
        final = wait_phase(cluster, namespace, PLAN, "Restored")
        assert by_name(final["checks"])["signing-keys"]["result"] == "Pass"
        assert released_count(cluster, namespace) == 4
        services = by_name(final["services"])
        assert services["auth"]["attachedAt"] <= services["orders"]["releaseStartedAt"]
        assert idp.requests and all(path == "/jwks" for path in idp.requests)
