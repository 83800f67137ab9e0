"""A reproducible labelled corpus of metric-like series with injected anomalies, for ``aiops evaluate``.

Each file is a base series plus one kind of anomaly injected one to three
times after the probationary period, labelled at each onset (a point index,
NAB's convention: the window is centred on the label). Base series look like
service metrics: a positive level, a slow trend, daily and weekly seasonality
at the file's sampling interval (a daily cycle is ``86400 / interval``
points), AR(1) noise with occasional heavy-tailed (Student-t) bursts.

Anomaly kinds (``KINDS``), sized in units of the noise's standard deviation:

- ``spike``: one to three points far above the series,
- ``dip``: a short drop (one to ten points),
- ``level_shift``: a lasting step up or down,
- ``variance_change``: the noise grows three- to six-fold for a stretch,
- ``seasonality_break``: the daily cycle flips phase for a stretch,
- ``drift``: a slow ramp away from normal over a few hundred points.

Everything comes from ``numpy.random.default_rng(seed)``, so one seed gives
the same corpus on every machine; :func:`default_corpus` is the one the README
reports on, :func:`tiny_corpus` the one the tests use.

Where it fails: synthetic series are cleaner than production ones (no
missing scrapes, no counter resets, no deploy steps that are not anomalies);
the labels are exact onsets, which real corpora rarely have.

>>> corpus = tiny_corpus()
>>> len(corpus), sorted({file.kinds[0] for file in corpus}) == sorted(KINDS)
(6, True)
>>> corpus[0].name, len(corpus[0]), corpus[0].anomalies
('00-spike-3600s', 1200, (...))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aiops.anomaly.evaluation.nab import LabelledSeries, probationary_period

__all__ = ["KINDS", "FileSpec", "default_corpus", "generate_corpus", "generate_file", "tiny_corpus"]

KINDS = ("spike", "dip", "level_shift", "variance_change", "seasonality_break", "drift")
DAY = 86_400.0


@dataclass(frozen=True)
class FileSpec:
    """What one corpus file is: its anomaly kind, length in points and sampling interval in seconds."""

    kind: str
    length: int
    interval: float
    seed: int


def _base(
    rng: np.random.Generator, n: int, interval: float, seasonal: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """A metric-like series, its daily component, and its noise scale."""
    t = np.arange(n) * interval
    level = float(rng.lognormal(4.0, 1.5))
    sigma = level * float(rng.uniform(0.02, 0.08))
    daily_amplitude = level * float(rng.uniform(0.1, 0.4)) if seasonal else 0.0
    weekly_amplitude = level * float(rng.uniform(0.0, 0.1)) if seasonal else 0.0
    phase = float(rng.uniform(0, 2 * math.pi))
    daily = daily_amplitude * np.sin(2 * math.pi * t / DAY + phase)
    daily += 0.3 * daily_amplitude * np.sin(4 * math.pi * t / DAY + 2 * phase)
    weekly = weekly_amplitude * np.sin(2 * math.pi * t / (7 * DAY) + phase)
    trend = level * float(rng.uniform(-0.1, 0.1)) * np.arange(n) / n
    phi = float(rng.uniform(0.0, 0.6))
    shocks = rng.standard_normal(n)
    bursts = rng.random(n) < 0.01
    shocks[bursts] = rng.standard_t(3, int(bursts.sum()))
    noise = np.empty(n)
    previous = 0.0
    scale = sigma * math.sqrt(1 - phi * phi)
    for i in range(n):
        previous = phi * previous + scale * shocks[i]
        noise[i] = previous
    return level + trend + daily + weekly + noise, daily, sigma


def _onsets(rng: np.random.Generator, n: int, count: int) -> list[int]:
    """``count`` onsets after the probationary period, spread out so their windows rarely merge."""
    start = probationary_period(n) + n // 20
    stop = n - n // 20
    slots = np.linspace(start, stop, count + 1)
    return sorted(
        int(rng.integers(int(slots[k]), max(int(slots[k]) + 1, int(slots[k + 1]) - n // 20)))
        for k in range(count)
    )


def generate_file(spec: FileSpec, index: int = 0, inject: bool = True) -> LabelledSeries:
    """One labelled file from its spec (deterministic in ``spec.seed``); ``inject=False``: the same file without its anomalies.

    >>> file = generate_file(FileSpec("level_shift", 2000, 300.0, seed=1))
    >>> file.kinds, len(file.values), all(a >= 300 for a in file.anomalies)
    (('level_shift',), 2000, True)
    """
    rng = np.random.default_rng(spec.seed)
    n, kind = spec.length, spec.kind
    seasonal = kind == "seasonality_break" or rng.random() < 0.7
    values, daily, sigma = _base(rng, n, spec.interval, seasonal)
    count = 1 if kind in ("level_shift", "drift") else int(rng.integers(1, 4))
    onsets = _onsets(rng, n, count)
    span = max(n // 20, 10)
    base = values.copy()
    for a in onsets:
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if kind == "spike":
            width = int(rng.integers(1, 4))
            values[a : a + width] += float(rng.uniform(6, 12)) * sigma
        elif kind == "dip":
            width = int(rng.integers(1, 11))
            values[a : a + width] -= float(rng.uniform(5, 10)) * sigma
        elif kind == "level_shift":
            values[a:] += sign * float(rng.uniform(4, 10)) * sigma
        elif kind == "variance_change":
            end = min(a + span, n)
            values[a:end] += float(rng.uniform(2, 5)) * sigma * rng.standard_normal(end - a)
        elif kind == "seasonality_break":
            end = min(a + span, n)
            values[a:end] -= 2 * daily[a:end]
        elif kind == "drift":
            length = min(int(rng.integers(100, 300)), n - a)
            ramp = np.linspace(0.0, sign * float(rng.uniform(6, 12)) * sigma, length)
            values[a : a + length] += ramp
            values[a + length :] += ramp[-1]
    values = np.maximum(values if inject else base, 0.0)
    timestamps = 1_700_000_000.0 + np.arange(n) * spec.interval
    name = f"{index:02d}-{kind}-{spec.interval:.0f}s"
    return LabelledSeries(
        name=name,
        values=values.tolist(),
        anomalies=tuple(onsets),
        kinds=(kind,) * len(onsets),
        timestamps=timestamps.tolist(),
        interval=spec.interval,
        tags={"kind": kind, "seasonal": str(seasonal).lower()},
    )


def generate_corpus(shapes: list[tuple[int, float]], seed: int = 0) -> list[LabelledSeries]:
    """One file per (anomaly kind, (length, interval)) pair, seeded per file from ``seed``.

    >>> [len(f) for f in generate_corpus([(500, 60.0)], seed=3)] == [500] * len(KINDS)
    True
    """
    files = []
    seeds = np.random.SeedSequence(seed).generate_state(len(shapes) * len(KINDS))
    for s, (length, interval) in enumerate(shapes):
        for k, kind in enumerate(KINDS):
            index = s * len(KINDS) + k
            files.append(generate_file(FileSpec(kind, length, interval, int(seeds[index])), index))
    return files


DEFAULT_SHAPES = [
    (2000, 3600.0),  # 83 days hourly: daily season 24 points, weekly 168
    (4000, 3600.0),
    (3000, 900.0),  # 31 days at 15 minutes: daily 96 points
    (5000, 900.0),
    (4000, 300.0),  # 14 days at 5 minutes: daily 288 points
    (6000, 300.0),
    (5000, 60.0),  # 3.5 days per minute: daily 1440 points
    (2500, 60.0),
]


def default_corpus(seed: int = 0) -> list[LabelledSeries]:
    """The corpus ``aiops evaluate`` reports on: 48 files, 31,500 points per kind, 189,000 in all.

    >>> corpus = default_corpus()
    >>> len(corpus), sum(len(file) for file in corpus)
    (48, 189000)
    """
    return generate_corpus(DEFAULT_SHAPES, seed)


def tiny_corpus(seed: int = 0) -> list[LabelledSeries]:
    """Six short hourly files, one per kind, for the tests."""
    return generate_corpus([(1200, 3600.0)], seed)
