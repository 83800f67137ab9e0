"""Rolling SLI windows in event time: good and total counts per window, in ring buffers.

One ``WindowSet`` holds the windows of one key (an SLO and one group, such as
a route): by default the windows of the default burn-rate alerts
(:data:`~aiops.slo.windows.DEFAULT_WINDOWS_S`) and the SLO window. Each
window is a ring of ``buckets_per_window + 1`` buckets of ``window /
buckets_per_window`` seconds, each bucket a small vector of counters
(``width``: 2 for good and total, ``len(bounds) + 1`` for histogram buckets).

Event time comes from the points, never from arrival. The set keeps a
watermark, the latest event time it has seen (or been advanced to):

- a point at or after the watermark moves it forward, and buckets that fall
  out of a window are zeroed as their ring turns;
- a point behind the watermark by at most ``max_lateness_s`` lands in the
  bucket of its own time (in every window that still covers that time);
- a point later than that is dropped and reported (``Arrival.DROPPED``) so
  the caller can count it and log it; it never changes a window.

Reading a window at instant ``at`` sums the buckets that lie in
``(at - window, at]``; the oldest bucket usually straddles the window's start
and is pro-rated by the part of it inside the window (events are assumed
uniform within one bucket). The error this allows is at most one bucket's
events, 1/60 of the window by default, and zero for steady traffic.

Memory is bounded and known up front: ``memory_bytes()`` is
``8 * width * sum(buckets_per_window + 1 for each window)``, 7 808 bytes for
the eight default windows with good/total counters, whatever the traffic.

A spec change may change the windows under saved state: ``restore`` fills a
set of the new shape from a saved one of the old. A window of the same length
and width keeps its events (re-bucketed, each old bucket's events spread
evenly over the time it covered, when the bucket count changed); a window of
another length or width starts empty and says since when it counts
(``partial_windows``) until it has counted for its whole length; a saved
window the new set lacks is dropped.

It fails where event time lies: a point from far in the future moves the
watermark and empties the short windows. Callers reject points newer than
their wall clock plus a tolerance before adding them.

Impossible events are refused before they touch a window, with
``ImpossibleEvents`` (its ``kind`` is a short code to count and dead-letter
by): a time or count that is NaN or infinite, a negative count, or more good
events than total ones. One event is one point's (or one export's) good and
total, so a ratio SLI whose good (or bad) and total metrics come from
different exports would see its halves refused as ``good_over_total``; the
SDKs export all of a service's metrics together, which keeps them in one event.

>>> w = SliWindows([300, 3600], max_lateness_s=60)
>>> w.add(1_000_000.0, good=98, total=100)
<Arrival.ON_TIME: 'on_time'>
>>> w.add(1_000_010.0, good=50, total=50)
<Arrival.ON_TIME: 'on_time'>
>>> w.counts(300)
EventCounts(good=148.0, total=150.0)
>>> round(w.counts(300).error_ratio, 4)
0.0133
>>> w.add(999_900.0, good=1, total=1)     # 110 s late: beyond the 60 s allowed
<Arrival.DROPPED: 'dropped'>
>>> w.add(1_000_020.0, good=5, total=3)
Traceback (most recent call last):
...
aiops.slo.sli_windows.ImpossibleEvents: good_over_total: 5 good events of 3 total at t=1000020.0
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from aiops.slo.windows import DEFAULT_WINDOWS_S

__all__ = [
    "IMPOSSIBLE_KINDS",
    "Arrival",
    "EventCounts",
    "ImpossibleEvents",
    "RollingWindow",
    "SliWindows",
    "WindowSet",
    "check_counts",
    "check_events",
]

IMPOSSIBLE_KINDS = ("not_finite", "negative", "good_over_total")
"""The ``kind`` codes of ``ImpossibleEvents``, for metrics and dead-letter records."""


class ImpossibleEvents(ValueError):
    """Counts no SLI can have; the windows were not changed.

    ``kind`` is one of :data:`IMPOSSIBLE_KINDS`; the message says what was
    wrong, for a person.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def check_counts(t: float, values: Sequence[float]) -> None:
    """Raise ``ImpossibleEvents`` unless ``t`` is finite and every count is finite and >= 0.

    >>> check_counts(10.0, [1, 0, 2])
    >>> check_counts(10.0, [1, -2])
    Traceback (most recent call last):
    ...
    aiops.slo.sli_windows.ImpossibleEvents: negative: count -2 at t=10.0
    >>> check_counts(float("inf"), [1])
    Traceback (most recent call last):
    ...
    aiops.slo.sli_windows.ImpossibleEvents: not_finite: event time inf
    """
    if not math.isfinite(t):
        raise ImpossibleEvents("not_finite", f"event time {t!r}")
    for value in values:
        if not math.isfinite(value):
            raise ImpossibleEvents("not_finite", f"count {value!r} at t={t!r}")
        if value < 0:
            raise ImpossibleEvents("negative", f"count {value!r} at t={t!r}")


