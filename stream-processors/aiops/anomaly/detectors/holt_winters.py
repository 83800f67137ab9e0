"""Holt-Winters forecaster whose standardised one-step residual is the anomaly score.

The forecaster is river's ``time_series.HoltWinters`` (additive level, trend
and season; its update and forecast equations are river's). Three things are
ours, because river's version breaks on real metrics:

- Initialisation. river initialises the additive season as ``y / level``
  (a ratio, and a ``ZeroDivisionError`` on a series whose first values average
  0) and the trend from the first two differences (noise on a noisy series).
  We initialise from the first ``k = max(2, season)`` values: level = their
  mean, trend = 0, season = each value minus the level.
- Robust updates. After ``warmup`` residuals, the value fed to the forecaster
  is clipped to ``forecast ± clip_sigmas * sigma`` (a Huber-style cleaning), so
  one spike or huge value cannot drag the level; a lasting shift is still
  followed because the residual scale grows while values are clipped.
- Gaps. A missing value advances the model by its own forecast, so the
  season stays in phase across a gap.
- Steps. After ``relevel_after`` values in a row beyond the clip on the same
  side, the level is set to the last value (minus its seasonal term): a
  lasting step is news for that many points, then learnt, instead of being
  crept up on at ``alpha * clip_sigmas`` sigmas a point while every residual
  on the way looks anomalous. A spike (one value) is still clipped. Off
  (0) by default: it also ends a real incident's alert after that many
  points.

``sigma`` is the root of an exponentially weighted mean of squared (clipped)
residuals, floored at ``min_sigma + min_rel_sigma * |forecast|`` so a constant
series has a defined, tiny scale, and at ``resolution_scale`` times the
series' resolution (:class:`~aiops.anomaly.detectors.scaling.Resolution`: the
smallest non-zero step seen, at most 1 while every value was an integer), so
0 → 1 on an idle integer gauge is 1 sigma, not a billion, and a level step
on a flat line is news once and then learnt in a few points. The score of
``x`` is the two-sided Gaussian tail probability of ``z = (x - forecast) /
sigma`` as a :func:`~aiops.anomaly.detectors.calibration.score_from_log_tail`
(0.5 at ``|z| ≈ 4.4``; no cap on ``z``, so larger residuals score higher).

Where it fails: the season length is fixed (see
:func:`~aiops.anomaly.detectors.seasonality.detect_season` to choose it from
history); a season of ``m`` points costs ``8 * m`` bytes per series and needs
``m`` points before the first score; residuals are treated as Gaussian.
"""

from __future__ import annotations

import math

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.calibration import LN2, gaussian_log_tail, score_from_log_tail
from aiops.anomaly.detectors.scaling import RESOLUTION_SCALE, Resolution
from aiops.anomaly.detectors.values import clean

__all__ = ["HoltWintersDetector"]


