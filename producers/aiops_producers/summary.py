"""What a load run sent and got back, counted per (route template, status code).

Pure. ``Tally`` counts during a run; ``LoadSummary`` is the frozen result that
tests compare with the server's ``http.server.request.duration`` counts (keyed
by ``http.route`` and ``http.response.status_code``). Requests that got no
answer (refused, timed out) are counted apart, per route and error type: the
service may or may not have seen them.

>>> tally = Tally()
>>> for status in (200, 200, 500):
...     tally.record("/api/users", status, at=1.0)
>>> tally.record_error("/api/checkout", "ReadTimeout", at=1.5)
>>> s = tally.summary("http://127.0.0.1:8000", started_at=0.0, duration_s=2.0)
>>> s.counts[("/api/users", 200)], s.sent, s.by_status()
(2, 4, {200: 2, 500: 1})
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadSummary", "PhaseWindow", "Tally"]


@dataclass(frozen=True)
class PhaseWindow:
    """When (Unix seconds) a scenario phase ran, and on which route its fault was."""

    name: str
    route: str | None
    started_at: float
    ended_at: float


@dataclass(frozen=True)
class LoadSummary:
    """The outcome of one run.

    ``counts`` maps (route template, HTTP status) to responses received;
    ``transport_errors`` maps (route template, exception name) to requests
    without a response. ``started_at`` is Unix seconds; ``phases`` lists the
    fault windows of the scenario, if any.
    """

    base_url: str
    started_at: float
    duration_s: float
    counts: dict[tuple[str, int], int]
    transport_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    phases: tuple[PhaseWindow, ...] = ()

    @property
    def responses(self) -> int:
        """Requests that got an HTTP response, whatever its status."""
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        """All requests sent: responses plus transport errors."""
        return self.responses + sum(self.transport_errors.values())

    @property
    def rate(self) -> float:
        """Requests sent per second over the run."""
        return self.sent / self.duration_s if self.duration_s > 0 else 0.0

    def by_status(self) -> dict[int, int]:
        """Responses per status code."""
        totals: Counter[int] = Counter()
        for (_, status), n in self.counts.items():
            totals[status] += n
        return dict(sorted(totals.items()))

    def by_route(self) -> dict[str, int]:
        """Responses per route template."""
        totals: Counter[str] = Counter()
        for (route, _), n in self.counts.items():
            totals[route] += n
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (tuple keys become records)."""
        return {
            "base_url": self.base_url,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "sent": self.sent,
            "counts": [
                {"route": route, "status": status, "count": n}
                for (route, status), n in sorted(self.counts.items())
            ],
            "transport_errors": [
                {"route": route, "error": error, "count": n}
                for (route, error), n in sorted(self.transport_errors.items())
            ],
            "phases": [vars(p) for p in self.phases],
        }


class Tally:
    """Running counts of one load run, plus the completion rate over the last ``window_s``."""

    def __init__(self, window_s: float = 5.0):
        self.counts: Counter[tuple[str, int]] = Counter()
        self.transport_errors: Counter[tuple[str, str]] = Counter()
        self._window_s = window_s
        self._recent: deque[float] = deque()

    def record(self, route: str, status: int, at: float) -> None:
        """One response of ``route`` with ``status``, completed at time ``at`` (seconds)."""
        self.counts[(route, status)] += 1
        self._recent.append(at)

    def record_error(self, route: str, error: str, at: float) -> None:
        """One request of ``route`` that failed without a response."""
        self.transport_errors[(route, error)] += 1
        self._recent.append(at)

    @property
    def done(self) -> int:
        """Requests completed so far, answered or not."""
        return sum(self.counts.values()) + sum(self.transport_errors.values())

    def recent_rate(self, now: float) -> float:
        """Completions per second over the last window; times are seconds since the start.

        >>> t = Tally(window_s=2.0)
        >>> for at in (0.5, 1.0):
        ...     t.record("/api/users", 200, at)
        >>> t.recent_rate(now=1.0)
        2.0
        >>> for at in (1.5, 2.5):
        ...     t.record("/api/users", 200, at)
        >>> t.recent_rate(now=3.0)
        1.5
        """
        while self._recent and self._recent[0] < now - self._window_s:
            self._recent.popleft()
        window = min(self._window_s, now)
        return len(self._recent) / window if window > 0 else 0.0

    def summary(
        self,
        base_url: str,
        started_at: float,
        duration_s: float,
        phases: tuple[PhaseWindow, ...] = (),
    ) -> LoadSummary:
        """A frozen copy of the counts."""
        return LoadSummary(
            base_url=base_url,
            started_at=started_at,
            duration_s=duration_s,
            counts=dict(sorted(self.counts.items())),
            transport_errors=dict(sorted(self.transport_errors.items())),
            phases=phases,
        )
