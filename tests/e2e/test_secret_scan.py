"""No Secret value reaches the operator's logs (text or JSON, at debug), its metrics, a plan's status or Events.

A plan whose identity checks read three Secrets (a TLS certificate with its private key, a token
read by a ``resource`` check, a versioned signing key compared by ``secretFreshness``) is run by
an operator of its own, once per log format. Every trace of the Secrets' values (raw, base64,
and the body lines of the PEM private key) is then looked for in everything the operator wrote
and in what its /metrics serves.
The JSON lines are also checked for shape: each one an object with time, level, logger and
message, and the plan's lines attributed to it (namespace, plan, stage).

A second plan covers the kinds that carry credentials: a ``serviceAccountToken`` check (a real
TokenRequest), ``signingKeys`` with a sample token from a Secret, an ``invalidate`` action with basic
auth, an ``http`` check with a bearer token and headers from Secrets, a ``prometheus`` check with
basic auth against a real Prometheus. Each must succeed (so the credentials were used), and no
trace of any of them, nor anything shaped like a JWT, may be in what the operator wrote.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster, apply_docs, start_operator, stop_operator
from tests.e2e.http_server import http_server
from tests.e2e.prometheus_fixtures import bcrypt_hash, start_prometheus, stop
from tests.e2e.story import by_name, gated_service, given_running_pods, recovery_plan, service_entry, wait_status
from tests.e2e.test_chart import free_port
from tests.e2e.test_identity import api_server_jwks, config_map, issue, real_token, secret, tls_secret

#: Anything shaped like a JSON Web Token (a service account token, a sample token): header.payload.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")

PLAN = "scanned"


def traces(value: str) -> set[str]:
    """What of ``value`` must never be seen: itself and its base64 (as Secret data carries it)."""
    return {value, base64.b64encode(value.encode()).decode()}


def pem_body_lines(pem: str) -> set[str]:
    """The base64 lines of a PEM block (a private key copied into a log would show them)."""
    return {line for line in pem.splitlines() if line and not line.startswith("-----")}


def the_plan() -> dict[str, Any]:
    return recovery_plan(PLAN, [service_entry("auth")], identity={"checks": [
        {"name": "tls", "certificate": {"secret": "auth-tls", "minValidity": "1h"}},
        {"name": "token", "resource": {"apiVersion": "v1", "kind": "Secret", "name": "api-token",
                                       "path": ".data.token", "equals": "not-the-token"}},
        {"name": "fresh-key", "secretFreshness": {"secret": "signing-key", "clients": {"name": "clients-key"}}}]})


def written_by_the_operator(cluster: Cluster, namespace: str, log: Path, metrics: str) -> str:
    """The log, the metrics, the plan (status included) and the namespace's Events, as text."""
    plan = cluster.kubectl("get", "recoveryplan", PLAN, "-o", "json", namespace=namespace).stdout
    events = cluster.kubectl("get", "events", "-o", "json", namespace=namespace).stdout
    return "\n".join((log.read_text(errors="replace"), metrics, plan, events))


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_value_reaches_logs_status_or_events(cluster: Cluster, solo_namespace: str, tmp_path: Path,
                                                         log_format: str):
    ns = solo_namespace
    # Given a restored auth service and three Secrets holding what an attacker would want
    given_running_pods(cluster, ns, gated_service("auth", 1), 1)
    ca = issue("Auth CA", ca=True, valid=(timedelta(days=-30), timedelta(days=3650)))
    leaf = issue("auth", ca)
    token, key_v9, key_v8 = (secrets.token_urlsafe(24) for _ in range(3))
    apply_docs(cluster, ns, [
        tls_secret("auth-tls", leaf, ca),
        secret("api-token", {"token": token}),
        secret("signing-key", {"key": key_v9}, {"reentry.dev/version": "9"}),
        secret("clients-key", {"key": key_v8}, {"reentry.dev/version": "8"})])
    forbidden = {*traces(token), *traces(key_v9), *traces(key_v8), *traces(leaf.key_pem), *pem_body_lines(leaf.key_pem)}

    # When an operator of its own, at debug level, in this log format, evaluates the plan
    log = tmp_path / "operator.log"
    port = free_port()
    operator = start_operator(cluster, log, namespace=ns, metrics_port=port,
                              extra_args=("--debug", f"--log-format={log_format}"))
    try:
        apply_docs(cluster, ns, [the_plan()])
        status = wait_status(cluster, ns, PLAN, "every identity check to have a result", lambda s: {
            name: c.get("result") for name, c in by_name(s.get("checks", [])).items()} == {
            "tls": "Pass", "token": "Fail", "fresh-key": "Pass"})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        stop_operator(operator)

    # Then the checks say what they saw without the values: a fingerprint, versions
    checks = by_name(status["checks"])
    assert checks["token"]["observed"].startswith("sha256:"), checks["token"]
    assert "PRIVATE" not in json.dumps(checks["tls"])
    # And no trace of any Secret value is in the log, the plan or its Events
    assert f'reentry_check_result{{check="token",namespace="{ns}"' in metrics  # the plan's series are there
    written = written_by_the_operator(cluster, ns, log, metrics)
    leaked = sorted(t for t in forbidden if t in written)
    assert not leaked, f"Secret material in what the operator wrote or serves ({log_format} logs): {leaked[:3]}"
    assert len(written) > 10_000  # the debug log was written (a silent operator would pass the scan)

    if log_format == "json":
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
        about = [e for e in lines if e.get("plan") == PLAN]
        assert about and all(e["namespace"] == ns for e in about)
        assert any(e.get("stage") == "identity" for e in about), yaml.safe_dump(about[:5])


