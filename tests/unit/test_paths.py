"""Field paths into Kubernetes objects, and how a value is judged against a threshold."""

import re

import pytest

from reentry.model import Comparison
from reentry.paths import Field, Index, InvalidPath, MissingField, Select, compare, parse, resolve

DEPLOYMENT = {
    "metadata": {"name": "db", "annotations": {"external-dns.alpha.kubernetes.io/weight": "100", "a=b": "x"}},
    "spec": {"replicas": 3, "paused": False, "ratio": 0.25},
    "status": {
        "replicas": 3.0,
        "conditions": [
            {"type": "Progressing", "status": "True"},
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        ],
    },
    "items": [{"name": "first", "port": 80}, {"name": "second", "port": 443}],
}


@pytest.mark.parametrize(("path", "value"), [
    (".spec.replicas", 3),
    (".spec.paused", False),
    (".status.conditions[type=Available].status", "False"),
    (".status.conditions[type='Available'].reason", "MinimumReplicasUnavailable"),
    (".status.conditions[1].type", "Available"),
    (".items[0].name", "first"),
    (".items[port=443].name", "second"),
    (".metadata.annotations['external-dns.alpha.kubernetes.io/weight']", "100"),
    ('.metadata.annotations["external-dns.alpha.kubernetes.io/weight"]', "100"),
    (".metadata.annotations[external-dns.alpha.kubernetes.io/weight]", "100"),
    (".metadata.annotations['a=b']", "x"),
    (".spec", {"replicas": 3, "paused": False, "ratio": 0.25}),
])
def test_resolves(path, value):
    assert resolve(DEPLOYMENT, path) == value


def test_parses_into_steps():
    assert parse(".status.conditions[type=Ready].status") == (
        Field("status"), Field("conditions"), Select("type", "Ready"), Field("status"))
    assert parse(".items[2]['a.b']") == (Field("items"), Index(2), Field("a.b"))


@pytest.mark.parametrize(("path", "missing", "reason"), [
    (".spec.strategy", ".spec.strategy", ""),
    (".spec.strategy.type", ".spec.strategy", ""),
    (".status.conditions[type=Ready].status", ".status.conditions[type=Ready]", ""),
    (".status.conditions[7]", ".status.conditions[7]", ""),
    (".spec.replicas.value", ".spec.replicas.value", "a number has no fields"),
    (".spec[0]", ".spec[0]", "a map is not a list"),
    (".metadata.annotations['example.com/absent']", ".metadata.annotations['example.com/absent']", ""),
])
def test_missing_field_names_the_path_up_to_the_gap(path, missing, reason):
    with pytest.raises(MissingField) as raised:
        resolve(DEPLOYMENT, path)
    assert raised.value.path == missing
    assert raised.value.reason == reason


def test_null_counts_as_missing():
    with pytest.raises(MissingField, match=r"no field \.status\.replicas"):
        resolve({"status": {"replicas": None}}, ".status.replicas")


@pytest.mark.parametrize(("path", "problem"), [
    ("spec.replicas", "must start with '.'"),
    ("", "must start with '.'"),
    (".", "empty field name at position 0"),
    (".spec..replicas", "empty field name at position 5"),
    (".spec[", "unclosed '[' at position 5"),
    (".spec[0", "unclosed '['"),
    (".spec['a'", "expected ']' to close the '[' at position 5"),
    (".spec[]", "empty []"),
    (".spec['a]", "unclosed quote"),
    (".spec[=x]", "needs a key"),
    (".spec[type=x", "unclosed '['"),
    (".spec[0]x", "unexpected 'x' at position 8"),
    (".spec]", "unexpected ']'"),
])
def test_invalid_paths_are_named(path, problem):
    with pytest.raises(InvalidPath, match=re.escape(problem)):
        resolve(DEPLOYMENT, path)


@pytest.mark.parametrize(("value", "cmp", "passes", "threshold"), [
    ("Ready", {"equals": "Ready"}, True, "equals Ready"),
    ("NotReady", {"equals": "Ready"}, False, "equals Ready"),
    (True, {"equals": "true"}, True, "equals true"),
    (False, {"equals": "true"}, False, "equals true"),
    (3, {"equals": "3"}, True, "equals 3"),
    (3.0, {"equals": "3"}, True, "equals 3"),
    (0.25, {"equals": "0.25"}, True, "equals 0.25"),
    ({"b": 1, "a": [2]}, {"equals": '{"a":[2],"b":1}'}, True, 'equals {"a":[2],"b":1}'),
    (3, {"min": 3, "max": 5}, True, "min 3, max 5"),
    (6, {"min": 3, "max": 5}, False, "min 3, max 5"),
    (2, {"min": 3}, False, "min 3"),
    (0.02, {"max": 0.05}, True, "max 0.05"),
    ("100", {"min": 50}, True, "min 50"),
    ("4", {"equals": "4", "max": 3}, False, "equals 4, max 3"),
    ("Ready", {"min": 1}, False, "min 1"),
    (True, {"min": 0}, False, "min 0"),
    ("nan", {"max": 1}, False, "max 1"),
    ([1, 2], {"max": 1}, False, "max 1"),
    ("anything", {}, True, "present"),
])
def test_compare(value, cmp, passes, threshold):
    assert compare(value, Comparison.model_validate(cmp)) == (passes, threshold)