def check_events(t: float, good: float, total: float) -> None:
    """Raise ``ImpossibleEvents`` unless ``good`` of ``total`` events at ``t`` can happen.

    >>> check_events(10.0, good=3, total=3)
    >>> check_events(10.0, good=float("nan"), total=3)
    Traceback (most recent call last):
    ...
    aiops.slo.sli_windows.ImpossibleEvents: not_finite: count nan at t=10.0
    >>> check_events(10.0, good=4, total=3)
    Traceback (most recent call last):
    ...
    aiops.slo.sli_windows.ImpossibleEvents: good_over_total: 4 good events of 3 total at t=10.0
    """
    check_counts(t, (good, total))
    if good > total:
        raise ImpossibleEvents(
            "good_over_total", f"{good!r} good events of {total!r} total at t={t!r}"
        )


@dataclass(frozen=True)
class EventCounts:
    """Good and total events of one window; ``bad`` and the ratios follow from them.

    >>> c = EventCounts(good=995, total=1000)
    >>> c.bad, round(c.error_ratio, 6), round(c.good_ratio, 6)
    (5, 0.005, 0.995)
    >>> EventCounts(0, 0).error_ratio   # no data: not 0, not 1
    nan
    """

    good: float
    total: float

    @property
    def bad(self) -> float:
        """Events that did not meet the SLI."""
        return self.total - self.good

    @property
    def error_ratio(self) -> float:
        """``bad / total``, NaN without events (as Prometheus's 0/0)."""
        return self.bad / self.total if self.total > 0 else math.nan

    @property
    def good_ratio(self) -> float:
        """``good / total``, the SLI's value; NaN without events."""
        return self.good / self.total if self.total > 0 else math.nan


class Arrival(Enum):
    """What happened to a point given to ``WindowSet.add``."""

    ON_TIME = "on_time"
    """At or after the watermark: counted, and the watermark moved to it."""
    LATE = "late"
    """Behind the watermark within the allowed lateness: counted in the bucket of its time."""
    DROPPED = "dropped"
    """Behind the watermark by more than the allowed lateness: not counted."""


