"""Traffic shapes: functions from seconds since the start to requests per second.

Pure. A shape says how hard to push at each moment; ``arrivals`` turns it into
the send times of an open-loop generator (requests go out on schedule whether
or not earlier ones have answered).

>>> day = diurnal(min_rate=2, max_rate=10, period_s=60)
>>> [day(t) for t in (0, 15, 30, 45, 60)]
[2.0, 6.0, 10.0, 6.0, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

__all__ = ["SHAPES", "Shape", "arrivals", "diurnal", "make_shape", "steady"]

Shape = Callable[[float], float]
"""Seconds since the start of a run → target requests per second (>= 0)."""

SHAPES = ("steady", "diurnal")

_MAX_STEP_S = 0.1
_EPSILON = 1e-9


def steady(rate: float) -> Shape:
    """The same rate all the time.

    >>> steady(5)(0), steady(5)(3600)
    (5.0, 5.0)
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0, got {rate}")
    value = float(rate)
    return lambda t: value


def diurnal(min_rate: float, max_rate: float, period_s: float) -> Shape:
    """A day in ``period_s``: a sinusoid from ``min_rate`` (at t=0) up to ``max_rate`` and back.

    >>> wave = diurnal(0, 4, period_s=10)
    >>> wave(0), wave(2.5), wave(5), wave(10)
    (0.0, 2.0, 4.0, 0.0)
    """
    if not 0 <= min_rate <= max_rate:
        raise ValueError(f"need 0 <= min_rate <= max_rate, got {min_rate}, {max_rate}")
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s}")
    low, span = float(min_rate), float(max_rate - min_rate)
    return lambda t: low + span * (1.0 - math.cos(2.0 * math.pi * t / period_s)) / 2.0


def make_shape(
    name: str, rate: float, *, min_rate: float | None = None, period_s: float = 300.0
) -> Shape:
    """A shape by name: ``steady`` at ``rate``, or ``diurnal`` peaking at ``rate``.

    The diurnal trough is ``min_rate``, by default a tenth of the peak.

    >>> make_shape("diurnal", 20, period_s=60)(0)
    2.0
    """
    if name == "steady":
        return steady(rate)
    if name == "diurnal":
        return diurnal(rate / 10.0 if min_rate is None else min_rate, rate, period_s)
    raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(SHAPES)}")


def arrivals(shape: Shape) -> Iterator[float]:
    """Send times (seconds from the start) that follow ``shape``; endless.

    The first request goes at 0 and each later one when the integral of the
    rate has grown by one request, so slow and changing rates (even 0 for a
    while) come out right; the integral is stepped at most 0.1 s at a time.

    >>> from itertools import islice
    >>> list(islice(arrivals(steady(4)), 4))
    [0.0, 0.25, 0.5, 0.75]
    >>> list(islice(arrivals(steady(0.5)), 3))
    [0.0, 2.0, 4.0]
    """
    t, credit = 0.0, 1.0
    while True:
        if credit >= 1.0 - _EPSILON:
            yield t
            credit -= 1.0
            continue
        rate = shape(t)
        step = min(_MAX_STEP_S, (1.0 - credit) / rate) if rate > 0 else _MAX_STEP_S
        credit += rate * step
        t += step
