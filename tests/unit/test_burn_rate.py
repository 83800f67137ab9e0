"""Burn rates, Sloth's factors and the multi-window, multi-burn-rate evaluation; hand-computed cases."""

import math

import pytest

from aiops.core.burn_rate import (
    State,
    WindowPair,
    burn_rate,
    burn_rate_factor,
    detection_time_s,
    error_ratio_threshold,
    evaluate,
    evaluate_pair,
)
from aiops.core.sli import EventCounts

HOUR, DAY = 3600, 86400
PAGE = [WindowPair("page", "quick", 300, HOUR, 14.4), WindowPair("page", "slow", 1800, 6 * HOUR, 6)]
TICKET = [
    WindowPair("ticket", "quick", 2 * HOUR, DAY, 3),
    WindowPair("ticket", "slow", 6 * HOUR, 3 * DAY, 1),
]
WINDOWS = (300, 1800, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY)


def counts(ratio_by_window: dict[int, float], total: float = 10_000) -> dict[int, EventCounts]:
    """Every window with ``total`` events, at the given error ratio (0 where not given)."""
    return {
        w: EventCounts(good=total * (1 - ratio_by_window.get(w, 0.0)), total=total) for w in WINDOWS
    }


@pytest.mark.parametrize(
    ("ratio", "target", "expected"),
    [
        (0.001, 0.999, 1.0),
        (0.0144, 0.999, 14.4),
        (0.006, 0.999, 6.0),
        (0.05, 0.99, 5.0),
        (0.0, 0.999, 0.0),
    ],
)
def test_burn_rate_is_the_error_ratio_over_the_budget(ratio, target, expected):
    assert burn_rate(ratio, target) == pytest.approx(expected)


@pytest.mark.parametrize("target", [0, 1, 1.5, -0.1])
def test_target_must_lie_strictly_between_zero_and_one(target):
    with pytest.raises(ValueError, match="target"):
        burn_rate(0.1, target)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (30, [14.4, 6, 3, 1]),  # SRE Workbook
        (28, [13.44, 5.6, 2.8, 28 * 24 * 0.1 / 72]),  # same percentages over 28 days: ..., 0.9333
        (7, [3.36, 1.4, 0.7, 7 * 24 * 0.1 / 72]),  # ..., 0.2333
    ],
)
def test_sloth_scales_the_factors_with_the_slo_window(days, expected):
    period = days * DAY
    factors = [
        burn_rate_factor(2, period, HOUR),
        burn_rate_factor(5, period, 6 * HOUR),
        burn_rate_factor(10, period, DAY),
        burn_rate_factor(10, period, 3 * DAY),
    ]
    assert factors == pytest.approx(expected)


def test_threshold_and_detection_time_of_the_workbook():
    assert error_ratio_threshold(14.4, 0.999) == pytest.approx(0.0144)
    assert detection_time_s(14.4, 0.999, HOUR, 1.0) == pytest.approx(
        51.84
    )  # 0.864 min at 100% errors
    assert detection_time_s(14.4, 0.999, HOUR, 0.1) == pytest.approx(518.4)
    assert detection_time_s(6, 0.999, 6 * HOUR, 1.0) == pytest.approx(129.6)
    assert detection_time_s(14.4, 0.999, HOUR, 0.0144) == math.inf  # never strictly above


def test_a_pair_fires_only_when_both_windows_burn():
    pair = PAGE[0]
    assert evaluate_pair(pair, counts({300: 0.02, HOUR: 0.02}), 0.999).state is State.FIRING
    assert (
        evaluate_pair(pair, counts({300: 0.02, HOUR: 0.01}), 0.999).state is State.OK
    )  # long one is under
    assert (
        evaluate_pair(pair, counts({300: 0.01, HOUR: 0.02}), 0.999).state is State.OK
    )  # problem is over


def test_a_ratio_equal_to_the_threshold_does_not_burn():
    pair = WindowPair(
        "page", "quick", 300, HOUR, factor=2
    )  # target 0.75: threshold 2 * 0.25 = 0.5 exactly
    at = {300: EventCounts(good=50, total=100), HOUR: EventCounts(good=50, total=100)}
    above = {300: EventCounts(good=49, total=100), HOUR: EventCounts(good=49, total=100)}
    assert evaluate_pair(pair, at, 0.75).state is State.OK
    assert evaluate_pair(pair, above, 0.75).state is State.FIRING


def test_severity_fires_when_any_pair_burns():
    slow_only = counts({1800: 0.01, 6 * HOUR: 0.01})  # 10x: above 6x, under 14.4x
    [page] = evaluate(PAGE, slow_only, 0.999)
    assert page.state is State.FIRING
    assert [p.pair.name for p in page.firing_pairs] == ["page-slow"]
    assert page.pairs[1].short_burn_rate == pytest.approx(10)


def test_results_come_per_severity_in_order():
    everything = counts({w: 0.05 for w in WINDOWS})
    results = evaluate(PAGE + TICKET, everything, 0.999)
    assert [(r.severity, r.state) for r in results] == [
        ("page", State.FIRING),
        ("ticket", State.FIRING),
    ]
    quiet = evaluate(PAGE + TICKET, counts({}), 0.999)
    assert [r.state for r in quiet] == [State.OK, State.OK]


def test_low_traffic_guard_holds_back_a_burning_pair():
    few = {w: EventCounts(good=2, total=4) for w in WINDOWS}  # 50% errors, but 4 events
    [page] = evaluate(PAGE, few, 0.999, min_events=10)
    assert page.state is State.LOW_TRAFFIC and not page.firing_pairs
    [page] = evaluate(PAGE, few, 0.999, min_events=4)
    assert page.state is State.FIRING


def test_the_guard_counts_the_short_window():
    mixed = counts({w: 0.5 for w in WINDOWS}, total=1000)
    mixed[300] = EventCounts(good=3, total=6)  # the 5m window alone is thin
    [page] = evaluate(PAGE, mixed, 0.999, min_events=10)
    assert [p.state for p in page.pairs] == [State.LOW_TRAFFIC, State.FIRING]
    assert page.state is State.FIRING


def test_no_events_is_no_data_not_ok_and_not_firing():
    empty = {w: EventCounts(0, 0) for w in WINDOWS}
    [page] = evaluate(PAGE, empty, 0.999)
    assert page.state is State.NO_DATA
    assert math.isnan(page.pairs[0].short_burn_rate)
    partly = counts({})
    partly[300] = EventCounts(0, 0)  # page-quick has no data, page-slow is healthy
    [page] = evaluate(PAGE, partly, 0.999)
    assert [p.state for p in page.pairs] == [State.NO_DATA, State.OK] and page.state is State.OK


def test_a_missing_window_is_a_clear_error():
    with pytest.raises(KeyError, match="300 s window"):
        evaluate(PAGE, {HOUR: EventCounts(1, 1)}, 0.999)


def test_window_pairs_are_checked():
    with pytest.raises(ValueError, match="shorter"):
        WindowPair("page", "quick", short_s=HOUR, long_s=300, factor=14.4)
    with pytest.raises(ValueError, match="factor"):
        WindowPair("page", "quick", short_s=300, long_s=HOUR, factor=0)
