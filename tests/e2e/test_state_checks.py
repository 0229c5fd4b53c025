"""State checks and the invalidate action against real systems: a real Prometheus, real HTTP servers.

Each test calls the probe or the executor as the engine would, with credentials and CA bundles in
real Secrets on the sandbox's API server.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from reentry.actions import ActionContext
from reentry.engine.observations import ActionProgress, CheckResult
from reentry.model import ActionState, FailureClass, Outcome
from tests.e2e import story
from tests.e2e.conftest import Cluster
from tests.e2e.http_server import Recorder, http_server
from tests.e2e.prometheus_fixtures import Prometheus, bcrypt_hash, free_port, start_prometheus, stop, unique

SERVER_NAME = "prometheus.monitoring.svc"


# ---- the engine's side of the calls -------------------------------------------------------------


def probe(cluster: Cluster, namespace: str, **kind: Any) -> CheckResult:
    return story.probe(cluster, namespace, "probe", **kind)


def execute(cluster: Cluster, namespace: str, record: dict[str, Any], **kind: Any) -> ActionProgress:
    context = ActionContext(plan_name="plan", plan_uid="uid", action_name="flush")
    return story.execute(cluster, namespace, context, record, **kind)


def secret(cluster: Cluster, namespace: str, name: str, data: dict[str, str]) -> None:
    cluster.client.create(Secret(metadata=ObjectMeta(name=name), stringData=data), namespace=namespace)


# ---- prometheus against a real Prometheus -------------------------------------------------------


def test_prometheus_check_passes_fails_and_has_no_data(cluster: Cluster, namespace: str, prometheus: Prometheus):
    replica = unique("db")
    spec = {"url": prometheus.url, "query": f'max(replica_lag_seconds{{replica="{replica}"}})', "max": 1}
    # Given a replica reporting 0.2 s of lag
    prometheus.exporter.set("replica_lag_seconds", 0.2, replica=replica)
    prometheus.wait_value(f'replica_lag_seconds{{replica="{replica}"}}', 0.2)
    result = probe(cluster, namespace, prometheus=spec)
    assert (result.outcome, result.observed, result.threshold) == (Outcome.PASS, "0.2", "max 1")
    # When it lags 5 s, then the threshold is missed with the value observed
    prometheus.exporter.set("replica_lag_seconds", 5, replica=replica)
    prometheus.wait_value(f'replica_lag_seconds{{replica="{replica}"}}', 5)
    result = probe(cluster, namespace, prometheus=spec)
    assert (result.outcome, result.failure, result.observed) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED, "5")
    # When the replica stops reporting, then there is no data (onNoData decides what that means)
    prometheus.exporter.remove("replica_lag_seconds", replica=replica)
    prometheus.wait_absent(f'replica_lag_seconds{{replica="{replica}"}}')
    result = probe(cluster, namespace, prometheus=spec)
    assert (result.outcome, result.failure) == (Outcome.NO_DATA, FailureClass.NO_DATA)


def test_prometheus_check_refuses_bad_promql_and_several_series(cluster: Cluster, namespace: str,
                                                                 prometheus: Prometheus):
    bad = probe(cluster, namespace, prometheus={"url": prometheus.url, "query": "max(replica_lag_seconds", "max": 1})
    assert (bad.outcome, bad.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "bad_data" in bad.message and "parse error" in bad.message  # Prometheus' own words
    group = unique("g")
    for replica in ("a", "b"):
        prometheus.exporter.set("queue_depth", 1, group=group, replica=replica)
    prometheus.wait_value(f'count(queue_depth{{group="{group}"}})', 2)
    several = probe(cluster, namespace, prometheus={"url": prometheus.url, "query": f'queue_depth{{group="{group}"}}'})
    assert (several.outcome, several.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "returns 2 series" in several.message


def test_prometheus_check_unreachable(cluster: Cluster, namespace: str):
    result = probe(cluster, namespace, prometheus={"url": f"http://127.0.0.1:{free_port()}", "query": "vector(1)"})
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.UNREACHABLE)
    assert "Prometheus at http://127.0.0.1:" in result.message


def _tls_pair(workdir: Path) -> tuple[str, Path, Path]:
    """A CA (PEM, returned) and a server certificate for SERVER_NAME only, written to files for Prometheus."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reentry tests CA")])
    start, end = datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC) + timedelta(hours=1)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = workdir / "tls.crt", workdir / "tls.key"
    workdir.mkdir(parents=True, exist_ok=True)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


