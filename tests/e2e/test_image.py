"""The operator image, run for real: the container the chart points at starts, runs as its non-root
user on a read-only root, and drives the chart's drill to Restored under the chart's RBAC.

`make image` builds it (buildah, no Docker engine; `make test` builds it first). Here podman runs
it with runc on the host's network, so the container reaches the sandbox's API server on loopback
with a kubeconfig that holds only the chart's ServiceAccount token (the CA embedded, as a pod's
mounted token would carry it).
"""

from __future__ import annotations

import base64
import os
import resource
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster, apply_docs
from tests.e2e.story import released_count, wait_phase
from tests.e2e.test_chart import (
    PLAN,
    assert_never_refused,
    given_a_restored_shop,
    healthy,
    install,
    operator_as,
    run_the_job,
    the_drill,
    token_kubeconfig,
    wait_granted,
)
from tests.unit.test_chart import one

IMAGE = os.environ.get("REENTRY_IMAGE", "localhost/reentry:dev")
#: Where the kubeconfig is mounted in the container.
KUBECONFIG = "/etc/reentry/kubeconfig"


def podman_run_flags() -> list[str]:
    """runc rather than crun (it cannot raise these limits here), the host's network, a read-only root
    with a writable /tmp (the chart's emptyDir), and the hard open-files limit passed through."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return ["--runtime", "runc", "--network", "host", "--read-only", "--tmpfs", "/tmp",
            "--ulimit", f"nofile={hard}:{hard}", "--ulimit", "nproc=32768:32768"]


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    assert shutil.which("podman"), "podman is missing: `make image-deps` installs it (make test does)"
    found = podman("image", "exists", IMAGE)
    assert found.returncode == 0, f"no image {IMAGE}: `make image` builds it (make test does, first)"
    return IMAGE


def test_the_image_runs_as_its_non_root_user_on_a_read_only_root(image: str) -> None:
    shown = podman("run", "--rm", *podman_run_flags(), "--entrypoint", "/bin/sh", image, "-c",
                   "id -u; id -g; touch /opt/reentry/planted 2>&1; reentry --help | head -1")
    assert shown.returncode == 0, shown.stderr
    uid, gid, touched, usage = shown.stdout.splitlines()[:4]
    assert (uid, gid) == ("10001", "10001")
    assert "Read-only file system" in touched
    assert usage.startswith("usage: reentry")
    labels = yaml.safe_load(podman("image", "inspect", "--format", "{{json .Labels}}", image).stdout)
    assert labels["org.opencontainers.image.title"] == "reentry"


def container_kubeconfig(source: Path, target: Path) -> Path:
    """``source`` with its CA file embedded as data: the container sees none of the host's files."""
    config: dict[str, Any] = yaml.safe_load(source.read_text())
    for entry in config["clusters"]:
        ca = entry["cluster"].pop("certificate-authority", None)
        if ca:
            entry["cluster"]["certificate-authority-data"] = base64.b64encode(Path(ca).read_bytes()).decode()
    target.write_text(yaml.safe_dump(config))
    target.chmod(0o644)  # read by the image's user 10001; a one-hour token of a test's ServiceAccount
    return target


def test_a_drill_runs_to_restored_with_the_operator_from_the_image(
        cluster: Cluster, namespace: str, tmp_path: Path, image: str) -> None:
    name = f"reentry-{uuid.uuid4().hex[:6]}"

    def in_container(args: list[str], kubeconfig: Path) -> list[str]:
        mounted = container_kubeconfig(kubeconfig, tmp_path / "container.kubeconfig")
        return ["podman", "run", "--rm", "--name", name, *podman_run_flags(),
                "-v", f"{mounted}:{KUBECONFIG}:ro", "-e", f"KUBECONFIG={KUBECONFIG}", image, *args]

    with install(cluster, {"rbac": {"extraRules": [
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "patch", "watch"]}]}}) as (docs, release):
        account = one(docs, "ServiceAccount")["metadata"]["name"]
        kubeconfig = token_kubeconfig(cluster, account, release, tmp_path / "operator.kubeconfig")
        # Given a restored shop held back by its gates, and the operator started from the image
        given_a_restored_shop(cluster, namespace)
        wait_granted(cluster, kubeconfig, namespace)
        log = tmp_path / "operator.log"
        try:
            with operator_as(cluster, docs, kubeconfig, log, launch=in_container) as (_, health):
                # It runs as the image's user, as the chart's securityContext demands
                assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
                # When the drill runs (the test plays the Job controller's verdict)
                apply_docs(cluster, namespace, [the_drill()])
                run_the_job(cluster, namespace, PLAN, "warm-cache")
                final = wait_phase(cluster, namespace, PLAN, "Restored", timeout=120)
                # Then it ends Restored, every pod released, traffic at 100, and no call was refused
                assert released_count(cluster, namespace) == 4
                assert final["traffic"]["weight"] == 100
                assert healthy(health)
        finally:
            podman("rm", "--force", name)
        assert_never_refused(log)
