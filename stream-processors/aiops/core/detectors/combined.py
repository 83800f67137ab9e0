"""The default detector: Holt-Winters residual and HalfSpaceTrees, each calibrated, combined.

Two views of each point, each turned into a tail probability by its own
:class:`~aiops.core.detectors.calibration.AnomalyLikelihood`:

- the Holt-Winters one-step residual, standardised (``|z|``, capped at 10):
  catches spikes, dips, level shifts and seasonality breaks against the
  forecast; its short-term average also catches a change of variance;
- the HalfSpaceTrees score on the scaled value and change: catches values and
  jumps rare in the previous window, whatever the forecast says.

The combined tail probability is the smaller of the two, reported as
:func:`~aiops.core.detectors.calibration.tail_score`: a score in [0, 1] where
0.5 means "this short-term behaviour has probability 1e-5 under this series'
own history". Because each series is compared with itself, one threshold
means the same on a quiet series and a noisy one. Everything is causal:
``score_one(x)`` uses only the values learnt before ``x``.

Warm-up: no score above 0 until the forecaster has ``max(2, season) +
warmup`` points and its calibrator ``calibration_warmup`` more; the trees
join after their first window (``window_size`` points) and
``calibration_warmup`` more.

:class:`~aiops.core.detectors.fast.FastCombined` is the same detector for many
series at once, in numpy; it reproduces this class within 1e-9.

Where it fails: see the two components; the short-term average makes a
spike's score echo for a few points after it (about 5 at the defaults for a
spike of 10 sigmas or more); a lasting anomaly is learnt as the new
normal within about ``1 / long_rate`` points (the calibrator) and sooner by
the forecaster (its level follows with rate ``alpha``).
"""

from __future__ import annotations

import math

from aiops.core.detectors.base import Detector
from aiops.core.detectors.calibration import AnomalyLikelihood, tail_score
from aiops.core.detectors.half_space_trees import HalfSpaceTreesDetector
from aiops.core.detectors.holt_winters import HoltWintersDetector
from aiops.core.detectors.values import clean

__all__ = ["CombinedDetector", "default_detector"]


class CombinedDetector(Detector):
    """Holt-Winters residual and HalfSpaceTrees, calibrated per series; a score in [0, 1].

    ``hst=False`` leaves the trees out (the Holt-Winters view alone, calibrated).

    >>> import random
    >>> rng = random.Random(3)
    >>> quiet, noisy = CombinedDetector(window_size=50), CombinedDetector(window_size=50)
    >>> for _ in range(300):
    ...     quiet.learn_one(rng.gauss(0.2, 0.01))
    ...     noisy.learn_one(rng.gauss(500.0, 80.0))
    >>> quiet.score_one(0.2) < 0.3 and noisy.score_one(500.0) < 0.3
    True
    >>> quiet.score_one(0.2 + 8 * 0.01) > 0.5 and noisy.score_one(500.0 + 8 * 80.0) > 0.5
    True
    """

    def __init__(
        self,
        season: int = 0,
        alpha: float = 0.2,
        beta: float = 0.01,
        gamma: float = 0.1,
        residual_rate: float = 0.02,
        warmup: int = 10,
        clip_sigmas: float = 4.0,
        hst: bool = True,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        seed: int = 0,
        scale_rate: float = 0.01,
        scale_range: float = 4.0,
        short_rate: float = 0.2,
        long_rate: float = 0.002,
        calibration_warmup: int = 30,
    ) -> None:
        self.season = season
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.residual_rate = residual_rate
        self.warmup = warmup
        self.clip_sigmas = clip_sigmas
        self.hst = hst
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.scale_rate = scale_rate
        self.scale_range = scale_range
        self.short_rate = short_rate
        self.long_rate = long_rate
        self.calibration_warmup = calibration_warmup
        self._hw = HoltWintersDetector(
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            season=season,
            residual_rate=residual_rate,
            warmup=warmup,
            clip_sigmas=clip_sigmas,
        )
        self._trees = (
            HalfSpaceTreesDetector(
                n_trees=n_trees,
                height=height,
                window_size=window_size,
                seed=seed,
                scale_rate=scale_rate,
                scale_range=scale_range,
            )
            if hst
            else None
        )
        self._hw_likelihood = AnomalyLikelihood(
            short_rate=short_rate, long_rate=long_rate, warmup=calibration_warmup, min_std=HW_MIN_STD
        )
        self._hst_likelihood = AnomalyLikelihood(
            short_rate=short_rate, long_rate=long_rate, warmup=calibration_warmup, min_std=HST_MIN_STD
        )
        self._pending: tuple[float, float | None, float | None] | None = None

    @classmethod
    def _unit_test_params(cls):
        small = {"n_trees": 3, "height": 4, "window_size": 20, "calibration_warmup": 10, "warmup": 5}
        yield small
        yield {**small, "season": 12}
        yield {"hst": False, "calibration_warmup": 10}

    def _raws(self, y: float) -> tuple[float | None, float | None]:
        pending = self._pending
        if pending is not None and pending[0] == y:
            return pending[1], pending[2]
        hw_raw = self._hw.raw_score(y)
        trees = self._trees
        hst_raw = trees.score_one(y) if trees is not None and trees.ready else None
        self._pending = (y, hw_raw, hst_raw)
        return hw_raw, hst_raw

    def score_one(self, x: float | None) -> float:
        y = clean(x)
        if math.isnan(y):
            return 0.0
        hw_raw, hst_raw = self._raws(y)
        p = 1.0
        if hw_raw is not None:
            p = min(p, self._hw_likelihood.tail(hw_raw))
        if hst_raw is not None:
            p = min(p, self._hst_likelihood.tail(hst_raw))
        return tail_score(p)

    def learn_one(self, x: float | None) -> None:
        y = clean(x)
        if not math.isnan(y):
            hw_raw, hst_raw = self._raws(y)
            if hw_raw is not None:
                self._hw_likelihood.update(hw_raw)
            if hst_raw is not None:
                self._hst_likelihood.update(hst_raw)
        self._pending = None
        self._hw.learn_one(y)
        if self._trees is not None:
            self._trees.learn_one(y)

    def expected(self) -> tuple[float, float] | None:
        """The forecast of the next value and its residual scale; ``None`` before initialisation.

        For explanations: "expected 120 ± 8, got 310".
        """
        forecast = self._hw.forecast()
        if forecast is None:
            return None
        return forecast, self._hw.sigma(forecast)


HW_MIN_STD = 0.05
"""Floor of the calibrator's standard deviation for Holt-Winters ``|z|`` averages."""
HST_MIN_STD = 0.01
"""Floor of the calibrator's standard deviation for HalfSpaceTrees score averages."""


def default_detector(season: int = 0, seed: int = 0) -> CombinedDetector:
    """The detector the stream, ``aiops score`` and ``aiops replay`` use, at its defaults.

    >>> default_detector(season=24)
    CombinedDetector(season=24)
    """
    return CombinedDetector(season=season, seed=seed)
