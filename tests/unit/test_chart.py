"""The Helm chart, rendered by the real helm (built from Go modules, cached like the sandbox binaries).

What is checked here without a cluster: lint, what the templates render for the default and the
namespace-scoped values, that the RBAC grants exactly the calls the operator's kinds make (a new
check, action or target kind fails a test until its rules are reviewed), that the CRD is the one
in crds/, that the alerts pass promtool, and that the chart, the Dockerfile, pyproject.toml and
docs/install.md agree. tests/e2e/test_chart.py proves the RBAC on a real API server.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reentry import crd, model

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "reentry"
RELEASE, RELEASE_NAMESPACE = "reentry", "reentry-system"
FRAMEWORK, APPLICATION = "# ---- framework (kopf) ----", "# ---- application (reentry) ----"


def helm() -> str:
    """The pinned helm binary from the cache, built on first use (``reentry sandbox build``)."""
    from reentry.sandbox import binaries

    return str(binaries.ensure(["helm"])["helm"])


def render_text(values: dict[str, Any] | None = None) -> str:
    """``helm template`` of the chart with ``values``, as text (comments kept)."""
    return _rendered(yaml.safe_dump(values or {}))[0]


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rendered documents (fresh copies: a test may change them)."""
    return copy.deepcopy(_rendered(yaml.safe_dump(values or {}))[1])


