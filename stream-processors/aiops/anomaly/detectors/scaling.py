"""Causal scaling into [0, 1] for detectors that need bounded features (HalfSpaceTrees).

river's ``MinMaxScaler`` needs no look-ahead either, but one huge value
stretches its range for ever and squeezes every later value into a corner.
:class:`CausalScaler` standardises each value with an exponentially weighted
mean and standard deviation of the values *before* it, then maps
``[-scale_range, +scale_range]`` standard deviations linearly onto [0, 1]
and clips beyond. Its update is winsorised at ``scale_range`` standard
deviations after ``warmup`` values, so a single huge value moves it by a
bounded amount; a lasting level shift is still absorbed, because the
clipped updates grow the variance geometrically.

Its standard deviation is floored by the series' resolution (see
:class:`Resolution`), so the values of an integer gauge that sat at 0 for a
day still map 1 to a modest distance from 0, not to the edge.

:class:`Resolution` is the smallest step a series has shown: the smallest
non-zero change between consecutive values, and at most 1 while every value
has been an integer (a count or an integer gauge). Detectors floor their
residual scale at ``RESOLUTION_SCALE`` of it, so a quantised or
near-constant series is judged at its own resolution.

Where it fails: on a series with less spread than ``min_sigma +
min_rel_sigma * |mean|`` and no resolution yet (a flat line of a non-integer
value) every value maps to 0.5; the first values (before the statistics
settle) map near the edges.
"""

from __future__ import annotations

import math

from aiops.anomaly.detectors.base import SlotsState

__all__ = ["RESOLUTION_SCALE", "CausalScaler", "Resolution"]

RESOLUTION_SCALE = 1.0
"""Residual scales are floored at this multiple of the series' resolution: one step of an integer gauge is one sigma."""


class Resolution(SlotsState):
    """The smallest step a series has shown: ``min(smallest non-zero change, 1 if all values were integers)``.

    ``value`` is ``inf`` while nothing is known (a flat line of a non-integer
    value). A change counts when it exceeds ``1e-12`` of the values, so
    floating-point noise in a computed rate is not taken for a resolution.
    The numpy fast path implements the same arithmetic.

    >>> resolution = Resolution()
    >>> for y in [0.0, 0.0, 0.0]:
    ...     resolution.update(y)
    >>> resolution.value  # an idle integer gauge: steps of at least 1
    1.0
    >>> for y in [0.25, 0.5, 0.5]:
    ...     resolution.update(y)
    >>> resolution.value
    0.25
    """

    __slots__ = ("integral", "prev", "smallest")

    def __init__(self) -> None:
        self.prev = math.nan
        self.smallest = math.inf
        self.integral = True

    @property
    def value(self) -> float:
        """The resolution; ``inf`` when unknown."""
        return (
            min(self.smallest, 1.0)
            if self.integral and not math.isnan(self.prev)
            else self.smallest
        )

    def floor(self) -> float:
        """``RESOLUTION_SCALE * value``, or 0.0 when unknown: the floor of a residual scale."""
        value = self.value
        return RESOLUTION_SCALE * value if value < math.inf else 0.0

    def update(self, y: float) -> None:
        """Learn one non-missing value."""
        prev = self.prev
        if not math.isnan(prev):
            d = abs(y - prev)
            if d > 1e-12 * max(abs(y), abs(prev)) and d < self.smallest:
                self.smallest = d
        if self.integral and math.floor(y) != y:
            self.integral = False
        self.prev = y


class CausalScaler(SlotsState):
    """Exponentially weighted standardisation, mapped and clipped into [0, 1].

    The numpy fast path implements the same arithmetic, operation for operation.

    >>> scaler = CausalScaler(rate=0.1, scale_range=4.0)
    >>> for v in [10.0, 12.0, 8.0, 11.0, 9.0, 10.0]:
    ...     scaler.update(v)
    >>> round(scaler.transform(10.0), 2), scaler.transform(1e6)
    (0.5, 1.0)
    """

    __slots__ = ("mean", "min_rel_sigma", "min_sigma", "n", "rate", "scale_range", "var", "warmup")

    def __init__(
        self,
        rate: float = 0.01,
        scale_range: float = 4.0,
        warmup: int = 10,
        min_sigma: float = 1e-9,
        min_rel_sigma: float = 1e-6,
    ) -> None:
        self.rate = rate
        self.scale_range = scale_range
        self.warmup = warmup
        self.min_sigma = min_sigma
        self.min_rel_sigma = min_rel_sigma
        self.n = 0
        self.mean = 0.0
        self.var = 0.0

    def _sigma(self, floor: float) -> float:
        return max(
            max(math.sqrt(self.var), self.min_sigma + self.min_rel_sigma * abs(self.mean)), floor
        )

    def transform(self, v: float, floor: float = 0.0) -> float:
        """``v`` in [0, 1]: 0.5 at the running mean, 0 and 1 at ``∓scale_range`` sigmas (sigma at least ``floor``)."""
        u = 0.5 + (v - self.mean) / self._sigma(floor) / (2.0 * self.scale_range)
        return min(1.0, max(0.0, u))

    def update(self, v: float, floor: float = 0.0) -> None:
        """Learn one value (winsorised after ``warmup`` values)."""
        if self.n >= self.warmup:
            bound = self.scale_range * self._sigma(floor)
            v = min(max(v, self.mean - bound), self.mean + bound)
        rate = max(self.rate, 1.0 / (self.n + 1))
        d = v - self.mean
        self.mean = self.mean + rate * d
        self.var = (1.0 - rate) * (self.var + rate * d * d)
        self.n += 1
