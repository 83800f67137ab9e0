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

Where it fails: on a series with less spread than ``min_sigma +
min_rel_sigma * |mean|`` every value maps to 0.5; the first values (before
the statistics settle) map near the edges.
"""

from __future__ import annotations

import math

__all__ = ["CausalScaler"]


class CausalScaler:
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

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def _sigma(self) -> float:
        return max(math.sqrt(self.var), self.min_sigma + self.min_rel_sigma * abs(self.mean))

    def transform(self, v: float) -> float:
        """``v`` in [0, 1]: 0.5 at the running mean, 0 and 1 at ``∓scale_range`` sigmas."""
        u = 0.5 + (v - self.mean) / self._sigma() / (2.0 * self.scale_range)
        return min(1.0, max(0.0, u))

    def update(self, v: float) -> None:
        """Learn one value (winsorised after ``warmup`` values)."""
        if self.n >= self.warmup:
            bound = self.scale_range * self._sigma()
            v = min(max(v, self.mean - bound), self.mean + bound)
        rate = max(self.rate, 1.0 / (self.n + 1))
        d = v - self.mean
        self.mean = self.mean + rate * d
        self.var = (1.0 - rate) * (self.var + rate * d * d)
        self.n += 1
