"""The re-entry storm model: the load a restored backend sees under a ramp versus a binary cutover.

A second-by-second simulation with deliberately few, stated assumptions (docs/simulate.md):

* **Steady demand** ``D`` req/s reaches the system; weight ``w`` sends ``D * w / 100`` of it to the
  restored backend.
* **Backlog**: ``B`` requests were suppressed or queued by the clients during the outage. Clients
  bring their share of it along when they are moved: each weight increase of ``dw`` releases
  ``B * dw / 100`` requests, spread evenly over ``drain`` seconds. A binary cutover releases all of
  ``B`` at once.
* **Cold cache**: a request costs ``coldFactor`` times a warm one when traffic first arrives; the
  factor decays linearly to 1 over ``warmup`` seconds counted from the first second with traffic.
* **Capacity** ``C`` is in warm requests per second. At cost ``k`` the backend serves ``C / k``
  req/s; the rest fails.
* **Retry amplification**: a fraction ``retryFactor`` of the failed requests comes back as retries
  in the next second (and retries that fail are retried again, so the amplification compounds).

Everything here is pure: plain numbers in, immutable values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reentry.model import TrafficStage, parse_duration

#: Seconds simulated after the last weight change when its hold does not say how long.
DEFAULT_TAIL_SECONDS = 300


class StormInputError(ValueError):
    """The model's inputs cannot describe a system (a negative demand, a plan without steps, ...)."""


@dataclass(frozen=True)
class Assumptions:
    """The stated inputs of the model; see the module docstring for what each one means."""

    demand: float
    """Steady demand on the whole system, requests per second."""
    capacity: float
    """What the restored backend serves with a warm cache, requests per second."""
    backlog: float = 0.0
    """Requests suppressed or queued during the outage, released when clients move back."""
    drain: float = 60.0
    """Seconds over which a released share of the backlog arrives."""
    cold_factor: float = 1.0
    """Cost of a request on a cold cache relative to a warm one (>= 1)."""
    warmup: float = 0.0
    """Seconds of serving traffic until the cache is warm."""
    retry_factor: float = 0.0
    """Fraction of failed requests that clients retry in the next second (0 <= r < 1)."""

    def problems(self) -> list[str]:
        """Why these inputs describe no system; empty when they are usable."""
        found = []
        if self.demand < 0:
            found.append(f"demand must not be negative (got {self.demand:g})")
        if self.capacity <= 0:
            found.append(f"capacity must be positive (got {self.capacity:g})")
        if self.backlog < 0:
            found.append(f"backlog must not be negative (got {self.backlog:g})")
        if self.drain <= 0:
            found.append(f"drain must be positive (got {self.drain:g})")
        if self.cold_factor < 1:
            found.append(f"cold factor must be at least 1 (got {self.cold_factor:g})")
        if self.warmup < 0:
            found.append(f"warmup must not be negative (got {self.warmup:g})")
        if not 0 <= self.retry_factor < 1:
            # At 1 or more every failure breeds at least one retry: the model would never settle.
            found.append(f"retry factor must be at least 0 and below 1 (got {self.retry_factor:g})")
        return found


@dataclass(frozen=True)
class Step:
    """One weight held for a number of seconds."""

    weight: int
    seconds: int


@dataclass(frozen=True)
class Second:
    """What the restored backend sees in one second of the simulation."""

    t: int
    weight: int
    demand: float
    """The share of steady demand routed to the backend (req/s)."""
    backlog: float
    """Backlog requests arriving this second."""
    retries: float
    """Retries of requests that failed the second before."""
    cost: float
    """The cold-cache multiplier in effect."""
    capacity: float

    @property
    def offered(self) -> float:
        """Requests arriving this second: demand share, backlog and retries."""
        return self.demand + self.backlog + self.retries

    @property
    def load(self) -> float:
        """The offered requests in warm-request units, comparable with the capacity."""
        return self.offered * self.cost

    @property
    def served(self) -> float:
        """Requests the backend completes: all of them, or what its capacity allows at this cost."""
        return min(self.offered, self.capacity / self.cost)

    @property
    def failed(self) -> float:
        """Requests that failed (timed out, were shed) because the load exceeded the capacity."""
        return self.offered - self.served

    @property
    def overloaded(self) -> bool:
        """The load exceeds the capacity (with a tolerance for rounding)."""
        return self.load > self.capacity * (1 + 1e-9)


@dataclass(frozen=True)
class StepSummary:
    """One step of a ramp (or the single step of a cutover), summed up for a table."""

    index: int
    weight: int
    start: int
    seconds: int
    demand: float
    peak_offered: float
    peak_load: float
    capacity: float
    overloaded_seconds: int
    failed: float

    @property
    def headroom(self) -> float:
        """Capacity minus the peak load; negative when overloaded."""
        return self.capacity - self.peak_load

    @property
    def utilisation(self) -> float:
        """The peak load as a fraction of the capacity."""
        return self.peak_load / self.capacity

    @property
    def overloaded(self) -> bool:
        """Any second of the step was overloaded."""
        return self.overloaded_seconds > 0


