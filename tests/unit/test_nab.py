"""NAB scoring on hand-computed cases, and the threshold sweep against brute force."""

from __future__ import annotations

import math
import random

import pytest

from aiops.anomaly.evaluation.nab import (
    PROFILES,
    LabelledSeries,
    optimise_threshold,
    probationary_period,
    scaled_sigmoid,
    score_corpus,
    score_file,
    windows,
)

STANDARD, LOW_FP, LOW_FN = (
    PROFILES["standard"],
    PROFILES["reward_low_FP_rate"],
    PROFILES["reward_low_FN_rate"],
)


def _file(n=1000, anomalies=(500,)):
    return LabelledSeries("f", [0.0] * n, anomalies=anomalies)


def _detections(n, *at):
    scores = [0.0] * n
    for i in at:
        scores[i] = 1.0
    return scores


def test_published_profile_weights():
    assert [(p.tp, p.fp, p.fn, p.tn) for p in PROFILES.values()] == [
        (1.0, 0.11, 1.0, 1.0),
        (1.0, 0.22, 1.0, 1.0),
        (1.0, 0.11, 2.0, 1.0),
    ]


def test_probationary_period_and_windows():
    assert [probationary_period(n) for n in (100, 1000, 5000, 5001, 100_000)] == [
        15,
        150,
        750,
        750,
        750,
    ]
    # 10% of 1000 points over 2 anomalies: 50 points each, centred on the label
    assert windows(_file(anomalies=(400, 700))) == [(375, 425), (675, 725)]
    # overlapping windows merge; a window ending in the probationary period is dropped
    assert windows(_file(anomalies=(400, 420))) == [(375, 445)]
    assert windows(_file(anomalies=(50, 600))) == [(575, 625)]


def test_scaled_sigmoid():
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614, abs=1e-6)
    assert scaled_sigmoid(1.0) == pytest.approx(-0.986614, abs=1e-6)
    assert scaled_sigmoid(3.01) == -1.0


@pytest.mark.parametrize("profile", PROFILES.values(), ids=list(PROFILES))
def test_a_perfect_detector_scores_100_and_the_null_detector_0(profile):
    files = [_file(), _file(2000, anomalies=(800, 1500)), _file(8000, anomalies=(3000,))]
    perfect = [_detections(len(f), *(left for left, _ in windows(f))) for f in files]
    null = [[0.0] * len(f) for f in files]
    assert score_corpus(files, perfect, profile).normalised == pytest.approx(100.0)
    assert score_corpus(files, null, profile).normalised == 0.0
    null_result = score_corpus(files, null, profile, threshold=0.5)
    assert (null_result.raw, null_result.fn) == (-profile.fn * 4, 4)


def test_a_detection_at_the_window_start_beats_one_at_its_end():
    file = _file()  # window (450, 550), width 101
    start = score_file(file, _detections(1000, 450), STANDARD, 0.5)
    middle = score_file(file, _detections(1000, 500), STANDARD, 0.5)
    end = score_file(file, _detections(1000, 550), STANDARD, 0.5)
    assert start.raw == pytest.approx(1.0)
    # hand computed: p = -(550 - i + 1) / 101, reward sigma(p) / sigma(-1)
    assert middle.raw == pytest.approx(scaled_sigmoid(-51 / 101) / scaled_sigmoid(-1.0))
    assert end.raw == pytest.approx(scaled_sigmoid(-1 / 101) / scaled_sigmoid(-1.0))
    assert start.raw > middle.raw > end.raw > 0
    assert (start.tp, start.fp, start.fn) == (1, 0, 0)


def test_only_the_first_detection_in_a_window_counts():
    file = _file()
    once = score_file(file, _detections(1000, 470), STANDARD, 0.5)
    many = score_file(file, _detections(1000, 470, 480, 520, 549), STANDARD, 0.5)
    assert many.raw == once.raw and many.tp == 1 and many.fp == 0


@pytest.mark.parametrize(("profile", "cost"), [(STANDARD, 0.11), (LOW_FP, 0.22), (LOW_FN, 0.11)])
def test_a_false_positive_costs_per_profile(profile, cost):
    file = _file()
    hit = score_file(file, _detections(1000, 450), profile, 0.5)
    # before any window: the full FP weight
    early_fp = score_file(file, _detections(1000, 450, 300), profile, 0.5)
    assert hit.raw - early_fp.raw == pytest.approx(cost)
    # just after a window it costs little; more than 3 widths after, the full weight
    near = score_file(file, _detections(1000, 450, 560), profile, 0.5)
    far = score_file(file, _detections(1000, 450, 900), profile, 0.5)
    assert hit.raw - near.raw == pytest.approx(-cost * scaled_sigmoid(10 / 100))
    assert hit.raw - far.raw == pytest.approx(cost)
    assert 0 < hit.raw - near.raw < hit.raw - far.raw


def test_a_missed_window_costs_the_fn_weight():
    file = _file()
    assert score_file(file, [0.0] * 1000, STANDARD, 0.5).raw == -1.0
    assert score_file(file, [0.0] * 1000, LOW_FN, 0.5).raw == -2.0


def test_detections_in_the_probationary_period_are_not_scored():
    file = _file()
    assert score_file(file, _detections(1000, 10, 149, 450), STANDARD, 0.5).raw == pytest.approx(
        1.0
    )
    assert score_file(file, _detections(1000, 150, 450), STANDARD, 0.5).raw == pytest.approx(
        1.0 - 0.11
    )


def test_threshold_is_optimised_over_the_corpus():
    files = [_file(), _file()]
    scores = [[0.1] * 1000, [0.1] * 1000]
    scores[0][460] = 0.7  # a TP at 0.7
    scores[1][700] = 0.9  # an FP above it: only worth keeping if the TP outweighs it
    scores[1][470] = 0.6  # another TP
    result = score_corpus(files, scores, STANDARD)
    assert result.threshold == 0.6 and (result.tp, result.fp, result.fn) == (2, 1, 0)
    assert optimise_threshold(files, scores, STANDARD) == 0.6
    # NaN scores never detect
    scores[0] = [math.nan] * 1000
    assert score_corpus(files, scores, STANDARD).tp == 1


def test_the_sweep_matches_brute_force_at_every_threshold():
    rng = random.Random(7)
    files = [
        _file(n, tuple(sorted(rng.sample(range(200, n), k))))
        for n, k in ((800, 1), (1200, 3), (1500, 2))
    ]
    scores = [[round(rng.random() ** 4, 2) for _ in range(len(f))] for f in files]
    for profile in PROFILES.values():
        best = score_corpus(files, scores, profile)
        candidates = sorted({s for file_scores in scores for s in file_scores}) + [math.inf]
        brute = max(score_corpus(files, scores, profile, threshold=t).raw for t in candidates)
        assert best.raw == pytest.approx(brute)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="3 scores for 1000 values"):
        score_corpus([_file()], [[0.0] * 3], STANDARD)
