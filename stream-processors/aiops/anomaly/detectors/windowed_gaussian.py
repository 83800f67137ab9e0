"""The Numenta Anomaly Benchmark's windowed-Gaussian baseline.

A faithful port of NAB's ``windowedGaussian`` detector, the baseline the
default detector is measured against: the mean and standard deviation of the
last ``window_size`` values, refreshed after every value while the window
fills (incrementally, Welford's method) and then every ``step_size`` values
(recomputed in two passes); a value's score is
``1 - Q(|x - mean| / std)``, so a value at the mean scores 0.5 and scores lie
in [0.5, 1] once there is data (0.0 before the first value, as in NAB). A
zero standard deviation is replaced by 1e-6, as in NAB.

Where it fails: no seasonality or trend; one huge value inflates the standard
deviation until it leaves the window; memory is ``8 * window_size`` bytes.
"""

from __future__ import annotations

import math

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.calibration import gaussian_tail
from aiops.anomaly.detectors.values import clean

__all__ = ["WindowedGaussian"]


class WindowedGaussian(Detector):
    """NAB's windowed-Gaussian baseline (``window_size=6400``, ``step_size=100``).

    >>> detector = WindowedGaussian(window_size=100, step_size=10)
    >>> for i in range(100):
    ...     detector.learn_one(10.0 + (i % 5))
    >>> round(detector.score_one(12.0), 3), round(detector.score_one(30.0), 3)
    (0.5, 1.0)
    """

    def __init__(self, window_size: int = 6400, step_size: int = 100) -> None:
        self.window_size = window_size
        self.step_size = step_size
        self._window: list[float] = []
        self._buffer: list[float] = []
        self._mean = 0.0
        self._m2 = 0.0
        self._std = 1e-6

    @classmethod
    def _unit_test_params(cls):
        yield {"window_size": 50, "step_size": 5}

    def _set_std(self, variance: float) -> None:
        std = math.sqrt(max(variance, 0.0))
        self._std = std if std > 0.0 else 1e-6

    def _refresh(self) -> None:
        n = len(self._window)
        mean = math.fsum(self._window) / n
        self._mean = mean
        self._set_std(math.fsum((v - mean) ** 2 for v in self._window) / n)

    def score_one(self, x: float | None) -> float:
        y = clean(x)
        if math.isnan(y) or not self._window:
            return 0.0
        return 1.0 - gaussian_tail(abs(y - self._mean) / self._std)

    def learn_one(self, x: float | None) -> None:
        y = clean(x)
        if math.isnan(y):
            return
        if len(self._window) < self.window_size:
            self._window.append(y)
            d = y - self._mean
            self._mean += d / len(self._window)
            self._m2 += d * (y - self._mean)
            self._set_std(self._m2 / len(self._window))
            return
        self._buffer.append(y)
        if len(self._buffer) == self.step_size:
            self._window = self._window[self.step_size :] + self._buffer
            self._buffer = []
            self._refresh()
