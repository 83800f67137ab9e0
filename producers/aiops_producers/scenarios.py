"""Named fault scenarios: when, during a run, which fault the demo service gets.

Pure data. A phase spans a fraction of the run (of its duration, or of its
request count) and names the fault the load generator sets through the demo's
``POST /faults`` at its start and clears with ``DELETE /faults`` at its end.
Outside the phases the run is the baseline, so every scenario has a before
and an after to compare with.

>>> s = SCENARIOS["error-burst"]
>>> s.phase_at(0.1) is None, s.phase_at(0.5).name, s.phase_at(0.9) is None
(True, 'error-burst', True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

__all__ = ["BASELINE", "SCENARIOS", "FaultPhase", "Scenario", "get_scenario"]

BASELINE = "baseline"
"""The phase name reported while no fault is set."""


@dataclass(frozen=True)
class FaultPhase:
    """A fault on ``route`` from ``start`` to ``end``, as fractions of the run in [0, 1]."""

    name: str
    start: float
    end: float
    route: str
    latency_ms: float = 0.0
    error_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < self.end <= 1.0:
            raise ValueError(f"phase {self.name!r}: need 0 <= start < end <= 1")

    def fault_request(self, duration_s: float) -> dict[str, Any]:
        """The ``POST /faults`` body; ``duration_s`` is a safety expiry in case the generator dies.

        >>> SCENARIOS["latency-spike"].phases[0].fault_request(30)["latency_ms"]
        400.0
        """
        return {
            "route": self.route,
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "duration_s": duration_s,
        }


@dataclass(frozen=True)
class Scenario:
    """A named sequence of non-overlapping fault phases."""

    name: str
    description: str
    phases: tuple[FaultPhase, ...] = ()

    def __post_init__(self) -> None:
        ordered = sorted(self.phases, key=lambda p: p.start)
        if any(a.end > b.start for a, b in pairwise(ordered)):
            raise ValueError(f"scenario {self.name!r}: phases overlap")

    def phase_at(self, progress: float) -> FaultPhase | None:
        """The phase active at ``progress`` (fraction of the run done), or None for the baseline."""
        return next((p for p in self.phases if p.start <= progress < p.end), None)

    def on_route(self, route: str) -> Scenario:
        """The same scenario with every fault moved to ``route`` (a template or ``*``).

        >>> SCENARIOS["error-burst"].on_route("*").phases[0].route
        '*'
        """
        return replace(self, phases=tuple(replace(p, route=route) for p in self.phases))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("steady", "baseline traffic, no faults"),
        Scenario(
            "error-burst",
            "half of the checkouts fail from 40% to 70% of the run (a payment outage)",
            (FaultPhase("error-burst", 0.4, 0.7, "/api/checkout", error_rate=0.5),),
        ),
        Scenario(
            "latency-spike",
            "the user list answers 400 ms slower from 40% to 70% of the run (a slow database)",
            (FaultPhase("latency-spike", 0.4, 0.7, "/api/users", latency_ms=400.0),),
        ),
        Scenario(
            "mixed",
            "a latency spike on products (20-45%), then a checkout error burst (55-80%)",
            (
                FaultPhase("latency-spike", 0.2, 0.45, "/api/products", latency_ms=250.0),
                FaultPhase("error-burst", 0.55, 0.8, "/api/checkout", error_rate=0.5),
            ),
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """A scenario by name, with the known names in the error.

    >>> get_scenario("mixed").phases[1].route
    '/api/checkout'
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None
