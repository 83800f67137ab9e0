"""Choosing a season length from history, for the Holt-Winters forecaster.

:func:`detect_season` picks the lag with the strongest autocorrelation peak.
Run it on a series' *past* (a training prefix, or a buffer of history kept
before the detector starts); running it on the values being scored would be
look-ahead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["detect_season"]


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
