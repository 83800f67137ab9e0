"""Every detector, by name: what the conformance suite, ``aiops evaluate`` and the CLI choose from.

Each class gives its own small test parameter sets (``_unit_test_params``,
river's convention); the conformance suite
(``tests/unit/test_detector_conformance.py``) runs every check over every
``(name, params)`` pair. A new detector is added here and nowhere else.

>>> sorted(REGISTRY)
['combined', 'fast', 'half_space_trees', 'holt_winters', 'windowed_gaussian']
>>> REGISTRY["combined"]().score_one(1.0)
0.0
"""

from __future__ import annotations

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.combined import CombinedDetector
from aiops.anomaly.detectors.fast import FastDetector
from aiops.anomaly.detectors.half_space_trees import HalfSpaceTreesDetector
from aiops.anomaly.detectors.holt_winters import HoltWintersDetector
from aiops.anomaly.detectors.windowed_gaussian import WindowedGaussian

__all__ = ["REGISTRY"]

REGISTRY: dict[str, type[Detector]] = {
    "combined": CombinedDetector,
    "fast": FastDetector,
    "half_space_trees": HalfSpaceTreesDetector,
    "holt_winters": HoltWintersDetector,
    "windowed_gaussian": WindowedGaussian,
}
