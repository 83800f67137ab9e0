"""Choosing a season length from history, for the Holt-Winters forecaster.

:func:`detect_season` picks the lag with the strongest autocorrelation peak.
:func:`wall_clock_season` looks only at the cycles of wall-clock time
(hourly, daily, weekly), converted to points from the series' own sampling
interval, so series that arrive every 10 s and every 5 min each get their
daily cycle, and a strong autocorrelation at an arbitrary lag is not taken
for a season.
Run it on a series' *past* (a training prefix, or a buffer of history kept
before the detector starts); running it on the values being scored would be
look-ahead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["WALL_CLOCK_PERIODS", "detect_season", "wall_clock_period", "wall_clock_season"]

WALL_CLOCK_PERIODS = (3600.0, 86_400.0, 604_800.0)
"""The cycles metrics have: hourly (cron jobs), daily (users), weekly (working days), in seconds."""


def detect_season(
    values: Sequence[float], max_season: int | None = None, min_strength: float = 0.3
) -> int:
    """The season length in points with the highest autocorrelation peak, or 0 if none is clear.

    Considers lags from the autocorrelation's first zero crossing (so the
    high correlation of neighbouring points is not taken for a season) up to
    ``max_season`` (default: a third of the finite values, so at least three
    seasons are seen) that are local maxima; a peak must reach ``min_strength``. Missing
    (NaN) values are dropped, which shifts the phase: fill gaps first for
    long ones. Where it fails: a series with two seasons (daily and weekly)
    returns the stronger; a trend dominates the autocorrelation (difference
    the series first).

    >>> import math
    >>> detect_season([math.sin(2 * math.pi * t / 24) for t in range(24 * 7)])
    24
    >>> detect_season([1.0, 2.0, 3.0, 4.0] * 2)
    0
    """
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    n = len(y)
    limit = n // 3 if max_season is None else min(max_season, n - 1)
    if limit < 2:
        return 0
    y = y - y.mean()
    denom = float(np.dot(y, y))
    if denom == 0.0:
        return 0
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(y, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: limit + 2] / denom
    below = np.flatnonzero(acf[: limit + 1] < 0.0)
    if len(below) == 0:  # never decorrelates within the range: a trend, or no cycle in range
        return 0
    best, best_lag = min_strength, 0
    for lag in range(max(2, int(below[0])), limit + 1):
        if acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1] and acf[lag] > best:
            best, best_lag = float(acf[lag]), lag
    return best_lag


def wall_clock_season(
    timestamps: Sequence[float],
    values: Sequence[float],
    periods: Sequence[float] = WALL_CLOCK_PERIODS,
    min_cycles: float = 2.0,
    min_strength: float = 0.3,
) -> int:
    """The season in points of the strongest wall-clock cycle in this history, or 0 if none is clear.

    The sampling interval is the median positive step of ``timestamps``
    (epoch seconds; rows may step back, as a clock does); the cycle is
    :func:`wall_clock_period`'s. Run it on history only (a training prefix,
    the probationary period), never on the values being scored.

    >>> import math
    >>> t = [300.0 * i for i in range(288 * 3)]
    >>> daily = [10 + 3 * math.sin(2 * math.pi * s / 86_400) for s in t]
    >>> wall_clock_season(t, daily), wall_clock_season(t, [1.0] * len(t))
    (288, 0)
    """
    period, interval = wall_clock_period(timestamps, values, periods, min_cycles, min_strength)
    return round(period / interval) if period else 0


def wall_clock_period(
    timestamps: Sequence[float],
    values: Sequence[float],
    periods: Sequence[float] = WALL_CLOCK_PERIODS,
    min_cycles: float = 2.0,
    min_strength: float = 0.3,
) -> tuple[float, float]:
    """The strongest wall-clock cycle in this history in seconds (0.0: none), and the sampling interval.

    The sampling interval is the median positive step of ``timestamps``. A
    period counts when ``min_cycles`` of it fit in the history and it spans
    at least 2 points; its autocorrelation at that lag (the best of the lag
    and its two neighbours, for a jittery interval; after removing a
    straight-line trend) must reach ``min_strength``, and its strength is
    that minus the autocorrelation at half the lag (a smooth series without
    a cycle is correlated at both). The strongest above ``min_strength`` wins.

    >>> import math
    >>> t = [600.0 * i for i in range(6 * 24 * 3)]
    >>> wall_clock_period(t, [math.sin(2 * math.pi * s / 3600) for s in t])
    (3600.0, 600.0)
    """
    t = np.asarray(timestamps, dtype=float)
    y = np.asarray(values, dtype=float)
    steps = np.diff(t)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return 0.0, 0.0
    interval = float(np.median(steps))
    ok = np.isfinite(y)
    y = y[ok]
    n = len(y)
    if n < 4:
        return 0.0, interval
    x = np.flatnonzero(ok).astype(float)
    y = y - np.polyval(np.polyfit(x, y, 1), x)
    denom = float(np.dot(y, y))
    if denom <= 1e-12 * max(1.0, float(np.dot(y + 1.0, y + 1.0))):
        return 0.0, interval
    best, best_period = min_strength, 0.0
    for period in periods:
        lag = round(period / interval)
        if lag < 2 or lag * min_cycles > n:
            continue
        peak = max(
            float(np.dot(y[: n - k], y[k:])) / denom for k in (lag - 1, lag, lag + 1) if 1 <= k < n
        )
        half = float(np.dot(y[: n - lag // 2], y[lag // 2 :])) / denom
        strength = (
            peak - half
        )  # a cycle: high at its period, low half-way; a smooth series: high at both
        if peak >= min_strength and strength > best:
            best, best_period = strength, float(period)
    return best_period, interval
