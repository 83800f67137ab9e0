"""What the detectors promise beyond the conformance suite: calibration, robustness, seasons.

The calibration checks run many series through the fast path, which is the
reference within 1e-9 (see test_fast_path_equivalence.py), to stay quick.
"""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from aiops.anomaly.detectors import (
    CombinedDetector,
    FastCombined,
    HalfSpaceTreesDetector,
    HoltWintersDetector,
    RecentVarianceTest,
    default_detector,
    detect_season,
    score_many,
)


def _scores(bank: FastCombined, data: np.ndarray) -> np.ndarray:
    slots = bank.slots(range(len(data)))
    return np.stack(
        [bank.score_learn_slots(slots, data[:, t]).scores for t in range(data.shape[1])], axis=1
    )


def test_one_threshold_means_the_same_on_a_quiet_and_a_noisy_series():
    rng = np.random.default_rng(0)
    series, n, spike_at = 64, 900, 800
    quiet = rng.normal(0.2, 0.001, (series, n))
    noisy = rng.normal(5000.0, 400.0, (series, n))
    quiet[:, spike_at] += 10 * 0.001
    noisy[:, spike_at] += 10 * 400.0
    both = _scores(FastCombined(), np.vstack([quiet, noisy]))
    normal = both[:, 300:spike_at]
    quiet_alarms, noisy_alarms = (normal[:series] > 0.5).mean(), (normal[series:] > 0.5).mean()
    assert quiet_alarms < 2e-3 and noisy_alarms < 2e-3, (quiet_alarms, noisy_alarms)
    assert abs(np.mean(normal[:series]) - np.mean(normal[series:])) < 0.01, (
        "the same score distribution"
    )
    assert (both[:, spike_at] > 0.5).all(), "a 10-sigma spike crosses 0.5 on both"


def test_the_recent_variance_test_is_calibrated_on_gaussian_residuals():
    rng = random.Random(7)
    test = RecentVarianceTest()
    tails = []
    for _ in range(100_000):
        z = abs(rng.gauss(0, 1))
        tails.append(test.tail(z))
        test.update(z)
    rate = np.mean(np.array(tails) < 1e-2)
    assert 0.007 < rate < 0.014, rate


def test_a_run_of_moderate_residuals_is_flagged_though_no_single_point_is():
    rng = random.Random(6)
    values = [rng.gauss(100, 1) for _ in range(400)]
    values += [100 + 3.3 * (-1) ** i for i in range(8)]  # eight 3-sigma swings: a burst of variance
    values += [rng.gauss(100, 1) for _ in range(40)]
    burst = slice(400, 408)
    assert max(score_many(HoltWintersDetector(), values)[burst]) < 0.5, "no point alone is extreme"
    scores = score_many(default_detector(), values)
    assert max(scores[burst]) > 0.5
    assert max(scores[:400]) < 0.5 and max(scores[425:]) < 0.5, "quiet before, and soon after"


def test_a_huge_value_does_not_blind_the_default_detector():
    rng = random.Random(1)
    values = [rng.gauss(100, 5) for _ in range(400)]
    values[320] = 1e300
    values[360] = 100 + 12 * 5
    scores = score_many(default_detector(), values)
    assert scores[320] == 1.0
    assert max(scores[330:355]) < 0.5, "back to normal a few points after"
    assert scores[360] > 0.5, "a later spike is still caught"


def test_a_level_shift_is_flagged_then_learnt():
    rng = random.Random(2)
    values = [rng.gauss(10, 1) for _ in range(300)] + [rng.gauss(20, 1) for _ in range(700)]
    scores = score_many(CombinedDetector(hst=False), values)
    assert max(scores[300:305]) > 0.5
    assert max(scores[700:]) < 0.5, "the new level is normal by then"


def test_holt_winters_keeps_the_season_in_phase_across_a_gap():
    rng = random.Random(3)
    values: list = [
        100 + 30 * math.sin(2 * math.pi * t / 24) + rng.gauss(0, 1) for t in range(24 * 20)
    ]
    values[24 * 12 : 24 * 12 + 30] = [None] * 30
    scores = score_many(HoltWintersDetector(season=24), values)
    assert max(scores[24 * 12 + 30 :]) < 0.5


