"""Find or build the pinned control-plane binaries.

No package registry ships a kube-apiserver, so the sandbox builds etcd, kube-apiserver,
kube-controller-manager and kubectl from Go modules through the wrapper modules in ``gomod/``
(they re-point k8s.io/kubernetes' ``./staging`` replaces at published versions). Binaries are cached
outside the work tree, keyed by version, and ``KUBEBUILDER_ASSETS`` (envtest's variable) is honoured
for the binaries it holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
HELM_VERSION = "v3.22.0"
HELM_K8S_MINOR = "37"  # the k8s.io/client-go minor in gomod/helm/go.mod, as Helm's Makefile stamps it

GOMOD_DIR = Path(__file__).parent / "gomod"


class BinariesUnavailable(RuntimeError):
    """Raised when a binary is neither found nor buildable."""


@dataclass(frozen=True)
class Recipe:
    """How one binary is built: the wrapper module, the Go package and its version stamp."""

    binary: str
    module_dir: str
    package: str
    version: str
    ldflags: tuple[str, ...] = ()


def _k8s_ldflags() -> tuple[str, ...]:
    minor = KUBERNETES_VERSION.split(".")[1]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={KUBERNETES_VERSION}", f"-X {pkg}.gitMajor=1",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    return tuple(flags)


def _helm_ldflags() -> tuple[str, ...]:
    flags = [f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
             "-X helm.sh/helm/v3/internal/version.gitTreeState=clean"]
    for pkg in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={HELM_K8S_MINOR}"]
    return tuple(flags)


RECIPES = {
    r.binary: r
    for r in (
        Recipe("etcd", "etcd", "go.etcd.io/etcd/server/v3", ETCD_VERSION),
        Recipe("kube-apiserver", "k8s", "k8s.io/kubernetes/cmd/kube-apiserver", KUBERNETES_VERSION,
               _k8s_ldflags()),
        Recipe("kube-controller-manager", "k8s", "k8s.io/kubernetes/cmd/kube-controller-manager",
               KUBERNETES_VERSION, _k8s_ldflags()),
        Recipe("kubectl", "k8s", "k8s.io/kubernetes/cmd/kubectl", KUBERNETES_VERSION, _k8s_ldflags()),
        Recipe("helm", "helm", "helm.sh/helm/v3/cmd/helm", HELM_VERSION, _helm_ldflags()),
    )
}

# What a running sandbox needs; tools such as helm are built by ``reentry sandbox build`` or on first use.
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl"]


def cache_root() -> Path:
    """``$REENTRY_CACHE`` or ``~/.cache/reentry``: outside the work tree, kept between runs."""
    override = os.environ.get("REENTRY_CACHE")
    base = Path(override) if override else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reentry"
    return base


def cached_path(recipe: Recipe) -> Path:
    """Where a built binary lives in the cache."""
    return cache_root() / recipe.module_dir / recipe.version / recipe.binary


def _from_assets(binary: str) -> Path | None:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return None
    candidate = Path(assets) / binary
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def locate(binary: str) -> Path | None:
    """The binary from ``KUBEBUILDER_ASSETS`` or the cache, or None."""
    found = _from_assets(binary)
    if found:
        return found
    cached = cached_path(RECIPES[binary])
    return cached if cached.is_file() else None


def _progress(message: str) -> None:
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


def build(recipe: Recipe) -> Path:
    """Build one binary into the cache, printing progress while Go compiles."""
    go = shutil.which("go")
    if go is None:
        raise BinariesUnavailable(
            f"{recipe.binary} {recipe.version} is not cached and Go is not installed: install Go (1.24+) so the "
            "sandbox can build it, or set KUBEBUILDER_ASSETS to a directory holding etcd, kube-apiserver, "
            "kube-controller-manager and kubectl"
        )
    target = cached_path(recipe)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    cmd = [go, "build", "-v", "-trimpath", "-ldflags", " ".join(("-s", "-w", *recipe.ldflags)),
           "-o", str(partial), recipe.package]
    _progress(f"building {recipe.binary} {recipe.version} from Go modules (first time only; many minutes)")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=GOMOD_DIR / recipe.module_dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    last_report, tail = started, list[str]()
    for compiled, line in enumerate(proc.stdout, start=1):
        tail = [*tail[-20:], line.rstrip()]
        now = time.monotonic()
        if now - last_report >= 15:
            _progress(f"  {recipe.binary}: {compiled} packages compiled, {now - started:.0f}s, at {line.strip()}")
            last_report = now
    if proc.wait() != 0:
        raise BinariesUnavailable(f"building {recipe.binary} failed:\n" + "\n".join(tail))
    partial.replace(target)
    _progress(f"built {recipe.binary} in {time.monotonic() - started:.0f}s -> {target}")
    return target


def ensure(binaries: list[str] | None = None) -> dict[str, Path]:
    """Paths of the requested binaries (all by default), building the missing ones."""
    result = {}
    for name in binaries or list(RECIPES):
        result[name] = locate(name) or build(RECIPES[name])
    return result
