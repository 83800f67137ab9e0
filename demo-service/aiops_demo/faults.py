"""Fault injection state: added latency and error rates per route, each expiring.

Pure and thread-safe: no web framework here. The app asks ``effect(route)``
on every request and applies what it gets (a sleep, a 500). A fault is set
per route template (``/api/checkout``) or for every route (``*``); a new fault
on a route replaces the old one, and a fault vanishes ``duration_s`` after it
was set. When a route fault and a ``*`` fault are both active they add up:
latencies sum, error probabilities combine as independent failures.

>>> now = [0.0]
>>> faults = FaultState(clock=lambda: now[0])
>>> _ = faults.set("/api/checkout", latency_ms=200, error_rate=0.5, duration_s=30)
>>> _ = faults.set(ALL_ROUTES, latency_ms=50, duration_s=10)
>>> faults.effect("/api/checkout")
Effect(latency_s=0.25, error_rate=0.5)
>>> now[0] = 15.0
>>> faults.effect("/api/checkout"), faults.effect("/api/users")
(Effect(latency_s=0.2, error_rate=0.5), Effect(latency_s=0.0, error_rate=0.0))
>>> now[0] = 30.0
>>> faults.active()
[]
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ALL_ROUTES", "Effect", "Fault", "FaultState"]

ALL_ROUTES = "*"
"""The route key of a fault that applies to every route."""


@dataclass(frozen=True)
class Fault:
    """One active fault: what it adds to a route and when (clock time) it ends."""

    route: str
    latency_ms: float
    error_rate: float
    expires_at: float

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {self.error_rate}")


@dataclass(frozen=True)
class Effect:
    """What the faults active now do to one request of a route."""

    latency_s: float = 0.0
    error_rate: float = 0.0

    def combine(self, fault: Fault) -> Effect:
        """This effect with ``fault`` added on top.

        >>> Effect(0.1, 0.5).combine(Fault("*", latency_ms=100, error_rate=0.5, expires_at=1))
        Effect(latency_s=0.2, error_rate=0.75)
        """
        return Effect(
            latency_s=self.latency_s + fault.latency_ms / 1000.0,
            error_rate=self.error_rate + fault.error_rate - self.error_rate * fault.error_rate,
        )


class FaultState:
    """The faults of one service, keyed by route template.

    ``clock`` returns seconds (monotonic by default; inject a fake in tests) and
    ``rng`` draws the injected errors (seed it for reproducible failures).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def set(
        self,
        route: str,
        *,
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        duration_s: float,
    ) -> Fault:
        """Set (or replace) the fault of ``route`` for the next ``duration_s`` seconds."""
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        fault = Fault(route, float(latency_ms), float(error_rate), self._clock() + duration_s)
        with self._lock:
            self._faults[route] = fault
        return fault

    def clear(self, route: str | None = None) -> int:
        """Remove the fault of ``route`` (every fault when None); returns how many were removed."""
        with self._lock:
            if route is None:
                removed = len(self._faults)
                self._faults.clear()
                return removed
            return 1 if self._faults.pop(route, None) else 0

    def active(self) -> list[Fault]:
        """The faults that have not expired, sorted by route; expired ones are dropped."""
        now = self._clock()
        with self._lock:
            for route in [r for r, f in self._faults.items() if f.expires_at <= now]:
                del self._faults[route]
            return sorted(self._faults.values(), key=lambda f: f.route)

    def remaining_s(self, fault: Fault) -> float:
        """Seconds until ``fault`` expires (0 once it has)."""
        return max(0.0, fault.expires_at - self._clock())

    def effect(self, route: str) -> Effect:
        """The combined effect of the route's fault and the ``*`` fault, if active."""
        effect = Effect()
        for fault in self.active():
            if fault.route in (route, ALL_ROUTES):
                effect = effect.combine(fault)
        return effect

    def should_fail(self, effect: Effect) -> bool:
        """Draw whether one request fails under ``effect``.

        >>> FaultState().should_fail(Effect(error_rate=1.0)), FaultState().should_fail(Effect())
        (True, False)
        """
        with self._lock:
            return self._rng.random() < effect.error_rate
