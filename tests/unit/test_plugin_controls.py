"""The patches behind the plugin's controls, and its command line without a cluster."""

from __future__ import annotations

import json

import pytest

from reentry.engine.controls import from_metadata
from reentry.model import ABORT_ANNOTATION, APPROVE_ANNOTATION, PAUSED_ANNOTATION, RESUME_ANNOTATION
from reentry.plugin import command, controls, render

LAG = {"name": "replica-lag", "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "db",
                                           "path": ".data.lag", "max": 1}}


def plan_object(spec_extra=None, status=None, annotations=None):
    spec = {"owner": {"team": "payments"}, "services": [{"name": "a", "selector": {}, "service": "a"}],
            "state": {"checks": [LAG]}, "traffic": {"analysis": [{**LAG, "name": "error-rate"}]}, **(spec_extra or {})}
    return {"metadata": {"name": "p", "resourceVersion": "42", "annotations": annotations or {}},
            "spec": spec, "status": status or {}}


def test_the_annotations_the_plugin_writes_are_the_controls_the_engine_reads():
    notes = {}
    for patch in (controls.start_patch("2026-11-23T14:00:00.000Z"), controls.pause_patch(),
                  controls.abort_patch("rolled back to DR"), controls.approve_patch("alice", "clean")):
        notes.update(patch["metadata"]["annotations"])
    seen = from_metadata({"annotations": notes})
    assert seen.start and seen.paused
    assert seen.abort_reason == "rolled back to DR"
    assert seen.approval is not None and (seen.approval.by, seen.approval.comment) == ("alice", "clean")
    assert json.loads(notes[APPROVE_ANNOTATION])["verified"] == "SelfSubjectReview"
    with pytest.raises(controls.ControlError, match="reason"):
        controls.abort_patch("  ")
    assert ABORT_ANNOTATION in controls.abort_patch("x")["metadata"]["annotations"]


def test_resume_lifts_a_manual_pause_and_gives_a_timeout_pause_a_fresh_token():
    manual = plan_object(status={"phase": "Paused", "pauseReason": "paused by the reentry.dev/paused annotation"},
                         annotations={PAUSED_ANNOTATION: "true"})
    assert controls.resume_patch(manual, "t1") == {"metadata": {"annotations": {PAUSED_ANNOTATION: None}}}
    by_timeout = plan_object(status={"phase": "Paused", "pauseReason": "state check replica-lag timed out"})
    assert controls.resume_patch(by_timeout, "t2") == {"metadata": {"annotations": {RESUME_ANNOTATION: "t2"}}}
    assert controls.resume_patch(plan_object(status={"phase": "StateReconciliation"}), "t3") is None


def test_override_appends_once_with_a_resource_version_test():
    first = controls.override_patch(plan_object(), "error-rate", "dashboards verified by hand")
    assert first == [{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
                     {"op": "add", "path": "/spec/overrides",
                      "value": [{"check": "error-rate", "reason": "dashboards verified by hand"}]}]
    existing = plan_object({"overrides": [{"check": "replica-lag", "reason": "r"}]})
    second = controls.override_patch(existing, "error-rate", "why")
    assert second is not None
    assert second[1] == {"op": "add", "path": "/spec/overrides/-", "value": {"check": "error-rate", "reason": "why"}}
    assert controls.override_patch(existing, "replica-lag", "again") is None  # no duplicate
    with pytest.raises(controls.ControlError, match=r"no check 'ghost' \(checks: replica-lag, error-rate\)"):
        controls.override_patch(plan_object(), "ghost", "why")
    with pytest.raises(controls.ControlError, match="reason"):
        controls.override_patch(plan_object(), "replica-lag", "")


def test_usage_errors_and_a_missing_kubeconfig_exit_3_not_2(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as info:
        command.main(["status"])
    assert info.value.code == render.EXIT_ERROR
    with pytest.raises(SystemExit) as info:
        command.main(["abort", "p"])  # --reason is required
    assert info.value.code == render.EXIT_ERROR
    assert command.main(["status", "p", "--wait", "--timeout", "soon"]) == render.EXIT_ERROR
    assert "invalid duration 'soon'" in capsys.readouterr().err
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    assert command.main(["status", "p", "--kubeconfig", str(tmp_path / "missing")]) == render.EXIT_ERROR
    assert f"no kubeconfig at {tmp_path / 'missing'}" in capsys.readouterr().err


def test_a_kubeconfig_that_is_not_yaml_is_named_by_line_without_quoting_it(tmp_path, capsys):
    token = "s3cr3t-t0ken-value"
    broken = tmp_path / "kubeconfig"
    broken.write_text(f"apiVersion: v1\nusers:\n- name: u\n  user:\n    token: {token}: oops\n")
    assert command.main(["list", "--kubeconfig", str(broken)]) == render.EXIT_ERROR
    err = capsys.readouterr().err
    assert f"kubeconfig {broken}: not valid YAML at line 5: mapping values are not allowed here" in err
    assert token not in err


def test_the_plugins_approval_starts_as_the_approval_policy_requires_and_a_key_twice_is_not_believed():
    from reentry.engine.controls import approval_from
    from reentry.plugin.controls import approval_value

    # the chart's ValidatingAdmissionPolicy admits a new approval only if it starts so, with the caller's name
    assert approval_value("alice@example.com", "ok").startswith('{"by": "alice@example.com"')
    assert approval_from(approval_value("alice@example.com", "ok"), []).by == "alice@example.com"
    # a second "by" (however spelled) after the one the policy checked is not taken at its word
    for forged in ('{"by": "bob", "by": "alice"}', '{"by": "bob", "\\u0062y": "alice"}'):
        approval = approval_from(forged, [{"manager": "kubectl-annotate", "fieldsV1": {"f:metadata": {
            "f:annotations": {"f:reentry.dev/approve": {}}}}}])
        assert approval.by == "unverified (set via kubectl-annotate)", forged
