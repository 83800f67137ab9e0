"""Offline evaluation of detectors: NAB's scoring rules and a reproducible labelled corpus.

- :mod:`aiops.anomaly.evaluation.nab`: windows, the scaled sigmoid, the three
  profiles, threshold optimisation over a corpus, normalised scores
- :mod:`aiops.anomaly.evaluation.corpus`: seeded synthetic series with labelled
  spikes, dips, level shifts, variance changes, seasonality breaks and drifts
- :mod:`aiops.anomaly.evaluation.corpus_v2`: seeded production-like series (heavy
  tails, low counts, integer gauges, flat lines, square and seasonal
  patterns, gaps, clock steps, counter resets), labelled only where an SRE
  would page; training and held-out seeds; the quiet-series checks
- :mod:`aiops.anomaly.evaluation.packaged`: public labelled series that a PyPI package
  (aeon, the ``eval`` extra) ships, read from the installed package
- :mod:`aiops.anomaly.evaluation.run`: runs every detector of the registry over a
  corpus and scores it on every profile

Pure: numpy and the detectors, no Kafka or Faust.
"""

from aiops.anomaly.evaluation.corpus import KINDS, default_corpus, generate_corpus, tiny_corpus
from aiops.anomaly.evaluation.corpus_v2 import (
    HELD_OUT_SEEDS,
    TRAIN_SEEDS,
    corpus_v2,
    quiet_series,
    quiet_share,
)
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
    "HELD_OUT_SEEDS",
    "KINDS",
    "PROFILES",
    "TRAIN_SEEDS",
    "CorpusScore",
    "LabelledSeries",
    "PackageMissing",
    "Profile",
    "aeon_corpus",
    "corpus_v2",
    "default_corpus",
    "generate_corpus",
    "optimise_threshold",
    "quiet_series",
    "quiet_share",
    "score_corpus",
    "tiny_corpus",
]