@pytest.fixture(scope="module")
def secured_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A second real Prometheus behind TLS and basic auth (user reentry): its URL and its CA bundle."""
    workdir = tmp_path_factory.mktemp("secured-prometheus")
    ca_pem, cert_file, key_file = _tls_pair(workdir)
    web = {"tls_server_config": {"cert_file": str(cert_file), "key_file": str(key_file)},
           "basic_auth_users": {"reentry": bcrypt_hash("right")}}
    process, url, _ = start_prometheus(workdir, [], web_config=web)
    try:
        yield url, ca_pem
    finally:
        stop(process)


def test_prometheus_check_with_basic_auth_and_tls_from_secrets(cluster: Cluster, namespace: str,
                                                               secured_prometheus: tuple[str, str]):
    url, ca_pem = secured_prometheus
    secret(cluster, namespace, "prom-ca", {"ca.crt": ca_pem})
    secret(cluster, namespace, "prom-good", {"username": "reentry", "password": "right"})
    secret(cluster, namespace, "prom-bad", {"username": "reentry", "password": "wrong"})
    tls = {"caBundle": {"secret": {"name": "prom-ca", "key": "ca.crt"}}, "serverName": SERVER_NAME}
    base = {"url": url, "query": "vector(1)", "equals": "1", "tls": tls}

    good = probe(cluster, namespace, prometheus={**base, "auth": {"basicAuthSecret": "prom-good"}})
    assert (good.outcome, good.observed) == (Outcome.PASS, "1")

    bad = probe(cluster, namespace, prometheus={**base, "auth": {"basicAuthSecret": "prom-bad"}})
    assert (bad.outcome, bad.failure) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)
    assert "wrong" not in bad.message

    missing = probe(cluster, namespace, prometheus={**base, "auth": {"basicAuthSecret": "prom-nope"}})
    assert (missing.outcome, missing.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "Secret prom-nope not found" in missing.message

    # The certificate names SERVER_NAME only: without serverName the name 127.0.0.1 does not verify.
    no_name = probe(cluster, namespace, prometheus={**base, "tls": {"caBundle": tls["caBundle"]},
                                                    "auth": {"basicAuthSecret": "prom-good"}})
    assert (no_name.outcome, no_name.failure) == (Outcome.ERROR, FailureClass.UNREACHABLE)
    assert "TLS" in no_name.message

    wrong_key = probe(cluster, namespace, prometheus={
        **base, "tls": {"caBundle": {"secret": {"name": "prom-ca", "key": "ca.pem"}}, "serverName": SERVER_NAME}})
    assert (wrong_key.outcome, wrong_key.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "has no key ca.pem" in wrong_key.message


# ---- http against a real local server -----------------------------------------------------------


@pytest.fixture
def server() -> Iterator[Recorder]:
    with http_server() as recorder:
        yield recorder


def test_http_check_reads_a_json_field_with_headers_and_a_token_from_secrets(cluster: Cluster, namespace: str,
                                                                             server: Recorder):
    body = json.dumps({"replication": {"lag": 0.3, "state": "streaming"}})
    server.answer("/replication", body=body, require_header=("X-Api-Key", "k-123"))
    server.answer("/status", body=body, require_header=("Authorization", "Bearer t-456"))
    secret(cluster, namespace, "db-api", {"X-Api-Key": "k-123"})
    secret(cluster, namespace, "db-token", {"token": "t-456\n"})

    lag = {"url": server.url("/replication"), "path": ".replication.lag", "max": 1, "headersFrom": "db-api"}
    result = probe(cluster, namespace, http=lag)
    assert (result.outcome, result.observed, result.threshold) == (Outcome.PASS, "0.3", "max 1")
    assert server.arrived("/replication")[-1].headers["X-Api-Key"] == "k-123"

    token = {"url": server.url("/status"), "path": ".replication.state", "equals": "streaming",
             "auth": {"bearerToken": {"name": "db-token", "key": "token"}}}
    assert probe(cluster, namespace, http=token).outcome == Outcome.PASS

    refused = probe(cluster, namespace, http={**lag, "headersFrom": None})
    assert (refused.outcome, refused.failure) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)

    strict = probe(cluster, namespace, http={**lag, "max": 0.1})
    assert (strict.outcome, strict.failure, strict.observed) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED, "0.3")

    gap = probe(cluster, namespace, http={**lag, "path": ".replication.slots"})
    assert (gap.outcome, gap.failure) == (Outcome.NO_DATA, FailureClass.NO_DATA)

    missing = probe(cluster, namespace, http={**lag, "headersFrom": "no-such-secret"})
    assert (missing.outcome, missing.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert "Secret no-such-secret not found" in missing.message


def test_http_check_status_codes_and_timeouts(cluster: Cluster, namespace: str, server: Recorder):
    server.answer("/healthz", status=503, body="warming up", content_type="text/plain")
    server.answer("/slow", body="{}", delay=2)
    down = probe(cluster, namespace, http={"url": server.url("/healthz")})
    assert (down.outcome, down.failure, down.observed) == (Outcome.FAIL, FailureClass.THRESHOLD_MISSED, "status 503")
    assert probe(cluster, namespace, http={"url": server.url("/healthz"), "expectedStatus": [503]}).outcome \
        == Outcome.PASS

    started = time.monotonic()
    slow = probe(cluster, namespace, http={"url": server.url("/slow"), "timeout": "300ms"})
    assert time.monotonic() - started < 2
    assert (slow.outcome, slow.failure) == (Outcome.ERROR, FailureClass.UNREACHABLE)
    assert "no answer within 300ms" in slow.message

    gone = probe(cluster, namespace, http={"url": f"http://127.0.0.1:{free_port()}/healthz"})
    assert (gone.outcome, gone.failure) == (Outcome.ERROR, FailureClass.UNREACHABLE)


# ---- invalidate against a real local server -----------------------------------------------------


def drive(cluster: Cluster, namespace: str, spec: dict[str, Any], record: dict[str, Any] | None = None,
          steps: int = 100) -> tuple[ActionProgress, int]:
    """Call the executor as the engine does (about every 0.2 s, with the record handed back) until it ends."""
    progress = ActionProgress(ActionState.RUNNING, record or {})
    for taken in range(1, steps + 1):
        progress = execute(cluster, namespace, dict(progress.record), invalidate=spec)
        if progress.state != ActionState.RUNNING:
            return progress, taken
        time.sleep(0.2)
    raise AssertionError(f"invalidate still running after {steps} steps: {progress.message}")


def test_invalidate_calls_in_order_spaced_and_never_twice_after_a_restart(cluster: Cluster, namespace: str,
                                                                          server: Recorder):
    for i in range(3):
        server.answer(f"/flush/{i}", status=204)
    secret(cluster, namespace, "cache-admin", {"X-Admin-Key": "adm"})
    spec = {"calls": [{"url": server.url(f"/flush/{i}"), "method": "DELETE"} for i in range(3)],
            "spacing": "1s", "headersFrom": "cache-admin"}
    # The first call, then the operator "dies": only the record survives (as status would)
    first = execute(cluster, namespace, {}, invalidate=spec)
    assert (first.state, first.record["done"]) == (ActionState.RUNNING, 1)
    # A new operator continues from the record: no repeat, no skip, spacing kept
    final, _ = drive(cluster, namespace, spec, record=first.record)
    assert final.state == ActionState.SUCCEEDED, final.message
    arrivals = server.arrived("/flush/")
    assert [a.path for a in arrivals] == ["/flush/0", "/flush/1", "/flush/2"]
    assert all(a.method == "DELETE" and a.headers["X-Admin-Key"] == "adm" for a in arrivals)
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.0, gaps
    # Handed the finished record again, it calls nothing
    again = execute(cluster, namespace, final.record, invalidate=spec)
    assert again.state == ActionState.SUCCEEDED and len(server.arrived("/flush/")) == 3


def test_invalidate_stops_or_continues_on_error(cluster: Cluster, namespace: str, server: Recorder):
    server.answer("/a", status=200)
    server.answer("/b", status=503, body="busy")
    server.answer("/c", status=202)
    calls = [{"url": server.url(p), "body": '{"keys": ["cart:*"]}', "headers": {"Content-Type": "application/json"}}
             for p in ("/a", "/b", "/c")]
    stopped, _ = drive(cluster, namespace, {"calls": calls, "spacing": "100ms"})
    assert stopped.state == ActionState.FAILED
    assert "call 2 of 3" in stopped.message and "answered 503" in stopped.message
    assert [a.path for a in server.arrived()] == ["/a", "/b"]
    assert server.arrived()[0].body == '{"keys": ["cart:*"]}'

    server.arrivals.clear()
    carried_on, _ = drive(cluster, namespace, {"calls": calls, "spacing": "100ms", "onError": "Continue"})
    assert carried_on.state == ActionState.SUCCEEDED
    assert "1 failed (onError Continue)" in carried_on.message
    assert [a.path for a in server.arrived()] == ["/a", "/b", "/c"]


def test_invalidate_with_a_missing_secret_fails_naming_it(cluster: Cluster, namespace: str, server: Recorder):
    spec = {"calls": [{"url": server.url("/a")}], "headersFrom": "nope"}
    result = execute(cluster, namespace, {}, invalidate=spec)
    assert result.state == ActionState.FAILED
    assert "Secret nope not found" in result.message
    assert server.arrived() == []
    assert result.message == f"invalidate action flush: Secret nope not found in namespace {namespace}"


def test_secret_values_are_decoded_not_shown(cluster: Cluster, namespace: str, server: Recorder):
    # stringData is stored base64-encoded; the header must carry the decoded value
    server.answer("/x", body="{}", require_header=("X-Key", "plain value"))
    secret(cluster, namespace, "hdr", {"X-Key": "plain value"})
    stored = cluster.client.get(Secret, "hdr", namespace=namespace)
    assert stored.data and base64.b64decode(stored.data["X-Key"]).decode() == "plain value"
    result = probe(cluster, namespace, http={"url": server.url("/x"), "headersFrom": "hdr"})
    assert result.outcome == Outcome.PASS
    assert "plain value" not in (result.message + str(result.observed))


def test_a_secret_value_that_cannot_be_a_header_is_named_not_shown(cluster: Cluster, namespace: str,
                                                                   server: Recorder):
    # A value written with a trailing newline (echo > file; --from-file) is no valid header value; httpx's own
    # error would quote it. The plan's Secret is what is wrong, named by key, and nothing is sent.
    server.answer("/x", body="{}")
    secret(cluster, namespace, "hdr", {"X-Key": "s3cr3t-value\n"})
    secret(cluster, namespace, "tok", {"token": "s3cr3t\ntoken"})
    result = probe(cluster, namespace, http={"url": server.url("/x"), "headersFrom": "hdr"})
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert f"Secret hdr in namespace {namespace}: key X-Key cannot be sent as an HTTP header value" in result.message
    token = probe(cluster, namespace, http={"url": server.url("/x"), "auth": {"bearerToken": {"name": "tok",
                                                                                              "key": "token"}}})
    assert (token.outcome, token.failure) == (Outcome.ERROR, FailureClass.INVALID_CONFIGURATION)
    assert f"Secret tok in namespace {namespace}: key token cannot be sent" in token.message
    assert "s3cr3t" not in result.message + token.message
    assert server.arrived("/x") == []


def test_a_ca_bundle_url_that_refuses_is_named_without_its_query(cluster: Cluster, namespace: str, server: Recorder):
    server.answer("/ca.pem", status=403, body="denied", content_type="text/plain")
    tls = {"caBundle": {"url": server.url("/ca.pem") + "?sig=s3cret"}}
    result = probe(cluster, namespace, http={"url": "https://127.0.0.1:1/healthz", "tls": tls})
    assert (result.outcome, result.failure) == (Outcome.ERROR, FailureClass.UNAUTHORIZED)
    assert f"the CA bundle at {server.url('/ca.pem')} answered 403 Forbidden" in result.message
    assert "s3cret" not in result.message
