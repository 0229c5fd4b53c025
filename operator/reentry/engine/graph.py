"""The dependency graph of a plan's services: validation and bottom-up order."""

from __future__ import annotations

from collections.abc import Sequence

from reentry.model import ServiceSpec


def find_cycle(services: Sequence[ServiceSpec]) -> list[str] | None:
    """Return one ``dependsOn`` cycle as ``[a, b, ..., a]``, or None when the graph is acyclic.

    Unknown names are ignored here; :func:`problems` reports them separately.
    """
    edges = {s.name: [d for d in s.dependsOn] for s in services}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name):], name]
        if name in done or name not in edges:
            return None
        visiting.append(name)
        for dep in edges[name]:
            cycle = visit(dep)
            if cycle:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for service in services:
        found = visit(service.name)
        if found:
            return found
    return None


def problems(services: Sequence[ServiceSpec]) -> list[str]:
    """Every reason the graph cannot work, each naming the service or cycle at fault."""
    found: list[str] = []
    names = [s.name for s in services]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"duplicate service name {dup!r}")
    known = set(names)
    for service in services:
        for dep in service.dependsOn:
            if dep not in known:
                found.append(f"service {service.name!r} dependsOn unknown service {dep!r}")
    cycle = find_cycle(services)
    if cycle:
        found.append("dependsOn cycle: " + " -> ".join(cycle))
    return found


def bottom_up(services: Sequence[ServiceSpec]) -> list[str]:
    """Service names ordered so that every service comes after all it depends on.

    Ties keep the plan's own order, so the order a person wrote is the order they see.
    The graph must be valid (see :func:`problems`).
    """
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(services)
    while remaining:
        ready = [s for s in remaining if all(d in placed for d in s.dependsOn)]
        if not ready:
            raise ValueError("dependency graph has a cycle or an unknown service")
        for service in ready:
            order.append(service.name)
            placed.add(service.name)
        remaining = [s for s in remaining if s.name not in placed]
    return order
