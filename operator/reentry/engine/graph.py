"""The dependency graph of a plan's services: validation and bottom-up order."""

from __future__ import annotations

from collections.abc import Sequence

from reentry.model import Problem, ServiceSpec


def find_cycle(services: Sequence[ServiceSpec]) -> list[str] | None:
    """Return one ``dependsOn`` cycle as ``[a, b, ..., a]``, or None when the graph is acyclic.

    Unknown names are ignored here; :func:`problems` reports them separately. Iterative (an explicit
    stack), so a chain of any length is walked without recursion, in time linear in the graph.
    """
    edges = {s.name: list(s.dependsOn) for s in services}
    done: set[str] = set()
    for service in services:
        if service.name in done:
            continue
        path: list[str] = [service.name]
        on_path = {service.name}
        pending = [iter(edges[service.name])]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                pending.pop()
                continue
            if dep in on_path:
                return [*path[path.index(dep):], dep]
            if dep in done or dep not in edges:
                continue
            path.append(dep)
            on_path.add(dep)
            pending.append(iter(edges[dep]))
    return None


def problems(services: Sequence[ServiceSpec]) -> list[Problem]:
    """Every reason the graph cannot work, each at the field at fault (``spec.services[i]...``) and
    naming the service or cycle."""
    found: list[Problem] = []
    names = [s.name for s in services]
    seen: set[str] = set()
    repeats: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            repeats.setdefault(name, i)
        seen.add(name)
    for name in sorted(repeats):
        found.append(Problem(("services", repeats[name], "name"), f"duplicate service name {name!r}"))
    known = set(names)
    for i, service in enumerate(services):
        for j, dep in enumerate(service.dependsOn):
            if dep not in known:
                found.append(Problem(("services", i, "dependsOn", j),
                                     f"service {service.name!r} dependsOn unknown service {dep!r}"))
    cycle = find_cycle(services)
    if cycle:
        first = names.index(cycle[0])
        found.append(Problem(("services", first, "dependsOn", services[first].dependsOn.index(cycle[1])),
                             "dependsOn cycle: " + " -> ".join(cycle)))
    return found


def bottom_up(services: Sequence[ServiceSpec]) -> list[str]:
    """Service names ordered so that every service comes after all it depends on.

    Ties keep the plan's own order, so the order a person wrote is the order they see: services
    are placed in rounds, each round the ones whose dependencies are all placed, in plan order.
    Linear in the graph (a long chain included). The graph must be valid (see :func:`problems`).
    """
    position = {s.name: i for i, s in enumerate(services)}
    waiting = {s.name: len(set(s.dependsOn)) for s in services}
    dependants: dict[str, list[str]] = {}
    for service in services:
        for dep in set(service.dependsOn):
            if dep not in position:
                raise ValueError("dependency graph has a cycle or an unknown service")
            dependants.setdefault(dep, []).append(service.name)
    order: list[str] = []
    ready = [s.name for s in services if waiting[s.name] == 0]
    while ready:
        order += ready
        following: list[str] = []
        for name in ready:
            for dependant in dependants.get(name, ()):
                waiting[dependant] -= 1
                if waiting[dependant] == 0:
                    following.append(dependant)
        ready = sorted(following, key=position.__getitem__)
    if len(order) != len(services):
        raise ValueError("dependency graph has a cycle or an unknown service")
    return order
