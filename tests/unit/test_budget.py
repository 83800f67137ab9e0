"""Error budget remaining, budget consumed and time to exhaustion; hand-computed cases."""

import math

import pytest

from aiops.core.budget import (
    allowed_bad_events,
    budget_consumed,
    budget_remaining,
    time_to_exhaustion_s,
)
from aiops.core.burn_rate import burn_rate

DAY = 86400
MONTH = 30 * DAY


@pytest.mark.parametrize(
    ("error_ratio", "target", "expected"),
    [
        (0.0, 0.999, 1.0),
        (0.0005, 0.999, 0.5),
        (0.001, 0.999, 0.0),
        (0.002, 0.999, -1.0),
        (0.0025, 0.99, 0.75),
    ],
)
def test_budget_remaining_over_the_slo_window(error_ratio, target, expected):
    assert budget_remaining(error_ratio, target) == pytest.approx(expected)


def test_no_data_leaves_the_budget_unknown():
    assert math.isnan(budget_remaining(math.nan, 0.999))
    assert math.isnan(time_to_exhaustion_s(math.nan, 2.0, MONTH))
    assert math.isnan(time_to_exhaustion_s(0.5, math.nan, MONTH))


@pytest.mark.parametrize(
    ("rate", "days"), [(1, 30), (2, 15), (10, 3), (14.4, 30 / 14.4), (6, 5), (1000, 30 / 1000)]
)
def test_a_full_budget_lasts_the_period_over_the_burn_rate(rate, days):
    # SRE Workbook, 99.9% over 30 days: burn 1 -> 30d, 2 -> 15d, 10 -> 3d, 14.4 -> 2.08d, 1000 -> 43 min
    assert time_to_exhaustion_s(1.0, rate, MONTH) == pytest.approx(days * DAY)


def test_1000x_burn_exhausts_a_30_day_budget_in_43_minutes():
    assert time_to_exhaustion_s(1.0, 1000, MONTH) / 60 == pytest.approx(43.2)


def test_what_remains_lasts_proportionally_less():
    # 1M requests, 400 bad over 30 days at 99.9%: 40% of the budget spent; burning 3x now -> 0.6 * 30d / 3 = 6 days
    remaining = budget_remaining(400 / 1_000_000, 0.999)
    assert remaining == pytest.approx(0.6)
    assert time_to_exhaustion_s(remaining, burn_rate(0.003, 0.999), MONTH) == pytest.approx(6 * DAY)


def test_spent_budget_is_exhausted_now_and_no_burn_never_exhausts():
    assert time_to_exhaustion_s(0.0, 5.0, MONTH) == 0.0
    assert time_to_exhaustion_s(-1.0, 5.0, MONTH) == 0.0
    assert time_to_exhaustion_s(0.5, 0.0, MONTH) == math.inf


@pytest.mark.parametrize(
    ("rate", "window_s", "expected"),
    [
        (14.4, 3600, 0.02),
        (6, 6 * 3600, 0.05),
        (3, DAY, 0.10),
        (1, 3 * DAY, 0.10),
    ],
)
def test_budget_consumed_by_each_alert_window(rate, window_s, expected):
    assert budget_consumed(rate, window_s, MONTH) == pytest.approx(expected)


def test_allowed_bad_events():
    assert allowed_bad_events(250_000, 0.999) == pytest.approx(250)
    assert allowed_bad_events(0, 0.999) == 0
