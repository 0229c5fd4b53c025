"""The plugin's calls to the API server, through lightkube and the caller's kubeconfig.

Like any kubectl plugin it uses the kubeconfig kubectl would (``--kubeconfig``, else every file of
``KUBECONFIG`` merged, else ``~/.kube/config``: see ``reentry.plugin.kubeconfig``), the context
named by ``--context`` or the current one, and the context's namespace unless ``-n`` names
another. A user whose credentials come from an exec plugin gets them as kubectl would
(``reentry.plugin.credentials``). Nothing shells out to kubectl.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, Client
from lightkube.config.kubeconfig import KubeConfig
from lightkube.resources.authentication_v1 import SelfSubjectReview
from lightkube.types import PatchType

from reentry.kube import RecoveryPlanResource, http_client
from reentry.plugin.credentials import CredentialError, ExecCredentials
from reentry.plugin.kubeconfig import KubeconfigError
from reentry.plugin.kubeconfig import load as load_kubeconfig

FIELD_MANAGER = "kubectl-reentry"


class PluginError(Exception):
    """Something the user must fix or know (not found, forbidden, no kubeconfig): one line, no traceback."""


def _exec_of(config: dict[str, Any], context: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The context's user's ``exec`` section (None without one) and its cluster, from a merged kubeconfig."""
    def named(section: str, name: Any, key: str) -> dict[str, Any]:
        entry: dict[str, Any] = next((e for e in config.get(section) or [] if e.get("name") == name), {})
        body = entry.get(key)
        return body if isinstance(body, dict) else {}

    ctx = named("contexts", context or config.get("current-context"), "context")
    exec_spec = named("users", ctx.get("user"), "user").get("exec")
    return (exec_spec if isinstance(exec_spec, dict) else None), named("clusters", ctx.get("cluster"), "cluster")


def _as_dict(obj: Any) -> dict[str, Any]:
    """A lightkube object as the plain dict the renderers read."""
    return dict(obj.to_dict())


def describe(err: ApiError) -> str:
    """An API error as kubectl would say it."""
    status = err.status
    return f"Error from server ({status.reason or status.code}): {status.message}"


@dataclass
class Api:
    """A client bound to one kubeconfig context and its default namespace."""

    client: Client
    namespace: str

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None,
                namespace: str | None = None) -> Api:
        try:
            loaded = load_kubeconfig(kubeconfig)
        except KubeconfigError as err:
            raise PluginError(str(err)) from err
        try:
            config = KubeConfig.from_dict(loaded.config).get(context_name=context)
            if config is None:
                raise PluginError(f"kubeconfig {loaded.describe()}: no current context (pass --context)")
        except PluginError:
            raise
        except Exception as err:  # lightkube raises ConfigError, KeyError, ... for a bad file or context
            raise PluginError(f"kubeconfig {loaded.describe()}: {err}") from err
        ns = namespace or config.namespace
        client = Client(config=config, namespace=ns, field_manager=FIELD_MANAGER)
        exec_spec, cluster = _exec_of(loaded.config, context)
        if exec_spec is not None:
            try:
                # lightkube runs exec plugins of v1beta1 only, without expiry: ours replaces it.
                http_client(client).auth = ExecCredentials(exec_spec, cluster)
            except CredentialError as err:
                raise PluginError(str(err)) from err
        return cls(client, ns)

    def _refused(self, name: str, err: ApiError) -> PluginError:
        """What to tell of an API error about one plan: a missing plan by name, else kubectl's wording."""
        if err.status.code == 404:
            return PluginError(f'recoveryplan "{name}" not found in namespace {self.namespace}')
        return PluginError(describe(err))

    def get(self, name: str) -> dict[str, Any]:
        """The plan as a plain dict."""
        try:
            obj = self.client.get(RecoveryPlanResource, name, namespace=self.namespace)
        except ApiError as err:
            raise self._refused(name, err) from err
        return _as_dict(obj)

    def plans(self, all_namespaces: bool) -> list[dict[str, Any]]:
        """Plans of the namespace, or of every namespace."""
        try:
            found = self.client.list(RecoveryPlanResource, namespace="*" if all_namespaces else self.namespace)
            return [_as_dict(o) for o in found]
        except ApiError as err:
            raise PluginError(describe(err)) from err

    def merge_patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self._patch(name, patch, PatchType.MERGE)

    def json_patch(self, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        return self._patch(name, ops, PatchType.JSON)

    def _patch(self, name: str, body: Any, kind: PatchType) -> dict[str, Any]:
        try:
            obj = self.client.patch(RecoveryPlanResource, name, body, namespace=self.namespace, patch_type=kind)
        except ApiError as err:
            raise self._refused(name, err) from err
        return _as_dict(obj)

    def whoami(self) -> str:
        """The caller's user name as the API server authenticated it (SelfSubjectReview)."""
        try:
            review = self.client.create(SelfSubjectReview())
        except ApiError as err:
            raise PluginError(f"cannot tell who you are (SelfSubjectReview): {describe(err)}") from err
        user = review.status.userInfo if review.status else None
        if user is None or not user.username:
            raise PluginError("the API server did not say who you are (SelfSubjectReview without a user name)")
        return str(user.username)

    def follow(self, name: str, tick: float | None) -> Iterator[dict[str, Any] | None]:
        """The plan now, then again on every change; None after each ``tick`` seconds without one.

        The watch runs in a daemon thread so that waiting can be bounded by a deadline: lightkube's
        watch reconnects on its own and never returns by itself.
        """
        first = self.get(name)
        yield first
        changes: queue.Queue[tuple[str, Any]] = queue.Queue()

        def watch() -> None:
            try:
                for kind, obj in self.client.watch(RecoveryPlanResource, namespace=self.namespace,
                                                   fields={"metadata.name": name},
                                                   resource_version=first["metadata"].get("resourceVersion")):
                    changes.put((kind, obj))
            except Exception as err:  # handed to the caller's thread, which reports it
                changes.put(("ERROR", err))

        threading.Thread(target=watch, name="kubectl-reentry-watch", daemon=True).start()
        while True:
            try:
                kind, obj = changes.get(timeout=tick)
            except queue.Empty:
                yield None
                continue
            if kind == "ERROR":
                raise PluginError(describe(obj) if isinstance(obj, ApiError) else f"watch failed: {obj}")
            if kind == "DELETED":
                raise PluginError(f'recoveryplan "{name}" was deleted')
            yield _as_dict(obj)
