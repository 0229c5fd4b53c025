"""`reentry sandbox up|status|env|down` as a person runs them: idempotent up, clean down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reentry.sandbox.cluster import PROCESS_ORDER


def reentry(*args: str, directory: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REENTRY_SANDBOX_DIR": str(directory)}
    return subprocess.run([sys.executable, "-m", "reentry.cli", "sandbox", *args], capture_output=True, text=True,
                          env=env, check=False, timeout=180)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(bool(os.environ.get("REENTRY_KUBECONFIG")), reason="runs only with the built-in sandbox")
def test_up_is_idempotent_and_down_leaves_nothing_running(tmp_path: Path):
    first = reentry("up", directory=tmp_path)
    assert first.returncode == 0, first.stderr
    pids = json.loads((tmp_path / "state.json").read_text())["pids"]
    assert sorted(pids) == sorted(PROCESS_ORDER)

    again = reentry("up", directory=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "state.json").read_text())["pids"] == pids

    status = reentry("status", directory=tmp_path).stdout
    assert all(f"{name}: running" in status for name in PROCESS_ORDER)
    assert " ready" in status

    env = reentry("env", directory=tmp_path).stdout.splitlines()
    assert env[0] == f"export KUBECONFIG={tmp_path / 'kubeconfig'}"
    assert env[1].startswith(f'export PATH="{tmp_path / "bin"}:')
    kubectl = subprocess.run([str(tmp_path / "bin" / "kubectl"), f"--kubeconfig={tmp_path / 'kubeconfig'}",
                              "get", "nodes", "-o", "name"], capture_output=True, text=True, check=True)
    assert len(kubectl.stdout.split()) == 3

    down = reentry("down", directory=tmp_path)
    assert down.returncode == 0, down.stderr
    assert [pid for pid in pids.values() if alive(pid)] == []
    assert "not running" in reentry("status", directory=tmp_path).stdout
