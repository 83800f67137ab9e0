"""Offline evaluation of detectors: NAB's scoring rules and a reproducible labelled corpus.

- :mod:`aiops.anomaly.evaluation.nab`: windows, the scaled sigmoid, the three
  profiles, threshold optimisation over a corpus, normalised scores
- :mod:`aiops.anomaly.evaluation.corpus`: seeded synthetic series with labelled
  spikes, dips, level shifts, variance changes, seasonality breaks and drifts
- :mod:`aiops.anomaly.evaluation.packaged`: public labelled series that a PyPI package
  (aeon, the ``eval`` extra) ships, read from the installed package
- :mod:`aiops.anomaly.evaluation.run`: runs every detector of the registry over a
  corpus and scores it on every profile

Pure: numpy and the detectors, no Kafka or Faust.
"""

from aiops.anomaly.evaluation.corpus import KINDS, default_corpus, generate_corpus, tiny_corpus
from aiops.anomaly.evaluation.nab import (
    PROFILES,
    CorpusScore,
    LabelledSeries,
    Profile,
    optimise_threshold,
    score_corpus,
)
from aiops.anomaly.evaluation.packaged import PackageMissing, aeon_corpus

__all__ = [
    "KINDS",
    "PROFILES",
    "CorpusScore",
    "LabelledSeries",
    "PackageMissing",
    "Profile",
    "aeon_corpus",
    "default_corpus",
    "generate_corpus",
    "optimise_threshold",
    "score_corpus",
    "tiny_corpus",
]
