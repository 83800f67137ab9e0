"""river's HalfSpaceTrees on causally scaled features of one series.

HalfSpaceTrees (Tan, Ting & Liu 2011) is a streaming isolation forest: random
trees split the feature space once, each node counts how many points of the
previous window fell in it, and a point that lands where few points fell is
anomalous. river's implementation assumes features in [0, 1], so each value
becomes two features, each scaled by a :class:`CausalScaler` from the values
before it (no look-ahead):

- ``v``: the value itself,
- ``d``: its change from the previous (non-missing) value.

Both scalers' standard deviations are floored at the series' resolution
(:class:`~aiops.anomaly.detectors.scaling.Resolution`), so on an idle integer
gauge a step of 1 is a modest move, not the edge of the feature space.

Scores are river's, in [0, 1]; 0 until the first window of ``window_size``
points has been learnt. The trees are drawn from ``seed`` and do not depend on
the data, so every series with the same seed shares one tree structure (the
fast path stores the structure once and only the masses per series).

Where it fails: raw scores sit in a narrow band near 1 (about 0.95 for
normal points, 0.99 for outliers at the defaults), so a fixed threshold on them
means little; HalfSpaceTrees detects isolated points, not anomalies packed
together in a window; with one value per step it sees no temporal pattern
beyond the one-step change; at defaults it keeps 10 trees of 511 nodes, about
1 MiB of Python objects per series.
"""

from __future__ import annotations

import math

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.scaling import CausalScaler, Resolution
from aiops.anomaly.detectors.values import clean

__all__ = ["HalfSpaceTreesDetector"]


class HalfSpaceTreesDetector(Detector):
    """river's ``anomaly.HalfSpaceTrees`` over the scaled value and its change.

    >>> import random
    >>> rng = random.Random(0)
    >>> detector = HalfSpaceTreesDetector()
    >>> for _ in range(600):
    ...     detector.learn_one(rng.gauss(100, 5))
    >>> round(detector.score_one(100.0), 3), round(detector.score_one(160.0), 3)
    (0.952, 0.993)

    The scores of normal points are close to 1 too (the walk stops where a
    node holds under a tenth of the window), so threshold them only after
    calibration, as :class:`~aiops.anomaly.detectors.combined.CombinedDetector` does.
    """

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        seed: int = 0,
        scale_rate: float = 0.01,
        scale_range: float = 4.0,
    ) -> None:
        from river import anomaly

        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.scale_rate = scale_rate
        self.scale_range = scale_range
        self._hst = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self._value = CausalScaler(rate=scale_rate, scale_range=scale_range)
        self._change = CausalScaler(rate=scale_rate, scale_range=scale_range)
        self._prev = float("nan")
        self._learnt = 0
        self._resolution = Resolution()

    @classmethod
    def _unit_test_params(cls):
        yield {"n_trees": 3, "height": 4, "window_size": 20}
        yield {"n_trees": 2, "height": 3, "window_size": 10, "seed": 7, "scale_rate": 0.1}

    @property
    def ready(self) -> bool:
        """Whether the first window has been learnt (scores are 0 before)."""
        return self._learnt >= self.window_size

    def _features(self, y: float) -> dict[str, float]:
        prev = self._prev
        d = y - prev if not math.isnan(prev) else 0.0
        floor = self._resolution.floor()
        return {"d": self._change.transform(d, floor), "v": self._value.transform(y, floor)}

    def score_one(self, x: float | None) -> float:
        y = clean(x)
        if math.isnan(y) or not self.ready:
            return 0.0
        return float(self._hst.score_one(self._features(y)))

    def learn_one(self, x: float | None) -> None:
        y = clean(x)
        if math.isnan(y):
            return
        self._hst.learn_one(self._features(y))
        prev = self._prev
        floor = self._resolution.floor()
        self._change.update(y - prev if not math.isnan(prev) else 0.0, floor)
        self._value.update(y, floor)
        self._prev = y
        self._learnt += 1
        self._resolution.update(y)
