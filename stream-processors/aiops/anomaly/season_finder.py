"""Each track's wall-clock season, found from its own timestamps and history during warm-up.

The detect engine's tracks arrive at their own intervals (10 s, 1 min,
5 min), so a season counted in points cannot be one setting for all. While a
track warms up, :class:`SeasonFinder` keeps a downsampled history of it
(``buckets`` time buckets whose width doubles when they are full, so the
memory per track is fixed however long the warm-up) and the last few
intervals between its points. The bucket columns are allocated as the
histories need them (from :data:`_FIRST_COLUMNS`, doubling up to
``buckets``), so tracks that have seen an hour cost a few hundred bytes,
not the full history's 16 kB. When the history spans ``checks[i]`` seconds
it looks for the wall-clock cycles that fit twice
(:func:`~aiops.anomaly.detectors.seasonality.wall_clock_period`): at the
first check hourly and daily, at the last one weekly too. The season in
points is the period over the track's own median interval; the history is
then dropped. :meth:`SeasonFinder.seed` turns the history into the seasonal
terms, level and trend a seasonal Holt-Winters starts from, so a track that
moves to a seasonal bank scores at once instead of relearning a season.

Rows are numpy rows, one per track (the engine uses the track's slot in its
season-less bank), so observing a batch of points is array work.

Where it fails: a track with two cycles gets the one found first (the daily
one of a daily-plus-weekly series at the first check); a season longer than
``max_season`` points (a weekly cycle of a 1-minute series) is not taken; a
cycle that starts after the warm-up is not found.

>>> import math
>>> finder = SeasonFinder(checks=(2 * 86_400.0,))
>>> rows = np.array([0, 1])
>>> for i in range(2 * 288 + 1):
...     t = 1_800_000_000 + 300.0 * i
...     cycle = math.sin(2 * math.pi * t / 86_400)
...     due = finder.observe(rows, np.array([t, t]), np.array([cycle, 5.0]))
>>> due.tolist(), finder.decide(0), finder.decide(1)
([0, 1], (86400.0, 288), (0.0, 0))
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Sequence

import numpy as np

from aiops.anomaly.detectors.seasonality import WALL_CLOCK_PERIODS, wall_clock_period
from aiops.anomaly.rows import grown_rows, reset_rows

__all__ = ["SeasonFinder"]

_STEPS = 32
"""Intervals kept per track (a ring): their median is the track's interval."""

_FIRST_COLUMNS = 64
"""Bucket columns allocated at first (an hour at the first width); doubled as a history reaches them."""

_BUCKET_FIELDS = ("sums", "counts")