class RollingWindow:
    """One window: a ring of ``buckets + 1`` buckets of ``length_s / buckets`` seconds each.

    Bucket ``k`` holds the events with ``k * step < t <= (k + 1) * step``:
    upper-inclusive like Prometheus's ``le`` buckets and like a delta point,
    which is stamped with the end of the interval it covers.
    ``WindowSet`` drives it; it is public for tests and for callers that
    need a single window.

    >>> r = RollingWindow(length_s=60, buckets=6)      # 10 s buckets
    >>> r.add(100.0, [1.0, 2.0]), r.add(125.0, [3.0, 4.0])
    (True, True)
    >>> r.totals(at=125.0)                             # (65, 125]: all of both buckets
    (4.0, 6.0)
    >>> r.totals(at=155.0)                             # (95, 155]: half of bucket (90, 100]
    (3.5, 5.0)
    >>> r.totals(at=165.0)                             # (105, 165]: only the point at 125
    (3.0, 4.0)
    >>> r.totals(at=200.0)                             # both buckets have rolled out
    (0.0, 0.0)
    """

    __slots__ = ("_counts", "_head", "_slots", "length_s", "since", "step_s", "width")

    def __init__(self, length_s: float, buckets: int = 60, width: int = 2):
        if length_s <= 0 or buckets < 1 or width < 1:
            raise ValueError(
                "a window needs a positive length, at least one bucket and one counter"
            )
        self.length_s = float(length_s)
        self.step_s = self.length_s / buckets
        self.width = width
        self._slots = buckets + 1
        self._counts = array("d", bytes(8 * width * self._slots))
        self._head: int | None = None  # bucket index of the newest bucket
        self.since: float | None = None
        """Event time the window started counting at, while that is less than its length ago (else None)."""

    def bucket_of(self, t: float) -> int:
        """The index of the bucket that holds event time ``t``.

        >>> RollingWindow(60, buckets=6).bucket_of(125.0), RollingWindow(60, buckets=6).bucket_of(130.0)
        (12, 12)
        """
        return math.ceil(t / self.step_s) - 1

    def advance(self, t: float) -> None:
        """Turn the ring so that the bucket of ``t`` is the newest; zero the buckets it reuses."""
        if self.since is not None and t - self.length_s >= self.since:
            self.since = None
        k = self.bucket_of(t)
        if self._head is None:
            self._head = k
            return
        if k <= self._head:
            return
        for j in range(self._head + 1, min(k, self._head + self._slots) + 1):
            self._zero(j % self._slots)
        self._head = k

    def add(self, t: float, values: Sequence[float]) -> bool:
        """Count ``values`` at event time ``t``; False when the ring no longer holds that time."""
        if len(values) != self.width:
            raise ValueError(f"expected {self.width} values, got {len(values)}")
        self.advance(t)
        k = self.bucket_of(t)
        assert self._head is not None
        if k <= self._head - self._slots:
            return False
        base = (k % self._slots) * self.width
        for i, v in enumerate(values):
            self._counts[base + i] += v
        return True

    def totals(self, at: float) -> tuple[float, ...]:
        """Sums over ``(at - length, at]``, the oldest bucket pro-rated; ``at`` must not precede the newest bucket."""
        sums = [0.0] * self.width
        if self._head is None:
            return tuple(sums)
        k_at = self.bucket_of(at)
        if k_at < self._head:
            raise ValueError("cannot read a window at an instant before its newest bucket")
        n = self._slots - 1
        oldest_weight = (
            k_at + 1
        ) - at / self.step_s  # the part of bucket k_at - n after at - length
        for k in range(max(k_at - n, self._head - n), self._head + 1):
            weight = oldest_weight if k == k_at - n else 1.0
            base = (k % self._slots) * self.width
            for i in range(self.width):
                sums[i] += weight * self._counts[base + i]
        return tuple(sums)

    def memory_bytes(self) -> int:
        """Bytes held by the counters (8 per counter and bucket)."""
        return self._counts.itemsize * len(self._counts)

    def to_state(self) -> dict:
        """A JSON-friendly snapshot for a changelog or checkpoint; ``from_state`` restores it."""
        return {
            "length_s": self.length_s,
            "buckets": self._slots - 1,
            "width": self.width,
            "head": self._head,
            "counts": list(self._counts),
            "since": self.since,
        }

    @classmethod
    def from_state(cls, state: dict) -> RollingWindow:
        """The window ``to_state`` described.

        >>> r = RollingWindow(60, buckets=6)
        >>> _ = r.add(100.0, [1.0, 1.0])
        >>> RollingWindow.from_state(r.to_state()).totals(at=100.0)
        (1.0, 1.0)
        """
        window = cls(state["length_s"], state["buckets"], state["width"])
        window._head = state["head"]
        window._counts = array("d", state["counts"])
        window.since = state.get("since")
        return window

    def rebucketed(self, buckets: int, watermark: float) -> RollingWindow:
        """The same window in ``buckets`` buckets, read at ``watermark`` (the newest event time).

        Each old bucket's events are spread evenly over the part of its time
        up to ``watermark``, the assumption ``totals`` makes of the oldest
        bucket: a read is off by at most one old bucket's events until the
        ring has turned over.

        >>> r = RollingWindow(60, buckets=2)                # 30 s buckets
        >>> _ = r.add(30.0, [6.0, 6.0]), r.add(40.0, [1.0, 1.0])
        >>> r.rebucketed(6, watermark=40.0).totals(at=40.0)  # (0, 30] now three buckets, (30, 40] one
        (7.0, 7.0)
        >>> r.rebucketed(6, watermark=40.0).totals(at=70.0)  # (10, 70]: two thirds of (0, 30]
        (5.0, 5.0)
        """
        window = RollingWindow(self.length_s, buckets, self.width)
        window.since = self.since
        if self._head is None:
            return window
        window.advance(watermark)
        assert window._head is not None
        oldest = window._head - window._slots + 1
        for k in range(self._head - self._slots + 1, self._head + 1):
            start, end = k * self.step_s, min((k + 1) * self.step_s, watermark)
            base = (k % self._slots) * self.width
            values = self._counts[base : base + self.width]
            if end <= start or not any(values):
                continue
            for j in range(max(math.floor(start / window.step_s), oldest), window._head + 1):
                overlap = min(end, (j + 1) * window.step_s) - max(start, j * window.step_s)
                if overlap <= 0:
                    continue
                target = (j % window._slots) * window.width
                for i, v in enumerate(values):
                    window._counts[target + i] += v * overlap / (end - start)
        return window

    def _zero(self, slot: int) -> None:
        base = slot * self.width
        for i in range(self.width):
            self._counts[base + i] = 0.0


