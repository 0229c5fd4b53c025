from reentry.engine.graph import bottom_up, find_cycle, problems
from reentry.model import Problem, ServiceSpec
from tests.unit.builders import plan


def test_bottom_up_puts_dependencies_first_and_keeps_written_order_for_ties():
    spec = plan({"name": "checkout", "dependsOn": ["orders"]}, {"name": "orders", "dependsOn": ["auth"]},
                {"name": "auth"}, {"name": "search"})
    assert bottom_up(spec.services) == ["auth", "search", "orders", "checkout"]


def test_cycle_is_named_from_the_first_service_that_reaches_it():
    spec = plan({"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["c"]}, {"name": "c", "dependsOn": ["a"]})
    assert find_cycle(spec.services) == ["a", "b", "c", "a"]
    assert problems(spec.services) == [Problem(("services", 0, "dependsOn", 0), "dependsOn cycle: a -> b -> c -> a")]


def test_self_dependency_is_a_cycle():
    spec = plan({"name": "a", "dependsOn": ["a"]})
    assert problems(spec.services) == [Problem(("services", 0, "dependsOn", 0), "dependsOn cycle: a -> a")]


def test_unknown_and_duplicate_names_are_reported_by_name_at_the_field_at_fault():
    spec = plan({"name": "a", "dependsOn": ["x", "ghost"]}, {"name": "b"}, {"name": "b"}, {"name": "b"}, {"name": "x"})
    assert problems(spec.services) == [
        Problem(("services", 2, "name"), "duplicate service name 'b'"),  # once, at its first repetition
        Problem(("services", 0, "dependsOn", 1), "service 'a' dependsOn unknown service 'ghost'"),
    ]


def test_valid_graph_has_no_problems():
    spec = plan({"name": "a"}, {"name": "b", "dependsOn": ["a"]})
    assert problems(spec.services) == []
    assert find_cycle(spec.services) is None


def _chain(length: int, cycle: bool = False) -> list[ServiceSpec]:
    names = [f"s{i}" for i in range(length)]
    specs = [{"name": n, "selector": {}, "service": n, "dependsOn": [names[i - 1]] if i else []}
             for i, n in enumerate(names)]
    if cycle:
        specs[0]["dependsOn"] = [names[-1]]
    return [ServiceSpec.model_validate(s) for s in specs]


def test_a_very_long_chain_is_walked_without_recursion():
    services = _chain(20_000)
    assert problems(services) == []
    assert bottom_up(services) == [s.name for s in services]


def test_a_very_long_cycle_is_found_and_named():
    found = problems(_chain(20_000, cycle=True))
    assert len(found) == 1 and found[0].message.startswith("dependsOn cycle: s0 -> s19999 -> s19998")
    assert found[0].at == ("services", 0, "dependsOn", 0)
