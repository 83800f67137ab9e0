"""Corpus v2: seeded series that look like production metrics, labelled only where an SRE would page.

The v1 corpus (:mod:`aiops.anomaly.evaluation.corpus`) is a clean Gaussian-ish base
with injected anomalies; detectors tuned on it alarm constantly on real
metrics. Here the base series are the shapes real exporters produce:

- ``heavy``: a volume with heavy-tailed bursts (a Poisson count whose rate
  is log-Student-t: routine 5x bursts, like social-media or queue volumes);
- ``poisson``: low counts, 0 to a handful per step (errors, restarts);
- ``gauge``: an integer gauge that wanders over a few values (active requests);
- ``flat``: a flat line with rare one-point blips of one unit (an idle gauge);
- ``square``: a business-hours square pattern with a slow drift;
- ``seasonal``: daily plus weekly cycles with drift and AR(1) noise.

Production artefacts that are **not** labelled: missing stretches (NaN),
one clock step back of an hour (timestamps repeat; values stay in arrival
order), counter resets (the rate across a reset is missing, as a
reset-aware rate marks it), blips on flat lines, routine bursts on heavy
series, the square pattern's own steps.

Labelled anomalies (``ANOMALY_KINDS``), each sized against the series'
own normal range, so they are what an on-call engineer would call one:

- ``outage``: the series drops to 0 for a stretch (a volume, a gauge);
- ``surge``: a spike well beyond anything the base shows (3x its 99.9th
  percentile above the median);
- ``level_shift``: a lasting step of at least 6 noise sigmas or a doubling;
- ``variance_change``: the noise grows four- to eight-fold for a stretch;
- ``stuck``: the value freezes for a stretch (a broken exporter);
- ``pattern_break``: the daily cycle is missing for a day.

Some files carry no anomaly at all (a detector gains nothing there, and
loses by alarming). Intervals are 1 minute, 5 minutes and 1 hour. Choose
defaults on :data:`TRAIN_SEEDS`; report on :data:`HELD_OUT_SEEDS`.

:func:`quiet_series` is the issue's set of quiet checks (no anomaly at all):
5-minute steps, 14 days; :func:`quiet_share` is the share of rows scoring
at least 0.5 after the first 15%.

Where it fails: still synthetic; the shapes are a guess at production, not
a sample of it, so a number here predicts real data only as far as the
shapes are right.

>>> files = corpus_v2(0)
>>> len(files), sorted({f.tags["shape"] for f in files}) == sorted(SHAPES)
(30, True)
>>> sum(len(f.anomalies) for f in files) > 20
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from aiops.anomaly.evaluation.nab import LabelledSeries, probationary_period

__all__ = [
    "ANOMALY_KINDS",
    "HELD_OUT_SEEDS",
    "SHAPES",
    "TRAIN_SEEDS",
    "corpus_v2",
    "quiet_series",
    "quiet_share",
]

SHAPES = ("heavy", "poisson", "gauge", "flat", "square", "seasonal")
ANOMALY_KINDS = ("outage", "surge", "level_shift", "variance_change", "stuck", "pattern_break")
TRAIN_SEEDS = (0, 1, 2)
"""Seeds to choose defaults on."""
HELD_OUT_SEEDS = (10, 11, 12)
"""Seeds to report on; never tune on them."""

DAY = 86_400.0
_KINDS_BY_SHAPE = {
    "heavy": ("outage", "surge", "level_shift"),
    "poisson": ("surge", "level_shift"),
    "gauge": ("surge", "level_shift", "stuck"),
    "flat": ("level_shift",),
    "square": ("outage", "level_shift", "variance_change", "stuck", "pattern_break"),
    "seasonal": ("outage", "surge", "level_shift", "variance_change", "stuck", "pattern_break"),
}
_SIZES = (
    (5760, 60.0),
    (4032, 300.0),
    (4032, 300.0),
    (1440, 3600.0),
)  # 4 days, 14 days (twice), 60 days


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    shocks = rng.standard_normal(n) * math.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    previous = 0.0
    for i in range(n):
        previous = phi * previous + shocks[i]
        out[i] = previous
    return out


def _daily(t: np.ndarray, phase: float) -> np.ndarray:
    return np.sin(2 * math.pi * t / DAY + phase) + 0.3 * np.sin(4 * math.pi * t / DAY + 2 * phase)


def _business_hours(t: np.ndarray, start: float, hours: float) -> np.ndarray:
    hour = (t / 3600.0) % 24.0
    return ((hour - start) % 24.0 < hours).astype(float)


def _base(
    shape: str, rng: np.random.Generator, t: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """The base series, its noise scale, and its seasonal component (zeros if none)."""
    n = len(t)
    none = np.zeros(n)
    if shape == "heavy":
        level = float(rng.lognormal(3.0, 1.0))
        rate = level * np.exp(0.5 * np.clip(rng.standard_t(2.5, n), -6.0, 8.0))
        values = rng.poisson(rate).astype(float)
        return values, float(np.std(values)), none
    if shape == "poisson":
        values = rng.poisson(float(rng.uniform(0.2, 3.0)), n).astype(float)
        return values, float(np.std(values)) or 1.0, none
    if shape == "gauge":
        centre = float(rng.integers(1, 8))
        values = np.maximum(
            np.round(centre + float(rng.uniform(0.5, 2.0)) * _ar1(rng, n, 0.8)), 0.0
        )
        return values, float(np.std(values)) or 1.0, none
    if shape == "flat":
        level = float(rng.choice([0.0, 1.0, float(rng.integers(2, 50))]))
        values = np.full(n, level)
        blips = rng.random(n) < 1.0 / 700.0
        values[blips] += 1.0
        return values, 1.0, none
    level = float(rng.lognormal(4.0, 1.5))
    sigma = level * float(rng.uniform(0.02, 0.06))
    drift = level * float(rng.uniform(-0.15, 0.15)) * np.arange(n) / n
    noise = sigma * _ar1(rng, n, float(rng.uniform(0.0, 0.6)))
    if shape == "square":
        seasonal = (
            level
            * float(rng.uniform(0.3, 1.0))
            * _business_hours(t, float(rng.uniform(6, 10)), 10.0)
        )
    else:
        phase = float(rng.uniform(0, 2 * math.pi))
        seasonal = level * float(rng.uniform(0.1, 0.4)) * _daily(t, phase)
        seasonal += (
            level * float(rng.uniform(0.0, 0.1)) * np.sin(2 * math.pi * t / (7 * DAY) + phase)
        )
    return level + drift + seasonal + noise, sigma, seasonal


def _inject(
    kind: str,
    rng: np.random.Generator,
    values: np.ndarray,
    a: int,
    sigma: float,
    seasonal: np.ndarray,
    interval: float,
) -> None:
    n = len(values)
    span = max(int(rng.integers(n // 80, n // 30)), 5)
    end = min(a + span, n)
    typical = float(np.nanmedian(values[: probationary_period(n)]))
    high = float(np.nanquantile(values[: probationary_period(n)], 0.999))
    if kind == "outage":
        values[a:end] = 0.0
    elif kind == "surge":
        width = int(rng.integers(1, 4))
        values[a : a + width] = typical + 3.0 * max(high - typical, 2.0 * sigma, 1.0)
    elif kind == "level_shift":
        step = max(float(rng.uniform(6, 12)) * sigma, abs(typical), 3.0)
        sign = -1.0 if rng.random() < 0.3 and typical - step > 0 else 1.0
        values[a:] += sign * step
    elif kind == "variance_change":
        values[a:end] += float(rng.uniform(4, 8)) * sigma * rng.standard_normal(end - a)
    elif kind == "stuck":
        values[a:end] = values[a]
    elif kind == "pattern_break":
        day_end = min(a + int(DAY / interval), n)
        values[a:day_end] -= seasonal[a:day_end] - float(np.mean(seasonal))


def _file(index: int, seed: int) -> LabelledSeries:
    rng = np.random.default_rng(seed)
    shape = SHAPES[index % len(SHAPES)]
    n, interval = _SIZES[int(rng.integers(len(_SIZES)))]
    t = np.arange(n) * interval
    values, sigma, seasonal = _base(shape, rng, t)
    quiet = rng.random() < 0.2
    count = 0 if quiet else int(rng.integers(1, 3))
    start, stop = probationary_period(n) + n // 20, n - n // 20
    bounds = np.linspace(start, stop, count + 1)
    onsets = [int(rng.integers(int(bounds[k]), int(bounds[k + 1]) - n // 20)) for k in range(count)]
    kinds = []
    for a in onsets:
        kind = str(rng.choice(_KINDS_BY_SHAPE[shape]))
        kinds.append(kind)
        _inject(kind, rng, values, a, sigma, seasonal, interval)
    values = np.maximum(values, 0.0)
    timestamps = 1_700_000_000.0 + t
    tags = {"shape": shape}
    if rng.random() < 0.3:  # a missing stretch: the scraper was down
        gap = int(rng.integers(probationary_period(n), n - 60))
        values[gap : gap + int(rng.integers(5, 60))] = np.nan
        tags["gap"] = "yes"
    if (
        shape in ("heavy", "poisson") and rng.random() < 0.5
    ):  # counter resets: the rate across them is missing
        values[rng.integers(probationary_period(n), n, 2)] = np.nan
        tags["reset"] = "yes"
    if rng.random() < 0.15:  # the clock steps back an hour; values stay in arrival order
        back = int(rng.integers(probationary_period(n), n))
        timestamps[back:] -= 3600.0 + interval
        tags["clock_step"] = "yes"
    anomalies = tuple(sorted(onsets))
    return LabelledSeries(
        name=f"v2-{index:02d}-{shape}-{interval:.0f}s",
        values=values.tolist(),
        anomalies=anomalies,
        kinds=tuple(k for _, k in sorted(zip(onsets, kinds))),
        timestamps=timestamps.tolist(),
        interval=interval,
        tags=tags,
    )


def corpus_v2(seed: int = 0, files: int = 30) -> list[LabelledSeries]:
    """``files`` production-like files (shapes in turn), each seeded from ``seed``."""
    seeds = np.random.SeedSequence([2, seed]).generate_state(files)
    return [_file(i, int(seeds[i])) for i in range(files)]


def quiet_series(seed: int = 0) -> dict[str, np.ndarray]:
    """The issue's quiet checks: 14 days at 5 minutes, nothing an SRE would page on.

    >>> sorted(quiet_series())
    ['flat_step', 'heavy_tailed', 'poisson_counts', 'sine_daily', 'square_daily']
    """
    rng = np.random.default_rng(seed)
    n, day = 4032, 288
    t = np.arange(n)
    return {
        "square_daily": np.where((t % day) >= day // 3, 200.0, 100.0) + rng.normal(0, 2, n),
        "flat_step": np.where(t >= n // 2, 3.0, 0.0),
        "heavy_tailed": 100 + 5 * rng.standard_t(2.5, n),
        "poisson_counts": rng.poisson(0.5, n).astype(float),
        "sine_daily": 100 + 50 * np.sin(2 * np.pi * t / day),
    }


def quiet_share(scores: Sequence[float], threshold: float = 0.5) -> float:
    """Share of rows scoring at least ``threshold`` after the first 15%.

    >>> quiet_share([0.9] * 15 + [0.0] * 84 + [0.6])
    0.011...
    """
    tail = np.asarray(scores)[int(0.15 * len(scores)) :]
    return float(np.mean(tail >= threshold))