class SeasonFinder:
    """Downsampled warm-up histories of many tracks, and the wall-clock season each one has.

    ``buckets`` time buckets per track starting ``width_s`` wide (doubled,
    pairs merged, when a point falls beyond the last), checks at the spans in
    ``checks`` (seconds), seasons of at most ``max_season`` points.
    """

    def __init__(
        self,
        buckets: int = 2048,
        width_s: float = 60.0,
        checks: Sequence[float] = (2.0 * 86_400 + 3600.0, 15.0 * 86_400),
        periods: Sequence[float] = WALL_CLOCK_PERIODS,
        max_season: int = 4096,
    ) -> None:
        if buckets < 8 or buckets % 2:
            raise ValueError(f"buckets must be even and at least 8, not {buckets}")
        self.buckets = buckets
        self.width_s = width_s
        self.checks = tuple(sorted(checks))
        self.periods = tuple(periods)
        self.max_season = max_season
        self._columns = min(_FIRST_COLUMNS, buckets)
        self._state: dict[str, np.ndarray] = {}
        self._grow(16)

    def _fields(self) -> dict[str, tuple[np.dtype, tuple[int, ...], float]]:
        f4, f8, i8 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
        return {
            "t0": (f8, (), math.nan),  # start of the first bucket
            "y0": (f8, (), math.nan),  # the first value: buckets sum values minus it, in float32
            "width": (f8, (), self.width_s),
            "sums": (f4, (self._columns,), 0.0),
            "counts": (f4, (self._columns,), 0.0),
            "last_t": (f8, (), math.nan),
            "steps": (f4, (_STEPS,), math.nan),
            "n_steps": (i8, (), 0),
            "stage": (i8, (), 0),
        }

    def _grow(self, capacity: int) -> None:
        self._state = grown_rows(self._state, self._fields(), capacity)

    def _widen(self, needed: int) -> None:
        """Allocate bucket columns up to ``needed`` (a power of two, at most ``buckets``), the old ones kept."""
        columns = self._columns
        while columns < min(needed, self.buckets):
            columns *= 2
        columns = min(columns, self.buckets)
        if columns == self._columns:
            return
        for name in _BUCKET_FIELDS:
            old = self._state[name]
            wide = np.zeros((len(old), columns), dtype=old.dtype)
            wide[:, : self._columns] = old
            self._state[name] = wide
        self._columns = columns

    def ensure(self, capacity: int) -> None:
        """Make rows ``0 .. capacity - 1`` exist (fresh)."""
        if capacity > len(self._state["t0"]):
            self._grow(max(capacity, 2 * len(self._state["t0"])))

    def reset(self, rows: Sequence[int] | np.ndarray) -> None:
        """Forget the history of ``rows`` (their track left, or its season was found)."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(self._state["t0"]))]
        reset_rows(self._state, self._fields(), rows)

    @property
    def bytes_per_track(self) -> int:
        """Bytes of history per warming track when every bucket is in use (the checkpoint's row size)."""
        return sum(
            a.itemsize * self.buckets if name in _BUCKET_FIELDS else a.nbytes // len(a)
            for name, a in self._state.items()
        )

    @property
    def nbytes(self) -> int:
        """Bytes allocated for all rows."""
        return sum(a.nbytes for a in self._state.values())

    def observe(self, rows: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Add points (``t`` epoch seconds) to the histories of ``rows``; the rows now due a :meth:`decide`.

        Points of one row are taken in time order; a point older than its
        row's history start is not kept (a clock that stepped back), a
        missing value (NaN) counts for the interval only.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return rows
        self.ensure(int(rows.max()) + 1)
        st = self._state
        t = np.asarray(t, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        order = np.lexsort((t, rows))
        rows, t, y = rows[order], t[order], y[order]
        first = np.r_[True, rows[1:] != rows[:-1]]
        prev = np.where(first, st["last_t"][rows], np.r_[np.nan, t[:-1]])
        step = t - prev
        stepped = np.flatnonzero(step > 0)
        if len(stepped):
            srows = rows[stepped]
            rank = np.cumsum(np.r_[True, srows[1:] != srows[:-1]])
            within = np.arange(len(stepped)) - np.searchsorted(rank, rank)
            slot = (st["n_steps"][srows] + within) % _STEPS
            st["steps"][srows, slot] = step[stepped]
            np.add.at(st["n_steps"], srows, 1)
        ends = np.r_[rows[1:] != rows[:-1], True]
        st["last_t"][rows[ends]] = np.fmax(st["last_t"][rows[ends]], t[ends])
        ok = np.isfinite(y)
        fresh = np.flatnonzero(ok & np.isnan(st["t0"][rows]))
        if len(fresh):
            new_rows, first_of = np.unique(rows[fresh], return_index=True)
            st["t0"][new_rows], st["y0"][new_rows] = t[fresh[first_of]], y[fresh[first_of]]
        index = np.floor((t - st["t0"][rows]) / st["width"][rows])
        keep = ok & (index >= 0)
        if keep.any():
            self._widen(int(index[keep].max()) + 1)
        full = np.unique(rows[keep & (index >= self.buckets)])
        for row in full.tolist():
            self._compact(row, float(t[rows == row].max()))
        index = np.floor((t - st["t0"][rows]) / st["width"][rows])
        kr, ki = rows[keep], index[keep].astype(np.int64)
        np.add.at(st["sums"], (kr, ki), (y[keep] - st["y0"][kr]).astype(np.float32))
        np.add.at(st["counts"], (kr, ki), np.float32(1.0))
        last = np.unique(rows)
        stage = st["stage"][last]
        span = st["last_t"][last] - st["t0"][last]
        check = np.asarray(self.checks)[np.minimum(stage, len(self.checks) - 1)]
        return last[(stage < len(self.checks)) & (span >= check)]

    def _compact(self, row: int, t: float) -> None:
        """Merge pairs of buckets (doubling their width) until ``t`` falls within the last."""
        st = self._state
        half = self.buckets // 2
        while t - st["t0"][row] >= self.buckets * st["width"][row]:
            for name in ("sums", "counts"):
                merged = st[name][row, 0::2] + st[name][row, 1::2]
                st[name][row, :half] = merged
                st[name][row, half:] = 0.0
            st["width"][row] *= 2.0

    def _history(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Bucket centres and mean values up to the last non-empty bucket, empty ones interpolated."""
        st = self._state
        counts = st["counts"][row].astype(np.float64)
        filled = np.flatnonzero(counts > 0)
        if len(filled) == 0:
            return np.zeros(0), np.zeros(0)
        grid = np.arange(int(filled[-1]) + 1)
        means = st["sums"][row, filled].astype(np.float64) / counts[filled] + st["y0"][row]
        values = np.interp(grid, filled, means)
        times = st["t0"][row] + (grid + 0.5) * st["width"][row]
        return times, values

    def last_t(self, row: int) -> float:
        """The time of the row's newest point."""
        return float(self._state["last_t"][row])

    def interval(self, row: int) -> float:
        """The track's interval: the median of its last intervals (NaN before two points)."""
        steps = self._state["steps"][row]
        steps = steps[np.isfinite(steps)]
        return float(np.median(steps)) if len(steps) else math.nan

    def decide(self, row: int) -> tuple[float, int] | None:
        """The season of a due row, as ``(period in seconds, season in points)``; ``(0.0, 0)``: none.

        ``None``: no cycle yet, and a later check may find a longer one (the
        history is kept until then).
        """
        st = self._state
        times, values = self._history(row)
        interval = self.interval(row)
        stage = int(st["stage"][row])
        period = 0.0
        if len(times) >= 4 and math.isfinite(interval):
            period, _ = wall_clock_period(times, values, self.periods)
        if period:
            points = round(period / interval)
            if 2 <= points <= self.max_season:
                return period, points
        st["stage"][row] = stage + 1
        if stage + 1 < len(self.checks):
            return None
        return 0.0, 0

    def seed(self, row: int, period: float, points: int) -> tuple[float, float, np.ndarray]:
        """Where a seasonal Holt-Winters of ``points`` per ``period`` starts: ``(level, trend, terms)``.

        ``terms[j]`` is the cycle's mean deviation at wall-clock phase ``j``
        (epoch time modulo the period, in ``points`` equal steps), from the
        history after removing a straight-line trend; the level is that line
        at the last point, the trend its slope per point.
        """
        times, values = self._history(row)
        slope, intercept = np.polyfit(times - times[0], values, 1)
        residual = values - (intercept + slope * (times - times[0]))
        phase = np.floor((times % period) * points / period).astype(np.int64) % points
        sums = np.bincount(phase, weights=residual, minlength=points)
        counts = np.bincount(phase, minlength=points)
        seen = np.flatnonzero(counts)
        terms = np.interp(np.arange(points), seen, sums[seen] / counts[seen], period=points)
        terms -= terms.mean()
        last_t = float(self._state["last_t"][row])
        level = float(intercept + slope * (last_t - times[0]))
        return level, float(slope * self.interval(row)), terms

    def export_rows(self, rows: Sequence[int]) -> str:
        """The histories of ``rows`` as one string (zlib-compressed raw rows of all ``buckets``, base64): no pickle."""
        index = np.asarray(rows, dtype=np.int64)
        body = b"".join(
            self._full_width(name, array[index]).tobytes() for name, array in self._state.items()
        )
        return base64.b64encode(zlib.compress(body, 1)).decode()

    def import_rows(self, rows: Sequence[int], data: str) -> None:
        """Put back histories :meth:`export_rows` gave, into ``rows`` (the same number of rows)."""
        index = np.asarray(rows, dtype=np.int64)
        body = zlib.decompress(base64.b64decode(data))
        if len(body) != self.bytes_per_track * len(index):
            raise ValueError(
                f"season histories of {len(body)} bytes do not fit {len(index)} tracks "
                f"of {self.bytes_per_track} bytes"
            )
        if len(index) == 0:
            return
        self.ensure(int(index.max()) + 1)
        offset = 0
        for name, array in self._state.items():
            shape = (self.buckets,) if name in _BUCKET_FIELDS else array.shape[1:]
            count = len(index) * math.prod(shape)
            values = np.frombuffer(body, dtype=array.dtype, count=count, offset=offset)
            values = values.reshape((len(index), *shape))
            offset += values.nbytes
            if name in _BUCKET_FIELDS:
                used = np.flatnonzero(values.any(axis=0))
                self._widen(int(used[-1]) + 1 if len(used) else 0)
                values = values[:, : self._columns]
            self._state[name][index] = values

    def _full_width(self, name: str, rows: np.ndarray) -> np.ndarray:
        """``rows`` of a field, bucket fields padded with empty buckets to ``buckets`` columns."""
        if name not in _BUCKET_FIELDS or self._columns == self.buckets:
            return rows
        return np.pad(rows, ((0, 0), (0, self.buckets - self._columns)))