class WindowSet:
    """Several rolling windows of one key that share a watermark and a lateness bound.

    ``width`` counters per bucket: 2 for an SLI's good and total, or
    ``len(bounds) + 1`` for a latency histogram's per-bucket counts.

    >>> h = WindowSet([300], width=3, max_lateness_s=30)
    >>> h.add(1000.0, [5, 3, 1]), h.add(990.0, [1, 0, 0])
    (<Arrival.ON_TIME: 'on_time'>, <Arrival.LATE: 'late'>)
    >>> h.totals(300)
    (6.0, 3.0, 1.0)
    >>> h.memory_bytes()      # 8 bytes x 3 counters x 61 buckets
    1464
    """

    def __init__(
        self,
        windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
        *,
        width: int = 2,
        buckets_per_window: int = 60,
        max_lateness_s: float = 60.0,
    ):
        lengths = sorted({float(w) for w in windows_s})
        if not lengths:
            raise ValueError("at least one window is needed")
        if max_lateness_s < 0:
            raise ValueError("max_lateness_s must be >= 0")
        self.width = width
        self.max_lateness_s = float(max_lateness_s)
        self.watermark: float | None = None
        self._windows = {w: RollingWindow(w, buckets_per_window, width) for w in lengths}

    @property
    def windows_s(self) -> tuple[float, ...]:
        """The window lengths, shortest first."""
        return tuple(self._windows)

    def add(self, t: float, values: Sequence[float]) -> Arrival:
        """Count ``values`` at event time ``t`` in every window; see ``Arrival`` for the outcomes.

        Raises ``ImpossibleEvents`` (and changes nothing) for a time or count
        that is not finite, or a negative count.
        """
        check_counts(t, values)
        if self.watermark is not None and t < self.watermark - self.max_lateness_s:
            return Arrival.DROPPED
        arrival = (
            Arrival.LATE if self.watermark is not None and t < self.watermark else Arrival.ON_TIME
        )
        if arrival is Arrival.ON_TIME:
            self.advance(t)
        for window in self._windows.values():
            window.add(t, values)
        return arrival

    def advance(self, t: float) -> None:
        """Move the watermark to ``t`` (never back): windows drain when no data arrives."""
        if self.watermark is not None and t <= self.watermark:
            return
        self.watermark = t
        for window in self._windows.values():
            window.advance(t)

    def totals(self, window_s: float, at: float | None = None) -> tuple[float, ...]:
        """The counters summed over ``window_s`` seconds up to ``at`` (the watermark by default)."""
        window = self._windows.get(float(window_s))
        if window is None:
            raise KeyError(
                f"no {window_s:g} s window; windows are {', '.join(f'{w:g}' for w in self._windows)}"
            )
        if at is None:
            at = self.watermark
        if at is None:
            return (0.0,) * self.width
        if self.watermark is not None and at < self.watermark:
            raise ValueError(f"cannot read at {at}, before the watermark {self.watermark}")
        return window.totals(at)

    def partial_windows(self, at: float | None = None) -> dict[float, float]:
        """``{window length: event time it started counting}`` for the windows that cover less than their length at ``at``.

        Only a window that ``restore`` added to saved state starts partial.
        """
        if at is None:
            at = self.watermark
        return {
            length: w.since
            for length, w in self._windows.items()
            if w.since is not None and (at is None or at - length < w.since)
        }

    def restore(self, state: dict) -> None:
        """Take the events and watermark of a saved set (``to_state``) of any shape into this new, empty set.

        The windows of this set decide: a saved window of the same length and
        width is kept (re-bucketed when its bucket count differs); any other
        starts empty, counting since the saved watermark. Saved windows this
        set lacks are dropped, and the lateness bound stays this set's.

        >>> old = SliWindows([300, 3600])
        >>> _ = old.add(1000.0, good=9, total=10)
        >>> new = SliWindows([300, 43200], buckets_per_window=30)
        >>> new.restore(old.to_state())
        >>> new.snapshot(), new.partial_windows()
        ({300.0: EventCounts(good=9.0, total=10.0), 43200.0: EventCounts(good=0.0, total=0.0)}, {43200.0: 1000.0})
        """
        saved = WindowSet.from_state(state)
        watermark = saved.watermark
        if watermark is None:
            return
        self.watermark = watermark
        for length, window in self._windows.items():
            old = saved._windows.get(length)
            if old is not None and old.width == window.width:
                buckets = window._slots - 1
                self._windows[length] = (
                    old if old._slots == window._slots else old.rebucketed(buckets, watermark)
                )
            else:
                window.advance(watermark)
                window.since = watermark

    def memory_bytes(self) -> int:
        """Bytes held by all counters: ``8 * width * sum(buckets + 1)``, fixed at construction."""
        return sum(w.memory_bytes() for w in self._windows.values())

    def to_state(self) -> dict:
        """A JSON-friendly snapshot (watermark, lateness, every ring) for a changelog or checkpoint."""
        return {
            "width": self.width,
            "max_lateness_s": self.max_lateness_s,
            "watermark": self.watermark,
            "windows": [w.to_state() for w in self._windows.values()],
        }

    @classmethod
    def from_state(cls, state: dict) -> WindowSet:
        """The set ``to_state`` described, counters and watermark included.

        >>> s = SliWindows([60], max_lateness_s=5)
        >>> _ = s.add(10.0, good=1, total=2)
        >>> SliWindows.from_state(s.to_state()).counts(60)
        EventCounts(good=1.0, total=2.0)
        """
        restored = cls.__new__(cls)
        restored.width = state["width"]
        restored.max_lateness_s = state["max_lateness_s"]
        restored.watermark = state["watermark"]
        windows = [RollingWindow.from_state(w) for w in state["windows"]]
        restored._windows = {w.length_s: w for w in windows}
        return restored


