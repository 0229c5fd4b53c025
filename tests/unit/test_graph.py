from reentry.engine.graph import bottom_up, find_cycle, problems
from tests.unit.conftest import plan


def test_bottom_up_puts_dependencies_first_and_keeps_written_order_for_ties():
    spec = plan({"name": "checkout", "dependsOn": ["orders"]}, {"name": "orders", "dependsOn": ["auth"]},
                {"name": "auth"}, {"name": "search"})
    assert bottom_up(spec.services) == ["auth", "search", "orders", "checkout"]


def test_cycle_is_named_from_the_first_service_that_reaches_it():
    spec = plan({"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["c"]}, {"name": "c", "dependsOn": ["a"]})
    assert find_cycle(spec.services) == ["a", "b", "c", "a"]
    assert problems(spec.services) == ["dependsOn cycle: a -> b -> c -> a"]


def test_self_dependency_is_a_cycle():
    spec = plan({"name": "a", "dependsOn": ["a"]})
    assert problems(spec.services) == ["dependsOn cycle: a -> a"]


def test_unknown_and_duplicate_names_are_reported_by_name():
    spec = plan({"name": "a", "dependsOn": ["ghost"]}, {"name": "b"}, {"name": "b"})
    assert problems(spec.services) == [
        "duplicate service name 'b'",
        "service 'a' dependsOn unknown service 'ghost'",
    ]


def test_valid_graph_has_no_problems():
    spec = plan({"name": "a"}, {"name": "b", "dependsOn": ["a"]})
    assert problems(spec.services) == []
    assert find_cycle(spec.services) is None
