"""The numpy fast path reproduces the river reference (CombinedDetector) within TOLERANCE, and its bank works.

Same inputs to both: several series of different shapes (noise, seasonal,
constant, tiny-scale, with spikes, gaps, huge and infinite values), fed to
the fast path in micro-batches of random size that interleave the series and
hold several points of one series; fed to one reference detector per series
in order. Every score and every forecast must agree within ``TOLERANCE``.
"""

from __future__ import annotations

import json
import math
import pickle
import zlib

import numpy as np
import pytest

from aiops.anomaly.detectors import CombinedDetector, FastCombined, score_many
from aiops.anomaly.detectors.combined import STUCK_MAX_RUN
from aiops.anomaly.detectors.fast import TOLERANCE

SMALL = {"n_trees": 3, "height": 4, "window_size": 20, "calibration_warmup": 10, "warmup": 5}


def _series(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    if kind == 0:
        y = rng.normal(10, 1, n)
    elif kind == 1:
        y = 100 + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)
    elif kind == 2:
        y = np.full(n, 3.0)
    elif kind == 3:
        y = rng.normal(0, 0.001, n)
    else:
        y = rng.poisson(2, n).astype(float)
    y[n // 2] += 60 * (np.std(y[:40]) + 1e-3)
    y[40:46] = np.nan
    y[int(0.7 * n)] = 1e300
    y[int(0.7 * n) + 7] = -np.inf
    y[int(0.8 * n) : int(0.8 * n) + 20] = y[int(0.8 * n)]  # stuck
    y[int(0.9 * n) :] += 5 * (np.std(y[:40]) + 1e-3)  # a level shift
    return y


def _stuck_series(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Continuous or integer series that freeze for shorter and longer than ``STUCK_MAX_RUN`` values."""
    y = rng.normal(50, 5, n)
    if kind % 2:
        y = np.round(y / 5)  # a gauge that often holds its value
    for start, length in ((150, 30), (300, STUCK_MAX_RUN + 20), (500, 8)):
        y[start : start + length] = y[start]
    y[320:323] = np.nan  # a gap inside a frozen stretch
    return y


def _run_both(params: dict, n_series: int, n: int, seed: int, make=_series):
    rng = np.random.default_rng(seed)
    data = [make(i % 5, n, rng) for i in range(n_series)]
    reference_scores = np.zeros((n_series, n))
    reference_forecasts = np.full((n_series, n), np.nan)
    for i, values in enumerate(data):
        detector = CombinedDetector(**params)
        for j, value in enumerate(values.tolist()):
            expected = detector.expected()
            if expected is not None:
                reference_forecasts[i, j] = expected[0]
            reference_scores[i, j] = detector.score_one(value)
            detector.learn_one(value)

    order = np.repeat(np.arange(n_series), n)
    rng.shuffle(order)
    position = [0] * n_series
    points = []
    for i in order.tolist():
        points.append((i, position[i]))
        position[i] += 1
    bank = FastCombined(capacity=2, **params)  # grows while running
    fast_scores = np.full((n_series, n), -1.0)
    fast_forecasts = np.full((n_series, n), np.nan)
    start = 0
    while start < len(points):
        batch = points[start : start + int(rng.integers(1, 3 * n_series))]
        result = bank.score_learn([f"s{i}" for i, _ in batch], [data[i][j] for i, j in batch])
        for (i, j), score, forecast in zip(batch, result.scores, result.forecasts):
            fast_scores[i, j], fast_forecasts[i, j] = score, forecast
        start += len(batch)
    return reference_scores, fast_scores, reference_forecasts, fast_forecasts


@pytest.mark.parametrize(
    ("params", "n"),
    [
        pytest.param({}, 330, id="defaults"),
        pytest.param({"season": 12}, 330, id="season-12"),
        pytest.param({"hst": False}, 300, id="without-trees"),
        pytest.param(SMALL, 200, id="small-trees"),
        pytest.param(
            {**SMALL, "season": 7, "beta": 0.1, "seed": 5}, 200, id="small-seasonal-seed-5"
        ),
        pytest.param({"hst": False, "beta": 0.0}, 200, id="no-trend"),
        pytest.param({"gpd_tail": False}, 330, id="gaussian-tail"),
        pytest.param({"elevated_rate": 0.1, "relevel_after": 3}, 330, id="elevated-and-relevel"),
    ],
)
def test_fast_path_matches_the_river_reference(params, n):
    ref, fast, ref_forecast, fast_forecast = _run_both(
        params, n_series=5, n=n, seed=len(str(params))
    )
    assert (ref > 0.5).any(), "the data holds anomalies the reference flags"
    np.testing.assert_allclose(fast, ref, rtol=0, atol=TOLERANCE)
    assert np.array_equal(np.isnan(ref_forecast), np.isnan(fast_forecast))
    finite = ~np.isnan(ref_forecast)
    np.testing.assert_allclose(
        fast_forecast[finite], ref_forecast[finite], rtol=TOLERANCE, atol=TOLERANCE
    )


@pytest.mark.parametrize("params", [{}, {"hst": False}], ids=["defaults", "without-trees"])
def test_fast_path_matches_the_reference_on_frozen_values(params):
    ref, fast, _, _ = _run_both(params, n_series=4, n=600, seed=1, make=_stuck_series)
    assert (ref[:, 150:180] > 0.5).any(), "the reference flags a frozen stretch"
    np.testing.assert_allclose(fast, ref, rtol=0, atol=TOLERANCE)


def test_score_without_learning_leaves_the_bank_unchanged():
    bank = FastCombined(**SMALL)
    slots = bank.slots(["a", "b"])
    rng = np.random.default_rng(0)
    for _ in range(60):
        bank.score_learn_slots(slots, rng.normal(0, 1, 2))
    before = pickle.dumps(bank)
    peek = bank.score_learn_slots(slots, [0.5, 99.0], learn=False)
    assert pickle.dumps(bank) == before
    assert np.array_equal(bank.score_learn_slots(slots, [0.5, 99.0]).scores, peek.scores)


def test_pickled_bank_and_exported_series_resume_exactly():
    rng = np.random.default_rng(1)
    data = rng.normal(5, 1, (3, 120))
    keys = ["x", "y", "z"]
    bank = FastCombined(**SMALL)
    for t in range(60):
        bank.score_learn(keys, data[:, t])
    pickled = pickle.loads(pickle.dumps(bank))
    moved = FastCombined(**SMALL)
    moved.score_learn(["unrelated"], [1.0])
    for key in reversed(keys):  # other slots than in the original
        moved.import_state(key, bank.export_state(key))
    for t in range(60, 120):
        expected = bank.score_learn(keys, data[:, t]).scores
        assert np.array_equal(pickled.score_learn(keys, data[:, t]).scores, expected)
        assert np.array_equal(moved.score_learn(keys, data[:, t]).scores, expected)
    with pytest.raises(ValueError, match="other parameters"):
        FastCombined(**{**SMALL, "season": 4}).import_state("x", bank.export_state("x"))


def _without_stuck_fields(state: bytes) -> bytes:
    """A checkpoint as the release before the stuck view wrote it: the same, without its fields."""
    header_bytes, body = zlib.decompress(state).split(b"\n", 1)
    header = json.loads(header_bytes)
    stuck = [field for field in header["fields"] if field[0].startswith("stuck_")]
    size = sum(8 * math.prod(shape) for _name, _dtype, shape in stuck) * header["rows"]
    header["fields"] = [field for field in header["fields"] if field not in stuck]
    return zlib.compress(json.dumps(header, sort_keys=True).encode() + b"\n" + body[:-size])


def test_a_checkpoint_from_before_the_stuck_view_restores_its_series():
    data = np.random.default_rng(3).normal(5, 1, (2, 400))
    keys = ["x", "y"]
    bank = FastCombined(**SMALL)
    for t in range(300):
        bank.score_learn(keys, data[:, t])
    old = bank.export_states(keys)
    upgraded = FastCombined(**SMALL)
    upgraded.import_states(keys, _without_stuck_fields(old))
    restored, fresh = upgraded.snapshot(upgraded.slots(keys)), FastCombined(**SMALL)
    original = bank.snapshot(bank.slots(keys))
    for name, rows in restored.items():
        if name.startswith("stuck_"):
            initial = fresh.snapshot(fresh.slots(keys))[name]
            assert np.array_equal(rows, initial), f"{name} starts fresh"
        else:
            assert np.array_equal(rows, original[name]), f"{name} is restored"
    for t in range(
        300, 400
    ):  # the forecast and its tails go on as before; only the stuck view warms up
        expected, got = bank.score_learn(keys, data[:, t]), upgraded.score_learn(keys, data[:, t])
        assert np.array_equal(got.forecasts, expected.forecasts)


def test_series_cap_new_and_forgotten_series():
    values = [float(v) for v in np.random.default_rng(2).normal(0, 1, 80)]
    bank = FastCombined(max_series=2, **SMALL)
    result = bank.score_learn(["a", "b", "c"], [1.0, 2.0, 3.0])
    assert math.isnan(result.scores[2]) and bank.skipped == 1 and "c" not in bank and len(bank) == 2
    assert bank.forget(["a", "never-seen"]) == 1
    fresh = [bank.score_learn(["c"], [v]).scores[0] for v in values]  # reuses a's row, reset
    assert np.allclose(fresh, score_many(CombinedDetector(**SMALL), values), rtol=0, atol=TOLERANCE)
    assert bank.keys() == ["b", "c"]


def test_values_that_are_not_numbers_are_missing_points():
    bank = FastCombined(**SMALL)
    result = bank.score_learn(["a", "a", "a", "b"], [1.0, None, "oops", float("inf")])
    assert result.scores.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_memory_per_series_is_tens_of_kilobytes():
    assert FastCombined().bytes_per_series < 10_000
    assert FastCombined(season=1440).bytes_per_series < 25_000


def test_parameters_are_the_reference_ones():
    with pytest.raises(TypeError, match="unknown parameters"):
        FastCombined(windowsize=10)
    with pytest.raises(ValueError, match="season"):
        FastCombined(season=1)


@pytest.mark.parametrize("held", [0, 2])
def test_a_held_point_is_scored_but_not_learnt_even_among_repeats_of_its_series(held):
    """``hold`` maps positions through the rounds a batch with a series twice is split into."""
    from aiops.anomaly.detectors.fast import FastCombined

    def warmed() -> tuple[FastCombined, np.ndarray]:
        bank = FastCombined(hst=False)
        slots = bank.slots(["a", "b"])
        for i in range(30):
            bank.score_learn_slots(slots, [1.0 + 0.01 * (i % 3), 2.0])
        return bank, slots

    bank, slots = warmed()
    batch = np.array([slots[0], slots[1], slots[0]])
    seen = []
    result = bank.score_learn_slots(
        batch,
        [50.0, 2.0, 1.0],
        hold=lambda pos, *scored: (
            seen.append(pos.tolist()) or [p for p in pos.tolist() if p == held]
        ),
    )
    assert seen == [[0, 1], [2]], "one round per repeat, positions in the batch's numbering"
    reference, _ = warmed()
    learnt = [(50.0, 0), (1.0, 2)]
    for value, position in learnt:
        reference.score_learn_slots(np.array([slots[0]]), [value], learn=position != held)
    for name, rows in reference.snapshot(slots[:1]).items():
        np.testing.assert_array_equal(bank.snapshot(slots[:1])[name], rows, err_msg=name)
    assert np.isfinite(result.scores).all()