@dataclass(frozen=True)
class Run:
    """A whole simulated re-entry: every second and one summary per step."""

    name: str
    seconds: tuple[Second, ...]
    steps: tuple[StepSummary, ...]

    @property
    def peak_load(self) -> float:
        """The highest load of any second."""
        return max((s.load for s in self.seconds), default=0.0)

    @property
    def overloaded_seconds(self) -> int:
        """Seconds in which the load exceeded the capacity."""
        return sum(1 for s in self.seconds if s.overloaded)

    @property
    def failed(self) -> float:
        """Requests that failed over the whole run."""
        return sum(s.failed for s in self.seconds)


@dataclass(frozen=True)
class Comparison:
    """The plan's ramp and a binary cutover over the same time span, under the same assumptions."""

    assumptions: Assumptions
    ramp: Run
    cutover: Run


def plan_steps(traffic: TrafficStage, tail: int = DEFAULT_TAIL_SECONDS) -> list[Step]:
    """The weights a plan's traffic stage walks through, each with its hold in seconds.

    An adaptive ramp is taken as its best case: every interval passes, so the weight climbs from
    ``start`` by ``increase`` up to ``max``. A step without a hold is held ``tail`` seconds when
    it is the last one (to watch the storm settle) and one second otherwise (the engine moves on
    as soon as the step took effect).
    """
    if traffic.adaptive is not None:
        rules = traffic.adaptive
        interval = _seconds(rules.interval)
        weights = [*range(rules.start, rules.max, rules.increase), rules.max]
        steps = [Step(w, interval) for w in weights]
        return [*steps[:-1], Step(steps[-1].weight, max(interval, tail))]
    if not traffic.steps:
        raise StormInputError("the plan's traffic stage has no steps and no adaptive ramp: nothing to simulate")
    out = []
    for i, step in enumerate(traffic.steps):
        last = i == len(traffic.steps) - 1
        held = _seconds(step.hold) if step.hold else 0
        out.append(Step(step.weight, max(held, tail if last else 1)))
    return out


def _seconds(duration: str) -> int:
    return max(1, round(parse_duration(duration).total_seconds()))


def simulate(name: str, steps: Sequence[Step], given: Assumptions) -> Run:
    """Simulate the steps second by second under the assumptions."""
    problems = given.problems()
    if problems:
        raise StormInputError("; ".join(problems))
    if not steps:
        raise StormInputError("no steps to simulate")
    # Backlog releases in flight: (remaining seconds, requests per second).
    releases: list[tuple[int, float]] = []
    seconds: list[Second] = []
    summaries: list[StepSummary] = []
    retries = 0.0
    previous_weight = 0
    first_traffic: int | None = None
    t = 0
    for index, step in enumerate(steps, start=1):
        raised = max(0, step.weight - previous_weight)
        if raised and given.backlog:
            spread = max(1, round(given.drain))
            releases.append((spread, given.backlog * raised / 100 / spread))
        previous_weight = step.weight
        start = t
        for _ in range(step.seconds):
            if first_traffic is None and step.weight > 0:
                first_traffic = t
            backlog = sum(rate for _, rate in releases)
            releases = [(left - 1, rate) for left, rate in releases if left > 1]
            second = Second(t=t, weight=step.weight, demand=given.demand * step.weight / 100, backlog=backlog,
                            retries=retries, cost=_cost(given, t, first_traffic), capacity=given.capacity)
            seconds.append(second)
            retries = second.failed * given.retry_factor
            t += 1
        mine = seconds[start:]
        summaries.append(StepSummary(
            index=index, weight=step.weight, start=start, seconds=step.seconds,
            demand=given.demand * step.weight / 100,
            peak_offered=max(s.offered for s in mine), peak_load=max(s.load for s in mine),
            capacity=given.capacity, overloaded_seconds=sum(1 for s in mine if s.overloaded),
            failed=sum(s.failed for s in mine)))
    return Run(name, tuple(seconds), tuple(summaries))


def _cost(given: Assumptions, t: int, first_traffic: int | None) -> float:
    """The cold-cache multiplier: ``coldFactor`` at the first traffic, 1 after ``warmup`` seconds."""
    if first_traffic is None or given.warmup <= 0:
        return 1.0
    warmed = min(1.0, (t - first_traffic) / given.warmup)
    return given.cold_factor - (given.cold_factor - 1) * warmed


def compare(steps: Sequence[Step], given: Assumptions) -> Comparison:
    """The ramp against a binary cutover: the ramp's top weight at once, held as long as the whole ramp."""
    ramp = simulate("ramp", steps, given)
    total = sum(s.seconds for s in steps)
    cutover = simulate("binary cutover", [Step(max(s.weight for s in steps), total)], given)
    return Comparison(given, ramp, cutover)
