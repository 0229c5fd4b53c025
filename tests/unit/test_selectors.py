import pytest

from reentry.engine.selectors import matches
from reentry.model import LabelSelector


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ({"matchLabels": {"app": "a"}}, {"app": "a", "tier": "x"}, True),
    ({"matchLabels": {"app": "a"}}, {"app": "b"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]}]}, {"tier": "y"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, {"tier": "x"}, False),
    ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, {"canary": ""}, True),
    ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, {"canary": ""}, False),
    ({}, {"anything": "goes"}, True),
])
def test_selectors_match_as_the_api_server_does(selector, labels, expected):
    assert matches(LabelSelector.model_validate(selector), labels) is expected
