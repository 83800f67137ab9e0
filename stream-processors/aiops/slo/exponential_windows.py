"""Exponential histogram buckets of one SLO group over rolling windows: a native latency SLO's percentiles.

A ``WindowSet`` adds fixed-width vectors; exponential buckets have a scale
and an index range that move. ``ExponentialWindows`` keeps one layout for
all its windows, a scale and a first index, with the zero bucket in
counter 0 and the positive buckets from ``offset`` after it, and changes the
layout of every window when a point needs it: a coarser scale merges every
stored bucket down (so the sums are those Prometheus's ``sum`` of native
histograms gives, at the coarsest scale), an index outside the range widens
it. A point at a finer scale is merged down to the layout's.

Bounded: with more than ``max_buckets`` buckets the layout goes one scale
coarser (as an SDK does with its ``max_size``). Negative buckets are not kept
(a duration is not negative); their observations are left out of the
percentiles.

>>> w = ExponentialWindows([300], max_lateness_s=60)
>>> h = ExponentialHistogram(scale=1, count=4, positive_offset=-3, positive=[1, 2, 1])
>>> w.add(100.0, h), w.add(110.0, ExponentialHistogram(scale=0, count=2, zero_count=1, positive=[1]))
(<Arrival.ON_TIME: 'on_time'>, <Arrival.ON_TIME: 'on_time'>)
>>> total = w.histogram(300)
>>> total.scale, total.zero_count, total.positive_offset, total.positive
(0, 1.0, -2, (1.0, 3.0, 1.0))
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.slo.exponential_histogram import ExponentialHistogram, downscale, merge_buckets
from aiops.slo.sli_windows import Arrival, WindowSet
from aiops.slo.windows import DEFAULT_WINDOWS_S

__all__ = ["ExponentialWindows"]


class ExponentialWindows:
    """A zero bucket and positive exponential buckets per window, in one layout that follows the data."""

    def __init__(
        self,
        windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
        *,
        buckets_per_window: int = 60,
        max_lateness_s: float = 60.0,
        max_buckets: int = 320,
    ):
        self.scale: int | None = None
        self.offset = 0
        self.max_buckets = max_buckets
        self.buckets_per_window = buckets_per_window
        self.windows = WindowSet(
            windows_s,
            width=1,
            buckets_per_window=buckets_per_window,
            max_lateness_s=max_lateness_s,
        )

    @property
    def windows_s(self) -> tuple[float, ...]:
        """The window lengths, shortest first."""
        return self.windows.windows_s

    def add(self, t: float, h: ExponentialHistogram) -> Arrival:
        """Count ``h``'s zero and positive buckets at event time ``t`` (the layout may change first)."""
        if self.scale is None:
            self.scale, self.offset = h.scale, h.positive_offset
        scale = min(self.scale, h.scale)
        shift, stored = self.scale - scale, self.windows.width - 1
        low = self.offset >> shift
        high = ((self.offset + stored - 1) >> shift) + 1 if stored else low  # exclusive
        h = downscale(h, scale)
        if h.positive:
            start, end = h.positive_offset, h.positive_offset + len(h.positive)
            low, high = (min(low, start), max(high, end)) if stored else (start, end)
        while high - low > self.max_buckets:
            scale, low, high = scale - 1, low >> 1, ((high - 1) >> 1) + 1
        if (scale, low, high - low + 1) != (self.scale, self.offset, self.windows.width):
            self._relayout(scale, low, high - low + 1)
        h = downscale(h, self.scale)
        values = [0.0] * self.windows.width
        values[0] = h.zero_count
        for k, count in enumerate(h.positive):
            values[1 + h.positive_offset - self.offset + k] += count
        return self.windows.add(t, values)

    def advance(self, t: float) -> None:
        """Move the watermark to ``t`` (never back)."""
        self.windows.advance(t)

    def histogram(self, window_s: float, at: float | None = None) -> ExponentialHistogram:
        """The buckets summed over ``window_s`` up to ``at`` (the watermark by default); count: their sum."""
        totals = self.windows.totals(window_s, at)
        return ExponentialHistogram(
            scale=self.scale if self.scale is not None else 0,
            count=sum(totals),
            zero_count=totals[0],
            positive_offset=self.offset,
            positive=totals[1:],
        )

    def to_state(self) -> dict:
        """A JSON-friendly snapshot; ``from_state`` restores it.

        >>> w = ExponentialWindows([60])
        >>> _ = w.add(1.0, ExponentialHistogram(scale=2, count=1, positive_offset=5, positive=[1]))
        >>> ExponentialWindows.from_state(w.to_state()).histogram(60).positive_offset
        5
        """
        return {
            "scale": self.scale,
            "offset": self.offset,
            "max_buckets": self.max_buckets,
            "windows": self.windows.to_state(),
        }

    def restore(self, state: dict) -> None:
        """Take the buckets of saved windows (``to_state``) of any window shape into this new, empty set.

        The saved layout is kept; the windows migrate as ``WindowSet.restore``
        migrates them (kept windows keep their counts, others start empty).

        >>> old = ExponentialWindows([60, 600])
        >>> _ = old.add(1.0, ExponentialHistogram(scale=2, count=1, positive_offset=5, positive=[1]))
        >>> new = ExponentialWindows([60, 3600], buckets_per_window=30)
        >>> new.restore(old.to_state())
        >>> new.histogram(60).positive, new.histogram(3600).count
        ((1.0,), 0.0)
        """
        fresh = WindowSet(
            self.windows.windows_s,
            width=state["windows"]["width"],
            buckets_per_window=self.buckets_per_window,
            max_lateness_s=self.windows.max_lateness_s,
        )
        fresh.restore(state["windows"])
        self.windows, self.scale, self.offset = fresh, state["scale"], state["offset"]

    @classmethod
    def from_state(cls, state: dict) -> ExponentialWindows:
        """The windows ``to_state`` described."""
        restored = cls.__new__(cls)
        restored.scale, restored.offset = state["scale"], state["offset"]
        restored.max_buckets = state["max_buckets"]
        restored.windows = WindowSet.from_state(state["windows"])
        restored.buckets_per_window = state["windows"]["windows"][0]["buckets"]
        return restored

    def _relayout(self, scale: int, offset: int, width: int) -> None:
        """Every stored bucket vector moved to ``scale`` (<= the current one), from ``offset``, ``width`` counters."""
        old_scale = self.scale if self.scale is not None else scale
        state = self.windows.to_state()
        for window in state["windows"]:
            old_width, counts = window["width"], window["counts"]
            moved = []
            for slot in range(0, len(counts), old_width):
                vector = counts[slot : slot + old_width]
                first, merged = merge_buckets(self.offset, vector[1:], old_scale - scale)
                out = [0.0] * width
                out[0] = vector[0]
                for k, count in enumerate(merged):
                    if count:
                        out[1 + first - offset + k] += count
                moved += out
            window["width"], window["counts"] = width, moved
        state["width"] = width
        self.windows = WindowSet.from_state(state)
        self.scale, self.offset = scale, offset