class SliWindows(WindowSet):
    """Good and total counts of one SLO and group, over rolling event-time windows.

    >>> w = SliWindows([300, 3600], max_lateness_s=120)
    >>> for minute in range(10):                       # 10 min at 100 requests/min, 1% bad
    ...     _ = w.add(60.0 * minute, good=99, total=100)
    >>> w.counts(300), w.counts(3600)
    (EventCounts(good=495.0, total=500.0), EventCounts(good=990.0, total=1000.0))
    """

    def __init__(
        self,
        windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
        *,
        buckets_per_window: int = 60,
        max_lateness_s: float = 60.0,
    ):
        super().__init__(
            windows_s, width=2, buckets_per_window=buckets_per_window, max_lateness_s=max_lateness_s
        )

    def add(
        self,
        t: float,
        values: Sequence[float] | None = None,
        *,
        good: float = 0.0,
        total: float = 0.0,
    ) -> Arrival:
        """Count ``good`` of ``total`` events at event time ``t`` (or ``values=(good, total)``).

        Raises ``ImpossibleEvents`` (and changes nothing) for NaN or infinite
        times or counts, negative counts, or ``good > total``.
        """
        pair = tuple(values) if values is not None else (good, total)
        if len(pair) == 2:
            check_events(t, *pair)
        return super().add(t, pair)

    def counts(self, window_s: float, at: float | None = None) -> EventCounts:
        """Good and total events in the window ending at ``at`` (the watermark by default)."""
        good, total = self.totals(window_s, at)
        return EventCounts(good=good, total=total)

    def snapshot(self, at: float | None = None) -> dict[float, EventCounts]:
        """Every window's counts at one instant, shortest window first.

        >>> w = SliWindows([60, 600])
        >>> _ = w.add(0.0, good=9, total=10)
        >>> w.snapshot()
        {60.0: EventCounts(good=9.0, total=10.0), 600.0: EventCounts(good=9.0, total=10.0)}
        """
        return {w: self.counts(w, at) for w in self.windows_s}