@functools.cache
def _rendered(values_yaml: str) -> tuple[str, list[dict[str, Any]]]:
    # Cached: the CRD makes every rendering ~300 KB of YAML, and most tests share the default values.
    argv = [helm(), "template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, "--values", "-"]
    result = subprocess.run(argv, input=values_yaml, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed: {result.stderr}")
    return result.stdout, [d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


AGGREGATE_LABEL = "rbac.authorization.k8s.io/aggregate-to-"


def aggregated(doc: dict[str, Any]) -> bool:
    """A ClusterRole for people (aggregated into view/edit/admin), not for the operator."""
    return any(k.startswith(AGGREGATE_LABEL) for k in (doc["metadata"].get("labels") or {}))


def operators(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents without the ClusterRoles aggregated into the built-in user roles and without the
    leader election's Role and RoleBinding: the rules for what the plans make the operator call."""
    return [d for d in docs if not aggregated(d) and not d["metadata"]["name"].endswith(LEADER_ELECTION_SUFFIX)]


LEADER_ELECTION_SUFFIX = "-leader-election"


Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def grants(rules: list[dict[str, Any]]) -> set[Grant]:
    return {(g, r, v) for rule in rules for g in rule.get("apiGroups", []) for r in rule.get("resources", [])
            for v in rule["verbs"]}


# ---- what the operator calls, kind by kind --------------------------------------------------------

CORE, APPS = "", "apps"
SECRET_GET: set[Grant] = {(CORE, "secrets", "get")}
HTTP_CLIENT = SECRET_GET | {(CORE, "configmaps", "get")}  # credentials, headers, CA bundles
LEASES = {("coordination.k8s.io", "leases", "get"), ("coordination.k8s.io", "leases", "list"), (CORE, "pods", "get")}

#: kopf's own calls (watching plans, its annotations and finalizer, events, runtime discovery).
FRAMEWORK_CALLS: set[Grant] = {
    (model.GROUP, "recoveryplans", "list"), (model.GROUP, "recoveryplans", "watch"),
    (model.GROUP, "recoveryplans", "patch"), (CORE, "events", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
    (CORE, "namespaces", "list"), (CORE, "namespaces", "watch"),
}
#: The controller's calls for every plan: status, the pods and their gates; and the caches' watches
#: of pods, Services and EndpointSlices (kopf indexes: a list, then a watch).
CONTROLLER_CALLS: set[Grant] = {
    (model.GROUP, "recoveryplans/status", "patch"), (CORE, "pods/status", "patch"),
    *{(g, r, v) for g, r in ((CORE, "pods"), (CORE, "services"), ("discovery.k8s.io", "endpointslices"))
      for v in ("list", "watch")},
}
#: Each kind's calls. The generic kinds (resource, patch, annotation) name arbitrary objects: their
#: rules come from rbac.extraRules, never from a wildcard.
KIND_CALLS: dict[str, set[Grant]] = {
    # checks
    "workload": {(APPS, "deployments", "get"), (APPS, "statefulsets", "get")},
    "endpoints": {(CORE, "services", "get"), ("discovery.k8s.io", "endpointslices", "list")},
    "resource": set(),
    "leases": LEASES,
    "serviceAccountToken": {(CORE, "serviceaccounts/token", "create"),
                            ("authentication.k8s.io", "tokenreviews", "create")},
    "certificate": HTTP_CLIENT,
    "signingKeys": HTTP_CLIENT,
    "secretFreshness": SECRET_GET,
    "prometheus": HTTP_CLIENT,
    "http": HTTP_CLIENT,
    # actions
    "releaseLeases": LEASES | {("coordination.k8s.io", "leases", "delete")},
    "patch": set(),
    "job": {("batch", "jobs", "create"), ("batch", "jobs", "get")},
    "invalidate": HTTP_CLIENT,
    # traffic targets
    "httpRoute": {("gateway.networking.k8s.io", "httproutes", v) for v in ("get", "patch", "watch")},
    "ingressNginx": {("networking.k8s.io", "ingresses", v) for v in ("get", "patch", "watch")},
    "scale": {(APPS, r, v) for r in ("deployments", "statefulsets") for v in ("get", "patch", "watch")},
    "hpa": {("autoscaling", "horizontalpodautoscalers", v) for v in ("get", "patch", "watch")},
    "configMapKey": {(CORE, "configmaps", v) for v in ("get", "patch", "watch")},
    "annotation": set(),
}


def needed() -> set[Grant]:
    return FRAMEWORK_CALLS | CONTROLLER_CALLS | set().union(*KIND_CALLS.values())


# ---- lint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [
    {},
    {"watchNamespaces": ["shop", "payments"], "rbac": {"secretNamespaces": ["vault"]}},
    {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                 "dashboard": {"enabled": True}}},
], ids=["default", "namespace-scoped", "monitoring"])
def test_helm_lint_passes(values: dict[str, Any], tmp_path: Path):
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    result = subprocess.run([helm(), "lint", "--strict", str(CHART), "--values", str(file)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_refuses_a_wildcard_verb_and_an_unknown_value():
    with pytest.raises(AssertionError, match="verbs/0"):
        render_text({"rbac": {"extraRules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["*"]}]}})
    with pytest.raises(AssertionError, match="additional properties 'replicas' not allowed"):
        render_text({"replicas": 2})


# ---- RBAC ------------------------------------------------------------------------------------------


def test_every_kind_of_the_api_has_its_calls_reviewed():
    # A new check, action or target kind must say here what it calls before the chart can be trusted.
    kinds = {*model.CHECK_KINDS, *model.ACTION_KINDS, *model.TARGET_KINDS}
    assert kinds == set(KIND_CALLS)


def test_the_cluster_role_grants_exactly_what_the_operator_calls():
    docs = render()
    role = one(operators(docs), "ClusterRole")
    granted = grants(role["rules"])
    assert granted == needed(), (f"not needed: {sorted(granted - needed())}; "
                                 f"missing: {sorted(needed() - granted)}")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": one(docs, "ServiceAccount")["metadata"]["name"],
                                    "namespace": RELEASE_NAMESPACE}]
    assert not of_kind(operators(docs), "Role")


def test_framework_and_application_rules_are_commented_apart():
    text = render_text()
    role = text[text.index("\nkind: ClusterRole\nmetadata:\n  name: reentry\n"):]
    role = role[:role.index("\n---\n")]
    assert role.index(FRAMEWORK) < role.index(APPLICATION)
    framework_part = yaml.safe_load(role[role.index(FRAMEWORK):role.index(APPLICATION)])
    application_part = yaml.safe_load(role[role.index(APPLICATION):])
    assert grants(framework_part) == FRAMEWORK_CALLS
    assert grants(application_part) == needed() - FRAMEWORK_CALLS
    # every rule says why it is there
    for line_no, line in enumerate(role.splitlines()):
        if line.startswith("- apiGroups"):
            previous = role.splitlines()[line_no - 1]
            assert previous.startswith("#") or previous.startswith("  verbs"), line


def test_namespace_scoped_mode_has_a_role_per_namespace_and_the_flags():
    docs = render({"watchNamespaces": ["shop", "payments"]})
    roles = of_kind(operators(docs), "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    cluster_scoped = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")} | {
        (CORE, "namespaces", v) for v in ("list", "watch")} | {("authentication.k8s.io", "tokenreviews", "create")}
    for role in roles:
        assert grants(role["rules"]) == needed() - cluster_scoped
    assert grants(one(operators(docs), "ClusterRole")["rules"]) == cluster_scoped
    bindings = of_kind(operators(docs), "RoleBinding")
    assert sorted((b["metadata"]["namespace"], b["roleRef"]["kind"]) for b in bindings) == [
        ("payments", "Role"), ("shop", "Role")]
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace")] == ["--namespace=shop", "--namespace=payments"]
    assert not of_kind(operators(render({"watchNamespaces": ["shop"], "rbac": {"clusterScopedCalls": False}})),
                       "ClusterRole")


def test_secrets_can_be_narrowed_to_named_namespaces():
    docs = render({"rbac": {"secretNamespaces": ["vault"]}})
    assert (CORE, "secrets", "get") not in grants(one(operators(docs), "ClusterRole")["rules"])
    secrets_role = one(operators(docs), "Role")
    assert secrets_role["metadata"]["namespace"] == "vault"
    assert grants(secrets_role["rules"]) == SECRET_GET


def test_extra_rules_are_added_for_the_kinds_plans_name():
    extra = {"apiGroups": [""], "resources": ["services"], "verbs": ["patch"]}
    docs = render({"rbac": {"extraRules": [extra]}})
    assert grants(one(operators(docs), "ClusterRole")["rules"]) == needed() | {(CORE, "services", "patch")}
    namespaced = render({"watchNamespaces": ["shop"], "rbac": {"extraRules": [extra]}})
    assert (CORE, "services", "patch") in grants(one(operators(namespaced), "Role")["rules"])


def test_no_rbac_when_disabled():
    docs = render({"rbac": {"create": False}})
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]


# ---- Deployment ------------------------------------------------------------------------------------


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_the_deployment_runs_non_root_read_only_with_probes_and_resources():
    docs = render()
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    c = container(docs)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(c["resources"])
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"health": 8080, "metrics": 8383}
    assert c["args"] == ["run", "--liveness=http://0.0.0.0:8080/healthz", "--metrics-port=8383", "--resync=300",
                         "--qps=100", "--burst=500", "--cross-namespace-references=Granted", "--log-format=text",
                         "--leader-elect",
                         f"--leader-election-namespace={RELEASE_NAMESPACE}", "--leader-election-id=reentry"]


def test_the_deployment_args_parse_with_the_operators_cli():
    from reentry import cli

    for values in ({}, {"watchNamespaces": ["shop"], "operator": {"logLevel": "debug"}}):
        args = cli.parser().parse_args(container(render(values))["args"])
        assert args.command == "run" and args.liveness == "http://0.0.0.0:8080/healthz"
    args = cli.parser().parse_args(container(render({"watchNamespaces": ["shop", "b"]}))["args"])
    assert args.namespace == ["shop", "b"]


def test_metrics_port_from_values_and_off_when_disabled():
    c = container(render({"metrics": {"port": 9300}}))
    assert "--metrics-port=9300" in c["args"]
    assert one(render({"metrics": {"port": 9300}}), "Service")["spec"]["ports"][0]["port"] == 9300
    docs = render({"metrics": {"enabled": False}})
    # Off means off: the operator's own default would otherwise still serve on 8383.
    assert [a for a in container(docs)["args"] if a.startswith("--metrics-port")] == ["--metrics-port=0"]
    assert not of_kind(docs, "Service")


# ---- CRD ---------------------------------------------------------------------------------------------


def test_the_chart_carries_the_generated_crd_unchanged():
    copy = CHART / "files" / "crds" / crd.CRD_FILE
    assert copy.read_bytes() == (ROOT / "crds" / crd.CRD_FILE).read_bytes(), (
        "charts/reentry/files/crds/ is stale: run `python -m reentry.crd` (it writes both copies)")
    rendered = one(render(), "CustomResourceDefinition")
    generated = yaml.safe_load((ROOT / "crds" / crd.CRD_FILE).read_text())
    assert rendered["spec"] == generated["spec"]
    assert rendered["metadata"]["name"] == generated["metadata"]["name"]


def test_crds_install_and_keep():
    kept = one(render(), "CustomResourceDefinition")
    assert kept["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    not_kept = one(render({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "helm.sh/resource-policy" not in (not_kept["metadata"].get("annotations") or {})
    assert not of_kind(render({"crds": {"install": False}}), "CustomResourceDefinition")


# ---- monitoring --------------------------------------------------------------------------------------


MONITORING = {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                          "dashboard": {"enabled": True}}}


def test_monitoring_objects_are_optional():
    plain = {d["kind"] for d in render()}
    assert not plain & {"ServiceMonitor", "PrometheusRule", "ConfigMap"}
    docs = render(MONITORING)
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= one(docs, "Service")["metadata"]["labels"].items()


def test_the_alerts_pass_promtool(tmp_path: Path):
    rule = one(render(MONITORING), "PrometheusRule")
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert set(alerts) == {"ReentryPlanStalled", "ReentryRestorationBudgetExceeded", "ReentryStepBackLoop"}
    file = tmp_path / "rules.yaml"
    file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is needed to check the alert rules"
    result = subprocess.run([promtool, "check", "rules", str(file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_is_grafana_json_labelled_for_the_sidecar():
    config_map = one(render(MONITORING), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["reentry.json"])
    assert dashboard["uid"] == "reentry-operator" and dashboard["panels"]
    assert all(p["targets"][0]["expr"] for p in dashboard["panels"])


# ---- chart, image, project version and docs agree ----------------------------------------------------


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in lines if not line.startswith("#")))
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "")
            for parts in (line.split(None, 1) for line in joined.splitlines() if line)]


def test_the_chart_version_and_image_tag_follow_the_project():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == chart["version"] == project_version()
    assert container(render())["image"] == f"ghcr.io/reentry-dev/reentry:{project_version()}"


def test_the_dockerfile_is_multi_stage_non_root_and_matches_the_chart():
    instructions = dockerfile_instructions()
    stages = [arg for op, arg in instructions if op == "FROM"]
    # Both stages on one base: by default the official slim image; `make image` passes its own.
    assert ("ARG", "BASE=python:3.11-slim-bookworm") in instructions
    assert stages == ["${BASE} AS builder", "${BASE}"]
    users = [arg for op, arg in instructions if op == "USER"]
    assert users, "the image must set USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0 and group.isdigit() and int(group) != 0  # numeric: runAsNonRoot can verify
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(user) == values["podSecurityContext"]["runAsUser"]
    assert int(group) == values["podSecurityContext"]["runAsGroup"]
    assert dict(instructions)["ENTRYPOINT"] == '["reentry"]'
    assert json.loads(dict(instructions)["CMD"])[0] == "run"
    assert f"ARG VERSION={project_version()}" in {f"{op} {arg}" for op, arg in instructions}
    image = f"{values['image']['repository']}:{project_version()}"
    assert f"docker build -t {image} ." in (ROOT / "Dockerfile").read_text()
    health = values["healthPort"]
    assert f"--liveness=http://0.0.0.0:{health}/healthz" in dict(instructions)["CMD"]
    assert str(values["metrics"]["port"]) in dict(instructions)["EXPOSE"].split()


def leaves(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of values.yaml down to scalars, lists and empty maps."""
    found: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in ("resources", "podSecurityContext", "securityContext",
                                                              "metrics.dashboard.labels"):
            found.update(leaves(value, f"{path}."))
        else:
            found[path] = value
    return found


def test_the_install_docs_table_lists_every_value_with_its_default():
    values = leaves(yaml.safe_load((CHART / "values.yaml").read_text()))
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|", (ROOT / "docs" / "install.md").read_text(), re.M)
    documented = dict(rows)
    assert set(documented) == set(values), (f"undocumented: {sorted(set(values) - set(documented))}; "
                                            f"not in values.yaml: {sorted(set(documented) - set(values))}")
    for key, value in values.items():
        assert yaml.safe_load(documented[key]) == value, f"{key}: docs say {documented[key]}, values.yaml {value!r}"


def test_alerts_and_dashboard_use_only_metrics_the_operator_defines():
    from prometheus_client import CollectorRegistry

    from reentry.metrics import Metrics

    registry = CollectorRegistry()
    Metrics(registry)
    defined = {sample_name for family in registry.collect() for sample_name in
               {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum",
                f"{family.name}_count"}}
    docs = render(MONITORING)
    used = set(re.findall(r"\breentry_[a-z_]+", json.dumps(one(docs, "PrometheusRule")["spec"])))
    used |= set(re.findall(r"\breentry_[a-z_]+", one(docs, "ConfigMap")["data"]["reentry.json"]))
    assert used and used <= defined, f"not defined by reentry.metrics: {sorted(used - defined)}"


# ---- conventions an admin checks before installing (issue 16) -------------------------------------


def test_people_get_plans_through_the_built_in_roles_and_it_can_be_turned_off():
    docs = render()
    roles = {r["metadata"]["name"]: r for r in of_kind(docs, "ClusterRole") if aggregated(r)}
    view, edit = roles["reentry-view"], roles["reentry-edit"]
    labels = {name: {k.removeprefix(AGGREGATE_LABEL) for k, v in r["metadata"]["labels"].items()
                     if k.startswith(AGGREGATE_LABEL) and v == "true"} for name, r in roles.items()}
    assert labels == {"reentry-view": {"view", "edit", "admin"}, "reentry-edit": {"edit", "admin"}}
    group = model.GROUP
    assert grants(view["rules"]) == {(group, r, v) for r in ("recoveryplans", "recoveryplans/status")
                                     for v in ("get", "list", "watch")}
    # edit and admin apply plans and use their controls (annotations); nobody but the operator writes status
    assert grants(edit["rules"]) == {(group, "recoveryplans", v)
                                     for v in ("create", "update", "patch", "delete", "deletecollection")}
    assert not [d for d in of_kind(render({"rbac": {"aggregateToDefaultRoles": False}}), "ClusterRole")
                if aggregated(d)]


def test_the_operator_gets_a_priority_class_of_its_own_or_the_one_named():
    docs = render()
    priority_class = one(docs, "PriorityClass")
    assert 0 < priority_class["value"] <= 1_000_000_000 and priority_class["globalDefault"] is False
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == priority_class["metadata"]["name"]
    named = render({"priorityClassName": "system-cluster-critical"})
    assert not of_kind(named, "PriorityClass")
    assert one(named, "Deployment")["spec"]["template"]["spec"]["priorityClassName"] == "system-cluster-critical"
    off = render({"priorityClass": {"create": False}})
    assert not of_kind(off, "PriorityClass")
    assert "priorityClassName" not in one(off, "Deployment")["spec"]["template"]["spec"]


def test_the_network_policy_is_optional_and_narrow():
    assert not of_kind(render(), "NetworkPolicy")
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    probe = {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 9090, "protocol": "TCP"}]}
    policy = one(render({"networkPolicy": {"enabled": True, "metricsFrom": [peer], "extraEgress": [probe],
                                           "apiServer": {"cidrs": ["172.20.0.1/32"]}}}), "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == one(render(), "Deployment")["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]},
                               {"ports": [{"port": 8383, "protocol": "TCP"}], "from": [peer]}]
    assert spec["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
         "to": [{"ipBlock": {"cidr": "172.20.0.1/32"}}]},
        probe]
    # with metrics off, the metrics port is not opened
    closed = one(render({"networkPolicy": {"enabled": True}, "metrics": {"enabled": False}}), "NetworkPolicy")
    assert closed["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_the_log_format_reaches_the_operator():
    assert "--log-format=text" in container(render())["args"]
    assert "--log-format=json" in container(render({"operator": {"logFormat": "json"}}))["args"]


def test_two_replicas_elect_a_leader_spread_over_nodes_and_a_budget_keeps_one():
    docs = render()
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    budget = one(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    # the Lease: created, then read and renewed by its name only, in the release's namespace
    role = one([d for d in docs if d["metadata"]["name"].endswith(LEADER_ELECTION_SUFFIX)], "Role")
    assert role["metadata"]["namespace"] == RELEASE_NAMESPACE
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["reentry"],
         "verbs": ["get", "update"]}]
    binding = one([d for d in docs if d["metadata"]["name"].endswith(LEADER_ELECTION_SUFFIX)], "RoleBinding")
    assert binding["subjects"][0]["name"] == one(docs, "ServiceAccount")["metadata"]["name"]
    required = one(render({"antiAffinity": "required"}), "Deployment")["spec"]["template"]["spec"]["affinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in required["podAntiAffinity"]
    assert "affinity" not in one(render({"antiAffinity": "none"}), "Deployment")["spec"]["template"]["spec"]


def test_without_leader_election_one_replica_recreated_and_more_is_refused(tmp_path: Path):
    docs = render({"leaderElection": {"enabled": False}, "replicaCount": 1})
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not [a for a in container(docs)["args"] if a.startswith("--leader")]
    assert not of_kind(docs, "PodDisruptionBudget")
    argv = [helm(), "template", RELEASE, str(CHART), "--set", "leaderElection.enabled=false"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "replicaCount > 1 needs leaderElection.enabled" in result.stderr


def test_the_approval_policy_binds_to_plans_and_can_be_turned_off():
    docs = render()
    policy, binding = one(docs, "ValidatingAdmissionPolicy"), one(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [{
        "apiGroups": [model.GROUP], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
        "resources": ["recoveryplans"]}]
    off = render({"approvalPolicy": {"enabled": False}})
    assert not of_kind(off, "ValidatingAdmissionPolicy") and not of_kind(off, "ValidatingAdmissionPolicyBinding")