class HoltWintersDetector(Detector):
    """Score each value by its residual from river's Holt-Winters one-step forecast.

    ``season`` is the season length in points (0: none; otherwise at least 2).
    ``beta = 0`` drops the trend (allowed only without a season, as river's
    seasonal update needs a trend).

    >>> import math
    >>> daily = [10 + 3 * math.sin(2 * math.pi * t / 24) for t in range(24 * 8)]
    >>> detector = HoltWintersDetector(season=24)
    >>> for y in daily:
    ...     detector.learn_one(y)
    >>> round(detector.forecast(), 2)  # the next point of the cycle: 10 + 3 sin(0)
    10.0
    >>> detector.score_one(10.0) < 0.1 < 0.5 < detector.score_one(16.0)
    True
    """

    def __init__(
        self,
        alpha: float = 0.2,
        beta: float = 0.01,
        gamma: float = 0.1,
        season: int = 0,
        residual_rate: float = 0.02,
        warmup: int = 10,
        clip_sigmas: float = 4.0,
        min_sigma: float = 1e-9,
        min_rel_sigma: float = 1e-6,
        max_z: float = math.inf,
        resolution_scale: float = RESOLUTION_SCALE,
        relevel_after: int = 0,
    ) -> None:
        if season == 1 or season < 0:
            raise ValueError(f"season must be 0 (none) or at least 2, not {season}")
        if season and not beta:
            raise ValueError("a seasonal Holt-Winters needs a trend: set beta > 0")
        from river import time_series

        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.season = season
        self.residual_rate = residual_rate
        self.warmup = warmup
        self.clip_sigmas = clip_sigmas
        self.min_sigma = min_sigma
        self.min_rel_sigma = min_rel_sigma
        self.max_z = max_z
        self.resolution_scale = resolution_scale
        self.relevel_after = relevel_after
        self._run = 0
        self._resolution = Resolution()
        self._model = time_series.HoltWinters(
            alpha=alpha,
            beta=beta if beta else None,
            gamma=gamma if season else None,
            seasonality=season,
        )
        self._k = max(2, season)
        self._first: list[float] = []
        self._initialized = False
        self._n_res = 0
        self._var = 0.0

    @classmethod
    def _unit_test_params(cls):
        yield {}
        yield {"season": 12, "warmup": 5}
        yield {"beta": 0.0, "alpha": 0.5}

    def _initialize(self) -> None:
        first = self._first
        level = sum(first) / self._k
        model = self._model
        model.level.append(level)
        if model.trend is not None:
            model.trend.append(0.0)
        if model.season is not None:
            model.season.extend([y - level for y in first])
        model._initialized = True
        self._initialized = True
        self._first = []

    @property
    def ready(self) -> bool:
        """Whether scores are given (initialised and ``warmup`` residuals seen)."""
        return self._initialized and self._n_res >= self.warmup

    def forecast(self) -> float | None:
        """The forecast of the next value; ``None`` before initialisation."""
        if not self._initialized:
            return None
        return self._model.forecast(1)[0]

    def sigma(self, forecast: float) -> float:
        """The residual scale around ``forecast``."""
        resolution = self._resolution.value
        floor = self.resolution_scale * resolution if resolution < math.inf else 0.0
        return max(
            max(math.sqrt(self._var), self.min_sigma + self.min_rel_sigma * abs(forecast)), floor
        )

    def raw_score(self, x: float | None) -> float | None:
        """``min(|x - forecast| / sigma, max_z)``; ``None`` when not ready or ``x`` is missing."""
        y = clean(x)
        if not self.ready or math.isnan(y):
            return None
        yhat = self._model.forecast(1)[0]
        return min(abs(y - yhat) / self.sigma(yhat), self.max_z)

    def score_one(self, x: float | None) -> float:
        z = self.raw_score(x)
        if z is None:
            return 0.0
        return score_from_log_tail(LN2 + gaussian_log_tail(z))

    def learn_one(self, x: float | None) -> None:
        self._learn_scaled(clean(x), 1.0)

    def _learn_scaled(self, y: float, rate_scale: float) -> None:
        """Learn ``y`` (cleaned), the residual scale at ``rate_scale`` times its rate (an elevated point teaches less)."""
        self._learn(y, rate_scale)
        if not math.isnan(y):
            self._resolution.update(y)

    def _learn(self, y: float, rate_scale: float) -> None:
        if not self._initialized:
            if not math.isnan(y):
                self._first.append(y)
                if len(self._first) == self._k:
                    self._initialize()
            return
        model = self._model
        yhat = model.forecast(1)[0]
        if math.isnan(y):  # missing: advance by the forecast, keep the season in phase
            model.learn_one(yhat)
            return
        raw = y
        relevel = False
        if self._n_res >= self.warmup:
            bound = self.clip_sigmas * self.sigma(yhat)
            y = min(max(y, yhat - bound), yhat + bound)
            run = self._run
            if raw > yhat + bound:
                run = run + 1 if run > 0 else 1
            elif raw < yhat - bound:
                run = run - 1 if run < 0 else -1
            else:
                run = 0
            relevel = self.relevel_after > 0 and abs(run) >= self.relevel_after
            self._run = 0 if relevel else run
        r = y - yhat
        rate = max(self.residual_rate, 1.0 / (self._n_res + 1)) * rate_scale
        self._var = self._var + rate * (r * r - self._var)
        self._n_res += 1
        season = model.season[-model.seasonality] if model.season is not None else 0.0
        model.learn_one(y)
        if relevel:  # a step, not a spike: take the new level now, not at alpha * 4 sigmas a point
            model.level[-1] = raw - season
