"""The Gateway API's standard-channel CRDs, from the ``sigs.k8s.io/gateway-api`` Go module.

The release is pinned by the wrapper module in ``gomod/gateway-api`` (version in go.mod, content
hash in go.sum), so ``go mod download`` fetches it through the Go module proxy and refuses a zip
whose hash differs. Nothing is copied into the repository: the manifests under
``config/crd/standard`` (the upstream kustomization's order) are copied once into the cache
(``~/.cache/reentry/gateway-api/<version>/standard``) and installed from there with
``kubectl apply --server-side``; then every CRD is polled until Established.

No gateway controller is installed: routes get no status unless someone writes it (the e2e tests
play the controller through the status subresource).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from reentry.sandbox.binaries import GOMOD_DIR, BinariesUnavailable, cache_root

MODULE = "sigs.k8s.io/gateway-api"
VERSION = "v1.6.3"
CHANNEL = "standard"

#: Runs kubectl with these arguments against the cluster and returns its stdout; raises on failure.
Kubectl = Callable[..., str]


def cached_dir() -> Path:
    """Where the release's manifests live in the cache."""
    return cache_root() / "gateway-api" / VERSION / CHANNEL


def _download() -> Path:
    """The module's directory in the Go module cache, downloaded and verified against go.sum if needed."""
    go = shutil.which("go")
    if go is None:
        raise BinariesUnavailable(f"the Gateway API CRDs ({MODULE} {VERSION}) are not cached and Go is not "
                                  "installed: install Go so the sandbox can fetch them through the module proxy")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    result = subprocess.run([go, "mod", "download", "-json", MODULE], cwd=GOMOD_DIR / "gateway-api", env=env,
                            capture_output=True, text=True, check=False, timeout=300)
    info = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    if result.returncode != 0 or info.get("Error") or not info.get("Dir"):
        reason = info.get("Error") or result.stderr.strip()[-800:]
        raise BinariesUnavailable(f"downloading {MODULE} {VERSION} failed: {reason}")
    if info.get("Version") != VERSION:
        raise BinariesUnavailable(f"go mod download gave {MODULE} {info.get('Version')}, expected {VERSION}")
    return Path(info["Dir"])


def manifests() -> list[Path]:
    """The standard channel's manifest files in install order, fetched into the cache the first time."""
    target = cached_dir()
    order = target / "order.txt"
    if not order.is_file():
        source = _download() / "config" / "crd"
        listed = yaml.safe_load((source / "kustomization.yaml").read_text())["resources"]
        files = [Path(entry) for entry in listed if entry.startswith(f"{CHANNEL}/")]
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for file in files:
            shutil.copyfile(source / file, partial / file.name)  # copyfile: the module cache is read-only
        (partial / "order.txt").write_text("".join(f"{f.name}\n" for f in files))
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return [target / name for name in order.read_text().split()]


def crd_names(files: list[Path]) -> list[str]:
    """The names of the CustomResourceDefinitions in ``files``."""
    names = []
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                names.append(doc["metadata"]["name"])
    return names


def not_established(found: dict[str, Any], names: list[str]) -> list[str]:
    """The CRDs among ``names`` that ``found`` (``kubectl get crd NAME... -o json``) does not show Established.

    kubectl answers a List for several names and the object itself for one.
    """
    items = found.get("items", []) if found.get("kind") == "List" else [found]
    ready = {item["metadata"]["name"] for item in items
             if any(c.get("type") == "Established" and c.get("status") == "True"
                    for c in (item.get("status") or {}).get("conditions") or [])}
    return [n for n in names if n not in ready]


def install(kubectl: Kubectl, timeout: float = 60) -> list[str]:
    """Install the standard-channel CRDs (server-side apply) and wait until all are Established.

    Idempotent: a cluster that has them already is left as it is. Returns the CRD names.
    """
    files = manifests()
    kubectl("apply", "--server-side", "--field-manager=reentry-sandbox", *(f"--filename={f}" for f in files))
    names = crd_names(files)
    deadline = time.monotonic() + timeout
    while waiting := not_established(json.loads(kubectl("get", "customresourcedefinitions", *names, "-o", "json")),
                                     names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gateway API CRDs not Established within {timeout:.0f}s: {', '.join(waiting)}")
        time.sleep(0.2)
    return names
