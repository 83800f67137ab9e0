"""One conformance suite over every detector in the registry (river's ``test_estimators.py`` pattern).

Each check runs for every ``(detector, params)`` pair that
``aiops.core.detectors.REGISTRY`` lists; a new detector gets all of them by
being registered. Series are short (the test parameters shrink the warm-ups).
"""

from __future__ import annotations

import inspect
import math
import pickle
import random

import pytest

from aiops.core.detectors import REGISTRY, Detector, score_many

CASES = [
    pytest.param(name, params, id=f"{name}-{i}")
    for name, cls in REGISTRY.items()
    for i, params in enumerate(cls._unit_test_params())
]

N = 120


def _series(n: int = N, seed: int = 0) -> list[float]:
    """Noisy, slightly seasonal values with one spike at 3/4."""
    rng = random.Random(seed)
    values = [50 + 5 * math.sin(2 * math.pi * t / 12) + rng.gauss(0, 1) for t in range(n)]
    values[3 * n // 4] += 25
    return values


def _make(name: str, params: dict) -> Detector:
    return REGISTRY[name](**params)


def _assert_scores(scores: list[float]) -> None:
    for score in scores:
        assert isinstance(score, float)
        assert math.isfinite(score) and 0.0 <= score <= 1.0, score


@pytest.mark.parametrize(("name", "params"), CASES)
def test_scores_are_floats_in_unit_interval(name, params):
    _assert_scores(score_many(_make(name, params), _series()))


@pytest.mark.parametrize(("name", "params"), CASES)
def test_pickle_round_trip_resumes_exactly(name, params):
    values = _series()
    uninterrupted = score_many(_make(name, params), values)
    detector = _make(name, params)
    first = score_many(detector, values[: N // 2])
    restored = pickle.loads(pickle.dumps(detector))
    assert first + score_many(restored, values[N // 2 :]) == uninterrupted


@pytest.mark.parametrize(("name", "params"), CASES)
def test_clone_is_fresh_with_the_same_params(name, params):
    values = _series()
    trained = _make(name, params)
    score_many(trained, values[:80])
    before = trained.score_one(values[80])
    clone = trained.clone()
    assert type(clone) is type(trained) and clone is not trained
    assert clone._get_params() == trained._get_params()
    assert score_many(clone, values) == score_many(_make(name, params), values), (
        "a clone starts untrained"
    )
    assert trained.score_one(values[80]) == before, "training the clone left the original alone"


@pytest.mark.parametrize(("name", "params"), CASES)
def test_deterministic_under_a_seed(name, params):
    if "seed" in inspect.signature(REGISTRY[name].__init__).parameters or name == "fast":
        params = {**params, "seed": 11}
    values = _series(seed=4)
    assert score_many(_make(name, params), values) == score_many(_make(name, params), values)


@pytest.mark.parametrize(("name", "params"), CASES)
def test_score_one_does_not_learn(name, params):
    values = _series()
    once = score_many(_make(name, params), values)
    detector = _make(name, params)
    repeated = []
    for x in values:
        detector.score_one(x)
        detector.score_one(x + 1.0)
        repeated.append(detector.score_one(x))
        detector.learn_one(x)
    assert repeated == once


@pytest.mark.parametrize(("name", "params"), CASES)
def test_constant_series_is_quiet_and_a_step_stands_out(name, params):
    detector = _make(name, params)
    scores = score_many(detector, [5.0] * 100)
    _assert_scores(scores)
    settled = scores[60:]
    assert max(settled) == min(settled), "a constant series settles to one score"
    assert detector.score_one(6.0) > settled[-1]


@pytest.mark.parametrize(("name", "params"), CASES)
@pytest.mark.parametrize("missing", [math.nan, None, "not a number"])
def test_missing_values_score_zero(name, params, missing):
    values: list = _series()
    for i in (0, 5, 50, 51, 100):
        values[i] = missing
    scores = score_many(_make(name, params), values)
    _assert_scores(scores)
    assert [scores[i] for i in (0, 5, 50, 51, 100)] == [0.0] * 5


@pytest.mark.parametrize(("name", "params"), CASES)
def test_a_gap_does_not_break_scoring(name, params):
    values: list = _series(150)
    values[60:90] = [math.nan] * 30
    values[130] += 40
    scores = score_many(_make(name, params), values)
    _assert_scores(scores)
    assert scores[60:90] == [0.0] * 30
    after = sorted(scores[90:150])
    assert scores[130] > after[len(after) // 2], "a spike after the gap still stands out"


@pytest.mark.parametrize(("name", "params"), CASES)
def test_huge_and_infinite_values_never_raise(name, params):
    values: list = _series()
    for i, huge in zip(
        (3, 40, 41, 90, 91, 110), (1e300, -1e300, math.inf, -math.inf, 1.7e308, 1e100)
    ):
        values[i] = huge
    detector = _make(name, params)
    _assert_scores(score_many(detector, values))
    _assert_scores([detector.score_one(x) for x in (math.inf, -1e308, 0.0, 1e-300)])
    _assert_scores(score_many(_make(name, params), [1e300] * 50 + [-1e300] * 50))
