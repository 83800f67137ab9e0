"""Input values: what counts as missing, and how huge values are bounded.

Every detector passes its input through :func:`clean` first, so the same
defined behaviour holds for all of them: ``None``, NaN and anything that is
not a number are *missing* (returned as NaN); ``±inf`` and values beyond
``±MAX_ABS`` are clipped to ``±MAX_ABS``. ``MAX_ABS`` is small enough that
squares and sums of squares of differences stay finite in float64
(``(2e100)**2 * 1e4 < 1.8e308``), so no detector overflows to inf or NaN.
"""

from __future__ import annotations

import math

__all__ = ["MAX_ABS", "clean"]

MAX_ABS = 1e100


def clean(x: object) -> float:
    """``x`` as a float clipped to ``±MAX_ABS``; NaN when it is missing or not a number.

    >>> clean(3), clean(None), clean(float("inf")), clean(-1e300), clean("oops")
    (3.0, nan, 1e+100, -1e+100, nan)
    """
    if x is None:
        return math.nan
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    if value > MAX_ABS:
        return MAX_ABS
    if value < -MAX_ABS:
        return -MAX_ABS
    return value
