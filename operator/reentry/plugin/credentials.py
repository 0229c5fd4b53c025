"""Exec credential plugins (``users[].user.exec``) run as kubectl runs them.

A cloud's login helper (``gke-gcloud-auth-plugin``, ``aws eks get-token``, ``kubelogin``...) is a
command that prints an ``ExecCredential`` with a bearer token. kubectl runs it with
``KUBERNETES_EXEC_INFO`` describing the request, keeps the token until its
``expirationTimestamp``, and runs the command again when the API server answers 401.

lightkube runs such commands too, but only of ``client.authentication.k8s.io/v1alpha1`` and
``v1beta1``, without ``KUBERNETES_EXEC_INFO`` or the expiry; ``v1``, which current helpers speak,
fails. This is the plugin's own, installed on the HTTP client in place of lightkube's.
Credentials are never logged or shown; a failing command's own stderr reaches the terminal as
kubectl lets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
                "client.authentication.k8s.io/v1alpha1")
#: How long the command may take (a browser login takes a while; kubectl has no limit).
TIMEOUT = 300.0


class CredentialError(Exception):
    """The exec plugin could not give a credential: one line, without the credential."""


class ExecCredentials(httpx.Auth):
    """An httpx auth flow that puts the exec plugin's bearer token on every request."""

    def __init__(self, spec: Mapping[str, Any], cluster: Mapping[str, Any] | None = None,
                 stdin_is_terminal: bool | None = None) -> None:
        self.spec = dict(spec)
        self.cluster = dict(cluster or {})
        self.api_version = str(self.spec.get("apiVersion") or "")
        if self.api_version not in API_VERSIONS:
            raise CredentialError(f"exec plugin: apiVersion {self.api_version or '(none)'!r} is not one of "
                                  f"{', '.join(API_VERSIONS)}")
        if not self.spec.get("command"):
            raise CredentialError("exec plugin: no command")
        self.terminal = sys.stdin.isatty() if stdin_is_terminal is None else stdin_is_terminal
        self._token: str | None = None
        self._expires: datetime | None = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: ask the plugin again, once
            self._token = None
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request

    def token(self, now: datetime | None = None) -> str:
        """The current token, from the plugin when there is none yet or it expired."""
        now = now or datetime.now(UTC)
        if self._token is None or (self._expires is not None and now >= self._expires):
            self._token, self._expires = self.parse(self.run())
        return self._token

    def interactive(self) -> bool:
        mode = self.spec.get("interactiveMode") or ("IfAvailable" if self.api_version != API_VERSIONS[0] else None)
        if mode not in ("Never", "IfAvailable", "Always"):
            raise CredentialError(f"exec plugin: interactiveMode {mode!r} is not Never, IfAvailable or Always")
        if mode == "Always" and not self.terminal:
            raise CredentialError(f"exec plugin {self.spec['command']} needs a terminal (interactiveMode Always)")
        return mode != "Never" and self.terminal

    def exec_info(self, interactive: bool) -> dict[str, Any]:
        """``KUBERNETES_EXEC_INFO``: what the command learns of the request."""
        spec: dict[str, Any] = {"interactive": interactive}
        if self.spec.get("provideClusterInfo"):
            spec["cluster"] = {k: v for k, v in {
                "server": self.cluster.get("server"),
                "tls-server-name": self.cluster.get("tls-server-name"),
                "insecure-skip-tls-verify": self.cluster.get("insecure-skip-tls-verify"),
                "certificate-authority-data": self.cluster.get("certificate-authority-data"),
                "proxy-url": self.cluster.get("proxy-url"),
            }.items() if v is not None}
        return {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}

    def run(self) -> bytes:
        """Run the command; its stdout."""
        interactive = self.interactive()
        env = dict(os.environ)
        for pair in self.spec.get("env") or []:
            if isinstance(pair, dict) and isinstance(pair.get("name"), str):
                env[pair["name"]] = str(pair.get("value", ""))
        env["KUBERNETES_EXEC_INFO"] = json.dumps(self.exec_info(interactive))
        command = [str(self.spec["command"]), *(str(a) for a in self.spec.get("args") or [])]
        try:
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, timeout=TIMEOUT, check=False,
                                  stdin=None if interactive else subprocess.DEVNULL)
        except FileNotFoundError as err:
            hint = self.spec.get("installHint")
            raise CredentialError(f"exec plugin {command[0]} not found" + (f": {hint}" if hint else "")) from err
        except (OSError, subprocess.TimeoutExpired) as err:
            raise CredentialError(f"exec plugin {command[0]}: {type(err).__name__}") from err
        if done.returncode != 0:
            raise CredentialError(f"exec plugin {command[0]} exited with {done.returncode}")
        return done.stdout

    def parse(self, output: bytes) -> tuple[str, datetime | None]:
        """The token and its expiry from the command's ``ExecCredential``."""
        command = self.spec["command"]
        try:
            credential = json.loads(output)
        except ValueError as err:
            raise CredentialError(f"exec plugin {command} did not print an ExecCredential (not JSON)") from err
        if not isinstance(credential, dict) or credential.get("kind") != "ExecCredential":
            raise CredentialError(f"exec plugin {command} did not print an ExecCredential")
        if credential.get("apiVersion") != self.api_version:
            raise CredentialError(f"exec plugin {command} answered {credential.get('apiVersion')!r}, "
                                  f"asked for {self.api_version!r}")
        status: dict[str, Any] = credential["status"] if isinstance(credential.get("status"), dict) else {}
        token = status.get("token")
        if not isinstance(token, str) or not token:
            if status.get("clientCertificateData"):
                raise CredentialError(f"exec plugin {command} gave a client certificate; the plugin accepts "
                                      "tokens only (kubectl itself supports both)")
            raise CredentialError(f"exec plugin {command} gave no token")
        expires = status.get("expirationTimestamp")
        try:
            expiry = datetime.fromisoformat(expires.replace("Z", "+00:00")) if isinstance(expires, str) else None
        except ValueError as err:
            raise CredentialError(f"exec plugin {command}: expirationTimestamp {expires!r} is not a time") from err
        return token, expiry
