"""What ``aiops bench detect`` measures: the default detector's river per-event path against the numpy fast path.

>>> result = run_bench(series=20, river_series=2, warmup=5, points=3)
>>> result.fast_points, result.river_points
(60, 6)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["BenchResult", "run_bench"]


@dataclass(frozen=True)
class BenchResult:
    """What ``aiops bench detect`` measured."""

    fast_series: int
    fast_points: int
    fast_points_per_s: float
    fast_points_per_wall_s: float
    river_series: int
    river_points: int
    river_points_per_s: float
    river_points_per_wall_s: float
    ratio: float
    fast_bytes_per_series: int
    river_bytes_per_series: int
    river_pickle_bytes_per_series: int
    max_abs_score_difference: float


def _bench_data(series: int, points: int, seed: int):
    """Realistic-ish series: per-series level and noise, a daily-like cycle, a few spikes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    level = rng.lognormal(3.0, 2.0, series)[:, None]
    noise = level * rng.uniform(0.01, 0.2, series)[:, None]
    t = np.arange(points)[None, :]
    data = level + 0.3 * level * np.sin(2 * np.pi * t / 720 + rng.uniform(0, 6.3, series)[:, None])
    data = data + noise * rng.standard_normal((series, points))
    spikes = rng.random((series, points)) < 0.001
    data[spikes] += 10 * noise.repeat(points, axis=1)[spikes]
    return data


def _river_memory(params: dict, data, count: int) -> tuple[int, int]:
    """Bytes per warmed-up river-path detector: traced allocations and pickled size."""
    import pickle
    import tracemalloc

    from aiops.anomaly.detectors import CombinedDetector

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    detectors = [CombinedDetector(**params) for _ in range(count)]
    for i, detector in enumerate(detectors):
        for value in data[i]:
            detector.learn_one(float(value))
    traced = (tracemalloc.get_traced_memory()[0] - before) // count
    tracemalloc.stop()
    return traced, len(pickle.dumps(detectors[0]))


def run_bench(
    series: int = 10_000,
    river_series: int = 200,
    warmup: int = 260,
    points: int = 50,
    season: int = 0,
    seed: int = 0,
    progress=lambda message: None,
) -> BenchResult:
    """Time the river per-event path and the fast path on the same data, after the same warm-up.

    Rates are points per second of this process's CPU time (one core: numpy's
    element-wise operations and gathers are single-threaded), so a busy
    machine does not skew them; wall-clock rates are reported next to them.

    Both paths get ``warmup`` points per series untimed (past the trees' first
    window), then ``points`` more per series, timed. The fast path scores one
    micro-batch per step with a point of every one of ``series`` series, by
    key; the river path scores ``river_series`` series (the first ones of the
    same data), one ``score_one`` + ``learn_one`` per event, the detector
    looked up by key as a stream would.
    """
    from aiops.anomaly.detectors import CombinedDetector, FastCombined

    params = {"season": season, "seed": seed}
    data = _bench_data(series, warmup + points, seed)
    keys = [f"series-{i}" for i in range(series)]

    progress(f"fast path: warming up {series:,} series with {warmup} points each")
    bank = FastCombined(capacity=series, **params)
    for step in range(warmup):
        bank.score_learn(keys, data[:, step])
    progress(f"fast path: timing {points} micro-batches of {series:,} points")
    fast_scores = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(warmup, warmup + points):
        fast_scores.append(bank.score_learn(keys, data[:, step]).scores[:river_series])
    fast_wall, fast_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    progress(f"river path: warming up {river_series:,} series with {warmup} points each")
    detectors = {key: CombinedDetector(**params) for key in keys[:river_series]}
    river_data = data[:river_series].tolist()
    for key, values in zip(keys, river_data):
        detector = detectors[key]
        for value in values[:warmup]:
            detector.learn_one(value)
    progress(
        f"river path: timing {points} points for each of {river_series:,} series, one event at a time"
    )
    events = [
        (key, values[step])
        for step in range(warmup, warmup + points)
        for key, values in zip(keys, river_data)
    ]
    river_scores = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for key, value in events:
        detector = detectors[key]
        river_scores.append(detector.score_one(value))
        detector.learn_one(value)
    river_wall, river_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    import numpy as np

    difference = (
        float(np.max(np.abs(np.asarray(river_scores) - np.concatenate(fast_scores))))
        if river_scores
        else 0.0
    )
    progress("measuring memory per river-path detector")
    traced, pickled = _river_memory(params, data[:, :warmup], min(5, river_series))
    fast_rate = series * points / max(fast_cpu, 1e-9)
    river_rate = len(events) / max(river_cpu, 1e-9)
    return BenchResult(
        fast_series=series,
        fast_points=series * points,
        fast_points_per_s=fast_rate,
        fast_points_per_wall_s=series * points / fast_wall,
        river_series=river_series,
        river_points=len(events),
        river_points_per_s=river_rate,
        river_points_per_wall_s=len(events) / river_wall,
        ratio=fast_rate / river_rate,
        fast_bytes_per_series=bank.bytes_per_series,
        river_bytes_per_series=traced,
        river_pickle_bytes_per_series=pickled,
        max_abs_score_difference=difference,
    )