def credentials_plan(url: Callable[[str], str], prometheus: str) -> dict[str, Any]:
    """Identity checks on a real token and a sample token; state: basic auth, bearer, headers, Prometheus."""
    clients = {"configMap": {"name": "client-jwks", "key": "keys.json"}}
    return recovery_plan(PLAN, [service_entry("auth")], identity={"checks": [
        {"name": "sa", "serviceAccountToken": {"serviceAccount": "auth-sa"}},
        {"name": "keys", "signingKeys": {"issuer": {"apiServer": True}, "clients": clients,
                                         "sampleToken": {"name": "sample", "key": "token"}}}]},
        state={"actions": [{"name": "flush", "invalidate": {"calls": [{"url": url("/flush"), "method": "POST"}],
                                                            "auth": {"basicAuthSecret": "cache-admin"}}}],
               "checks": [
                   {"name": "lag", "http": {"url": url("/replication"), "path": ".lag", "max": 1,
                                            "headersFrom": "db-api"}},
                   {"name": "state", "http": {"url": url("/status"), "path": ".state", "equals": "streaming",
                                              "auth": {"bearerToken": {"name": "db-token", "key": "token"}}}},
                   {"name": "prom", "prometheus": {"url": prometheus, "query": "vector(1)", "equals": "1",
                                                   "auth": {"basicAuthSecret": "prom-auth"}}}]})


def test_no_credential_of_any_kind_reaches_logs_status_or_events(cluster: Cluster, solo_namespace: str,
                                                                   tmp_path: Path):
    ns = solo_namespace
    given_running_pods(cluster, ns, gated_service("auth", 1), 1)
    bearer, api_key, cache_password, prom_password = (secrets.token_urlsafe(24) for _ in range(4))
    apply_docs(cluster, ns, [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "auth-sa"}}])
    sample = real_token(cluster, ns, "auth-sa", "vault")
    apply_docs(cluster, ns, [
        secret("sample", {"token": sample}),
        config_map("client-jwks", {"keys.json": json.dumps(api_server_jwks(cluster))}),
        secret("db-token", {"token": bearer}),
        secret("db-api", {"X-Api-Key": api_key}),
        secret("cache-admin", {"username": "flusher", "password": cache_password}),
        secret("prom-auth", {"username": "reentry", "password": prom_password})])
    forbidden = {*traces(sample), *traces(bearer), *traces(api_key), *traces(cache_password),
                 *traces(prom_password), *traces(f"flusher:{cache_password}"), *traces(f"reentry:{prom_password}")}

    basic = "Basic " + base64.b64encode(f"flusher:{cache_password}".encode()).decode()
    prometheus, prom_url, _ = start_prometheus(tmp_path / "prometheus", [],
                                               web_config={"basic_auth_users": {"reentry": bcrypt_hash(prom_password)}})
    log = tmp_path / "operator.log"
    port = free_port()
    try:
        with http_server() as server:
            server.answer("/flush", status=204, require_header=("Authorization", basic))
            server.answer("/replication", body='{"lag": 0.2}', require_header=("X-Api-Key", api_key))
            server.answer("/status", body='{"state": "streaming"}',
                          require_header=("Authorization", f"Bearer {bearer}"))
            plan = credentials_plan(server.url, prom_url)
            operator = start_operator(cluster, log, namespace=ns, metrics_port=port, extra_args=("--debug",))
            try:
                apply_docs(cluster, ns, [plan])
                # Then every kind succeeds: the credentials were read and used
                status = wait_status(cluster, ns, PLAN, "every check to pass and the action to succeed", lambda s: (
                    {n: c.get("result") for n, c in by_name(s.get("checks", [])).items()}
                    == dict.fromkeys(("sa", "keys", "lag", "state", "prom"), "Pass")
                    and [a.get("state") for a in s.get("actions", [])] == ["Succeeded"]), timeout=120)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                    metrics = response.read().decode()
            finally:
                stop_operator(operator)
            assert [a.path for a in server.arrived("/flush")] == ["/flush"]
    finally:
        stop(prometheus)

    # And no trace of any credential is in the log, the metrics, the plan or its Events
    written = written_by_the_operator(cluster, ns, log, metrics)
    leaked = sorted(t for t in forbidden if t in written)
    assert not leaked, f"credentials in what the operator wrote or serves: {leaked[:3]}"
    tokens = JWT.findall(written)
    assert not tokens, f"something shaped like a token in what the operator wrote: {tokens[0][:16]}..."
    assert len(written) > 10_000 and "serviceAccountToken" in written  # the debug log and the plan were read
    assert by_name(status["checks"])["sa"]["result"] == "Pass"