def test_holt_winters_initialises_where_rivers_own_initialisation_divides_by_zero():
    from river import time_series

    values = [-1.0, 1.0, -1.0, 1.0] * 10  # the first season averages 0
    model = time_series.HoltWinters(alpha=0.2, beta=0.01, gamma=0.1, seasonality=4)
    with pytest.raises(ZeroDivisionError):
        for y in values:
            model.learn_one(y)
    detector = HoltWintersDetector(season=4)
    for y in values:
        detector.learn_one(y)
    assert detector.forecast() == pytest.approx(-1.0)


def test_half_space_trees_scaling_needs_no_look_ahead():
    rng = random.Random(4)
    values = [rng.gauss(0, 1) for _ in range(300)]
    prefix = score_many(HalfSpaceTreesDetector(window_size=50), values[:200])
    whole = score_many(HalfSpaceTreesDetector(window_size=50), values[:200] + [1e9] * 100)
    assert whole[:200] == prefix, "later values never change earlier scores"


def test_detect_season_finds_a_daily_cycle_in_noisy_minutes():
    rng = np.random.default_rng(5)
    t = np.arange(24 * 60 // 5 * 4)  # four days of 5-minute points
    values = 50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, len(t))
    assert abs(detect_season(values) - 288) <= 2
    assert detect_season(rng.normal(0, 1, 500)) == 0


def test_scores_rank_far_into_the_tail():
    """Issue 12: no cap, so a bigger spike always scores higher, and none reaches 1.0."""
    rng = random.Random(11)
    history = [rng.gauss(100, 2) for _ in range(600)]
    detector = default_detector()
    for value in history:
        detector.learn_one(value)
    scores = [detector.score_one(100 + k * 2) for k in (8, 16, 32, 64, 1e6)]
    assert 0.5 < scores[0] and all(a < b for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] < 1.0


def test_one_step_of_an_idle_integer_gauge_is_modest_and_a_level_step_is_news_once():
    idle = [0.0] * 400 + [1.0] + [0.0] * 50
    assert max(score_many(default_detector(), idle)) < 0.5, (
        "0 -> 1 on an idle gauge is one resolution step"
    )
    step = [0.0] * 400 + [3.0] * 200
    scores = score_many(default_detector(), step)
    assert max(scores[420:]) < 0.3, "the new level is learnt within 20 points"


def test_a_heavy_tailed_series_learns_its_own_tail():
    rng = np.random.default_rng(5)
    heavy = (100 + 5 * rng.standard_t(2.5, 4000)).tolist()
    scores = np.array(score_many(default_detector(), heavy))
    assert (scores[600:] >= 0.5).mean() <= 0.002


def test_a_frozen_series_is_news_once_and_a_gauges_own_runs_are_not():
    """Issue 12: a value that stops changing (a broken exporter) is flagged; runs a series often shows are not."""
    rng = np.random.default_rng(8)
    frozen = np.concatenate([rng.normal(50.0, 2.0, 600), np.full(150, 51.3)])
    scores = np.array(score_many(default_detector(), frozen.tolist()))
    assert scores[:600].max() < 0.5
    first = 600 + int(np.argmax(scores[600:] >= 0.5))
    assert scores[first] >= 0.5 and first <= 620, "flagged within 20 repeats"
    assert scores[700:].max() < 0.3, "a run longer than STUCK_MAX_RUN is the new normal"

    series, n = 64, 4000
    shocks = rng.standard_normal((series, n))
    ar = np.zeros((series, n))
    for t in range(1, n):
        ar[:, t] = 0.8 * ar[:, t - 1] + 0.6 * shocks[:, t]
    gauges = np.maximum(np.round(2.0 + ar), 0.0)  # clipped at 0: long runs of 0
    bank = FastCombined()
    flagged = _scores(bank, gauges)[:, 600:] >= 0.5
    assert flagged.mean() <= 0.002, f"{flagged.mean():.4%} of an idle gauge's points flagged"
