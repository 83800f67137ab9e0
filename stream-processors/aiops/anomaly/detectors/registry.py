"""Every detector, by name: what the conformance suite, ``aiops evaluate``, ``aiops score`` and ``aiops replay`` choose from.

Each class gives its own small test parameter sets (``_unit_test_params``,
river's convention); the conformance suite
(``tests/unit/test_detector_conformance.py``) runs every check over every
``(name, params)`` pair. A new detector is added to :data:`REGISTRY` and
nowhere else: ``aiops evaluate`` reports it (:data:`EVALUATED`) and
``--detector NAME`` picks it.

>>> list(REGISTRY)
['half_space_trees', 'holt_winters', 'windowed_gaussian', 'combined', 'fast']
>>> EVALUATED
('half_space_trees', 'holt_winters', 'windowed_gaussian', 'combined')
>>> build_detector(DEFAULT_DETECTOR, season=24)
CombinedDetector(season=24)
>>> build_detector("windowed_gaussian", season=24)  # takes no season: left out
WindowedGaussian()
"""

from __future__ import annotations

import inspect

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.combined import CombinedDetector
from aiops.anomaly.detectors.fast import FastDetector
from aiops.anomaly.detectors.half_space_trees import HalfSpaceTreesDetector
from aiops.anomaly.detectors.holt_winters import HoltWintersDetector
from aiops.anomaly.detectors.windowed_gaussian import WindowedGaussian

__all__ = ["DEFAULT_DETECTOR", "EVALUATED", "REGISTRY", "build_detector", "takes_season"]

REGISTRY: dict[str, type[Detector]] = {
    "half_space_trees": HalfSpaceTreesDetector,
    "holt_winters": HoltWintersDetector,
    "windowed_gaussian": WindowedGaussian,
    "combined": CombinedDetector,
    "fast": FastDetector,
}
"""Every detector, in the order ``aiops evaluate`` reports them."""

DEFAULT_DETECTOR = "combined"
"""The detector the stream runs (as :class:`~aiops.anomaly.detectors.fast.FastCombined`, within 1e-9)."""

_SAME_AS = {"fast": "combined"}
"""Detectors that reproduce another within 1e-9, so evaluating them again says nothing new."""

EVALUATED: tuple[str, ...] = tuple(name for name in REGISTRY if name not in _SAME_AS)
"""The detectors ``aiops evaluate`` reports on by default: every one but the exact copies."""


def takes_season(name: str) -> bool:
    """Whether ``REGISTRY[name]`` has a ``season`` parameter (a Holt-Winters forecaster inside)."""
    return "season" in inspect.signature(REGISTRY[name].__init__).parameters


def build_detector(name: str, season: int = 0) -> Detector:
    """A fresh ``REGISTRY[name]`` at its defaults, with ``season`` where it takes one.

    Raises ``KeyError`` naming the known detectors for an unknown ``name``.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown detector {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name](season=season) if takes_season(name) else REGISTRY[name]()
