"""The plugin reads kubeconfig as kubectl does: merged KUBECONFIG lists, relative paths, exec plugins."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from reentry.plugin import kubeconfig
from reentry.plugin.api import Api, PluginError
from reentry.plugin.credentials import CredentialError, ExecCredentials

V1 = "client.authentication.k8s.io/v1"


def write(path: Path, **document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def cluster(name: str, server: str, **extra: object) -> dict:
    return {"name": name, "cluster": {"server": server, **extra}}


def context(name: str, cluster_name: str, user: str, namespace: str | None = None) -> dict:
    body = {"cluster": cluster_name, "user": user, **({"namespace": namespace} if namespace else {})}
    return {"name": name, "context": body}


def test_a_kubeconfig_list_is_merged_first_file_wins_and_missing_files_are_skipped(tmp_path):
    first = write(tmp_path / "a" / "config", clusters=[cluster("prod", "https://first")],
                  users=[{"name": "me", "user": {"token": "first"}}], contexts=[context("prod", "prod", "me")])
    second = write(tmp_path / "b" / "config", **{
        "current-context": "staging",
        "clusters": [cluster("prod", "https://second"), cluster("staging", "https://staging")],
        "users": [{"name": "me", "user": {"token": "second"}}],
        "contexts": [context("staging", "staging", "me", "shop")]})
    environ = {"KUBECONFIG": os.pathsep.join([str(tmp_path / "missing"), str(first), str(second)])}
    loaded = kubeconfig.load(None, environ)
    assert loaded.files == (first, second)
    assert loaded.config["current-context"] == "staging"  # the first file that sets one
    servers = {c["name"]: c["cluster"]["server"] for c in loaded.config["clusters"]}
    assert servers == {"prod": "https://first", "staging": "https://staging"}  # the first to name one wins
    assert [u["user"]["token"] for u in loaded.config["users"]] == ["first"]


def test_an_explicit_kubeconfig_must_exist_and_a_list_of_missing_files_is_an_error(tmp_path):
    with pytest.raises(kubeconfig.KubeconfigError, match="no kubeconfig at"):
        kubeconfig.load(str(tmp_path / "nope"), {})
    with pytest.raises(kubeconfig.KubeconfigError, match="none of the files in KUBECONFIG exists"):
        kubeconfig.load(None, {"KUBECONFIG": str(tmp_path / "nope")})
    assert kubeconfig.files(None, {}) == ([Path("~/.kube/config").expanduser()], True)


def test_relative_paths_are_taken_relative_to_the_file_that_names_them(tmp_path):
    config = write(tmp_path / "dir" / "config", clusters=[cluster("c", "https://x", **{
        "certificate-authority": "ca.crt"})], users=[
        {"name": "cert", "user": {"client-certificate": "certs/me.crt", "client-key": "/abs/me.key"}},
        {"name": "exec", "user": {"exec": {"apiVersion": V1, "command": "./bin/login"}}},
        {"name": "path", "user": {"exec": {"apiVersion": V1, "command": "gke-gcloud-auth-plugin"}}}])
    loaded = kubeconfig.load(str(config), {})
    base = config.parent
    assert loaded.config["clusters"][0]["cluster"]["certificate-authority"] == str(base / "ca.crt")
    cert, exec_user, on_path = (u["user"] for u in loaded.config["users"])
    assert cert == {"client-certificate": str(base / "certs/me.crt"), "client-key": "/abs/me.key"}
    assert exec_user["exec"]["command"] == str(base / "bin/login")
    assert on_path["exec"]["command"] == "gke-gcloud-auth-plugin"  # looked up on PATH, as kubectl does


def test_a_broken_kubeconfig_is_named_without_its_content(tmp_path):
    broken = tmp_path / "config"
    broken.write_text("users:\n- name: me\n  user: {token: s3cr3t-token\n")
    with pytest.raises(kubeconfig.KubeconfigError) as caught:
        kubeconfig.load(str(broken), {})
    assert "not valid YAML at line" in str(caught.value) and "s3cr3t" not in str(caught.value)
    broken.write_text("- a list\n")
    with pytest.raises(kubeconfig.KubeconfigError, match="not a kubeconfig"):
        kubeconfig.load(str(broken), {})
    broken.write_text("users: {me: {token: x}}\n")
    with pytest.raises(kubeconfig.KubeconfigError, match="users must be a list"):
        kubeconfig.load(str(broken), {})
    broken.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(PluginError, match="cannot be read: UnicodeDecodeError"):
        Api.connect(str(broken))


def _plugin(tmp_path: Path, body: str) -> Path:
    """An exec plugin: a Python script that counts its runs in ``runs`` and prints what ``body`` builds."""
    script = tmp_path / "login"
    script.write_text(f"#!{sys.executable}\nimport json, os, pathlib\n"
                      f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
                      "n = int(runs.read_text()) + 1 if runs.exists() else 1\nruns.write_text(str(n))\n"
                      "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n" + body)
    script.chmod(0o755)
    return script


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_an_exec_plugin_of_v1_gets_exec_info_and_its_token_is_kept_until_it_expires(tmp_path):
    expiry = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    script = _plugin(tmp_path, "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', "
                               f"'status': {{'token': 'tok-' + str(n) + '-' + info['spec']['cluster']['server'] + "
                               f"'-' + os.environ['EXTRA'], 'expirationTimestamp': {expiry!r}}}}}))\n")
    auth = ExecCredentials({"apiVersion": V1, "command": str(script), "interactiveMode": "Never",
                            "provideClusterInfo": True, "env": [{"name": "EXTRA", "value": "x"}]},
                           {"server": "https://api"}, stdin_is_terminal=False)
    assert auth.token() == "tok-1-https://api-x"
    assert auth.token() == "tok-1-https://api-x" and runs(tmp_path) == 1  # kept
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert auth.token(now=later) == "tok-2-https://api-x" and runs(tmp_path) == 2  # expired: asked again


def test_an_exec_plugin_that_fails_or_answers_wrongly_is_one_clear_line(tmp_path):
    def credentials(body: str, **spec: object) -> ExecCredentials:
        return ExecCredentials({"apiVersion": V1, "command": str(_plugin(tmp_path, body)), "interactiveMode": "Never",
                                **spec}, stdin_is_terminal=False)

    with pytest.raises(CredentialError, match="exited with 3"):
        credentials("raise SystemExit(3)\n").token()
    with pytest.raises(CredentialError, match="not JSON"):
        credentials("print('hello')\n").token()
    with pytest.raises(CredentialError, match="gave a client certificate"):
        credentials("print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', "
                    "'status': {'clientCertificateData': 'x', 'clientKeyData': 'y'}}))\n").token()
    with pytest.raises(CredentialError, match=r"answered 'client\.authentication\.k8s\.io/v1beta1'"):
        credentials("print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                    "'kind': 'ExecCredential', 'status': {'token': 't'}}))\n").token()
    with pytest.raises(CredentialError, match="not found: install it"):
        ExecCredentials({"apiVersion": V1, "command": str(tmp_path / "absent"), "interactiveMode": "Never",
                         "installHint": "install it"}).token()
    with pytest.raises(CredentialError, match="needs a terminal"):
        ExecCredentials({"apiVersion": V1, "command": "x", "interactiveMode": "Always"},
                        stdin_is_terminal=False).token()
    with pytest.raises(CredentialError, match="apiVersion 'v2'"):
        ExecCredentials({"apiVersion": "v2", "command": "x"})


def test_the_plugin_installs_the_exec_credentials_of_the_context_it_uses(tmp_path):
    config = write(tmp_path / "config", **{
        "current-context": "plain",
        "clusters": [cluster("c", "https://127.0.0.1:1")],
        "users": [{"name": "plain", "user": {"token": "t"}}, {"name": "login", "user": {
            "exec": {"apiVersion": V1, "command": "login", "interactiveMode": "Never"}}}],
        "contexts": [context("plain", "c", "plain", "ns1"), context("sso", "c", "login", "ns2")]})
    plain = Api.connect(str(config))
    assert plain.namespace == "ns1" and not isinstance(plain.client._client._client.auth, ExecCredentials)
    sso = Api.connect(str(config), context="sso")
    assert sso.namespace == "ns2" and isinstance(sso.client._client._client.auth, ExecCredentials)
    with pytest.raises(PluginError, match="Context 'absent' not found"):
        Api.connect(str(config), context="absent")


def test_exec_info_names_the_interactive_mode(tmp_path):
    auth = ExecCredentials({"apiVersion": V1, "command": "x", "interactiveMode": "IfAvailable"},
                           stdin_is_terminal=True)
    assert auth.interactive() and json.loads(json.dumps(auth.exec_info(True))) == {
        "apiVersion": V1, "kind": "ExecCredential", "spec": {"interactive": True}}
    assert not ExecCredentials({"apiVersion": V1, "command": "x", "interactiveMode": "Never"},
                               stdin_is_terminal=True).interactive()
