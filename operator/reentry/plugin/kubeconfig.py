"""The kubeconfig as kubectl loads it, for the plugin (client-go's loading rules).

* ``--kubeconfig FILE``: that file alone; it must exist.
* else ``KUBECONFIG``: a list of files (separated by ``:``, ``;`` on Windows), merged. Missing
  files are skipped. Of clusters, users and contexts, the first file that names one wins; so does
  the first file that sets ``current-context``. A file that is not a kubeconfig is an error.
* else ``~/.kube/config``.

Before the files are merged, a relative path in one of them (a cluster's CA, a user's client
certificate, key or token file, an exec plugin's command when it names a directory) is made
absolute against that file's directory, as kubectl does: a merged file keeps meaning what it meant.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The kinds of named entries a kubeconfig holds, with the key of each entry's body.
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
#: Fields that hold a path, by the section's entry key.
_PATHS = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}
#: A kubeconfig larger than this is not read (one is a few kilobytes; a bigger file is a mistake).
MAX_BYTES = 4 * 2**20


class KubeconfigError(Exception):
    """The kubeconfig cannot be used: one line naming the file and the problem, never its content."""


@dataclass(frozen=True)
class Kubeconfig:
    """The merged configuration and the files it came from, in order."""

    config: dict[str, Any]
    files: tuple[Path, ...]

    def describe(self) -> str:
        return ", ".join(str(f) for f in self.files) or "no file"


def files(explicit: str | None, environ: Mapping[str, str] = os.environ) -> tuple[list[Path], bool]:
    """The files to read, and whether they must exist (an explicit file must; a list's need not)."""
    if explicit:
        return [Path(explicit).expanduser()], True
    listed = [Path(p).expanduser() for p in (environ.get("KUBECONFIG") or "").split(os.pathsep) if p]
    if listed:
        return list(dict.fromkeys(listed)), False
    return [Path("~/.kube/config").expanduser()], True


def load(explicit: str | None = None, environ: Mapping[str, str] = os.environ) -> Kubeconfig:
    """Read and merge the kubeconfig kubectl would use; :class:`KubeconfigError` if there is none."""
    paths, required = files(explicit, environ)
    documents = []
    read = []
    for path in paths:
        if not path.exists():
            if required:
                raise KubeconfigError(f"no kubeconfig at {path} (set KUBECONFIG or pass --kubeconfig)")
            continue
        documents.append(absolute_paths(_read(path), path.parent))
        read.append(path)
    if not documents:
        listed = ", ".join(str(p) for p in paths)
        raise KubeconfigError(f"none of the files in KUBECONFIG exists ({listed})")
    return Kubeconfig(merge(documents), tuple(read))


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise KubeconfigError(f"kubeconfig {path}: larger than {MAX_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text) if text.strip() else {}
    except KubeconfigError:
        raise
    except yaml.YAMLError as err:
        # PyYAML's message quotes the offending line, which in a kubeconfig may hold a token or a key.
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise KubeconfigError(f"kubeconfig {path}: not valid YAML{where}: {problem}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise KubeconfigError(f"kubeconfig {path}: cannot be read: {type(err).__name__}") from err
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KubeconfigError(f"kubeconfig {path}: not a kubeconfig (a {type(document).__name__} at the top)")
    for section, _ in _SECTIONS:
        entries = document.get(section)
        if entries is not None and not (isinstance(entries, list) and all(isinstance(e, dict) for e in entries)):
            raise KubeconfigError(f"kubeconfig {path}: {section} must be a list of named entries")
    return document


def absolute_paths(document: dict[str, Any], base: Path) -> dict[str, Any]:
    """``document`` with its relative file paths made absolute against ``base`` (a copy)."""
    document = copy.deepcopy(document)
    for section, key in _SECTIONS:
        for entry in document.get(section) or []:
            body = entry.get(key)
            if not isinstance(body, dict):
                continue
            for field in _PATHS.get(key, ()):
                value = body.get(field)
                if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                    body[field] = str(base / value)
            command = (body.get("exec") or {}).get("command") if key == "user" else None
            # kubectl looks a bare command up on PATH; one with a directory is relative to the file.
            if isinstance(command, str) and os.sep in command and not Path(command).is_absolute():
                body["exec"]["command"] = str(base / command)
    return document


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """client-go's merge: the first file to name a cluster, user or context wins, and the first
    ``current-context`` set."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for section, _ in _SECTIONS:
        seen: set[str] = set()
        for document in documents:
            for entry in document.get(section) or []:
                name = entry.get("name")
                if isinstance(name, str) and name not in seen:
                    seen.add(name)
                    merged[section].append(entry)
    current = next((d.get("current-context") for d in documents if d.get("current-context")), None)
    if current:
        merged["current-context"] = current
    return merged
