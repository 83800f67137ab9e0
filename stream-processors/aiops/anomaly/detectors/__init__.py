"""Online anomaly detectors for one series at a time, and a numpy fast path for many.

Contract (river's): ``learn_one(x)`` learns the series' next value,
``score_one(x) -> float`` says how anomalous it is (higher is more anomalous)
without learning it. ``None``/NaN are missing points (score 0.0), infinite and
huge values are clipped, nothing raises on any value. Everything is causal.

- :class:`CombinedDetector` (:func:`default_detector`): the default, a
  calibrated score in [0, 1) where 0.5 means tail probability 1e-5 on every
  series (a Bonferroni bound over its four views, each judged against the
  series' own history), strictly increasing in the evidence beyond it
- :class:`HoltWintersDetector`: river's Holt-Winters, the residual as a score
- :class:`HalfSpaceTreesDetector`: river's HalfSpaceTrees on causally scaled features
- :class:`WindowedGaussian`: NAB's windowed-Gaussian baseline
- :class:`FastCombined`: the default detector for many series in numpy arrays,
  within 1e-9 of :class:`CombinedDetector`; :class:`FastDetector` is one series of it
- :data:`REGISTRY`: every detector with its test parameters (the conformance suite runs over it)

river is imported when a detector is built, not when this package is imported.
"""

from aiops.anomaly.detectors.base import Detector, score_many
from aiops.anomaly.detectors.calibration import (
    AnomalyLikelihood,
    RecentVarianceTest,
    ResidualTail,
    gaussian_log_tail,
    gaussian_tail,
    score_from_log_tail,
    tail_score,
)
from aiops.anomaly.detectors.combined import CombinedDetector, default_detector
from aiops.anomaly.detectors.fast import FastCombined, FastDetector, StepResult
from aiops.anomaly.detectors.half_space_trees import HalfSpaceTreesDetector
from aiops.anomaly.detectors.holt_winters import HoltWintersDetector
from aiops.anomaly.detectors.registry import REGISTRY
from aiops.anomaly.detectors.scaling import CausalScaler, Resolution
from aiops.anomaly.detectors.seasonality import detect_season
from aiops.anomaly.detectors.values import MAX_ABS, clean
from aiops.anomaly.detectors.windowed_gaussian import WindowedGaussian

__all__ = [
    "MAX_ABS",
    "REGISTRY",
    "AnomalyLikelihood",
    "CausalScaler",
    "CombinedDetector",
    "Detector",
    "FastCombined",
    "FastDetector",
    "HalfSpaceTreesDetector",
    "HoltWintersDetector",
    "RecentVarianceTest",
    "ResidualTail",
    "Resolution",
    "StepResult",
    "WindowedGaussian",
    "clean",
    "default_detector",
    "detect_season",
    "gaussian_log_tail",
    "gaussian_tail",
    "score_from_log_tail",
    "score_many",
    "tail_score",
]
