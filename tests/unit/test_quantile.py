"""histogram_quantile as promql/quantile.go computes it, and latency-SLI counts; hand-computed cases."""

import math

import pytest

from aiops.core.quantile import (
    NotABucketBound,
    bucket_quantile,
    count_at_or_below,
    cumulative_buckets,
    fraction_at_or_below,
    histogram_quantile,
    nearest_bounds,
)

INF = math.inf
BASIC = [(0.1, 10), (0.5, 30), (INF, 40)]  # 10 in (0, 0.1], 20 in (0.1, 0.5], 10 above 0.5
DEMO_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.1 + 0.4 * 10 / 20),  # rank 20: (0.1, 0.5] holds ranks 10..30
        (0.1, 0.1 * 4 / 10),  # rank 4 in the lowest bucket, whose lower bound is 0
        (0.25, 0.1),  # rank 10: exactly the top of the lowest bucket
        (0.75, 0.5),  # rank 30: the top of (0.1, 0.5]
        (0.76, 0.5),  # rank 30.4: in +Inf, so the second-highest bound
        (1.0, 0.5),  # rank 40: in +Inf
        (0.0, 0.0),  # rank 0: the lowest bucket, start of it
    ],
)
def test_interpolates_within_the_bucket_that_holds_the_rank(q, expected):
    assert bucket_quantile(q, BASIC) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("q", "expected"), [(-0.1, -INF), (1.1, INF)])
def test_q_outside_zero_to_one_gives_infinities(q, expected):
    assert bucket_quantile(q, BASIC) == expected


@pytest.mark.parametrize(
    "buckets",
    [
        [(0.1, 10), (0.5, 30)],  # no +Inf bucket
        [(INF, 5)],  # fewer than two buckets
        [(0.1, 0), (0.5, 0), (INF, 0)],  # no observations
        [],
    ],
)
def test_what_prometheus_answers_with_nan(buckets):
    assert math.isnan(bucket_quantile(0.5, buckets))


def test_q_nan_gives_nan():
    assert math.isnan(bucket_quantile(math.nan, BASIC))


def test_q_zero_with_an_empty_lowest_bucket_is_nan_as_in_go():
    # rank 0 lands in bucket 0, whose own count is 0: 0/0 is NaN in Go's float64 arithmetic.
    assert math.isnan(bucket_quantile(0.0, [(0.1, 0), (0.5, 10), (INF, 10)]))


def test_lowest_bucket_with_a_non_positive_bound_returns_that_bound():
    assert bucket_quantile(0.2, [(-1, 5), (1, 10), (INF, 10)]) == -1
    assert bucket_quantile(0.2, [(0, 5), (1, 10), (INF, 10)]) == 0


def test_negative_buckets_interpolate_from_the_previous_bound():
    # rank 4 lies in (-1, 0], which holds ranks 2..4
    assert bucket_quantile(0.5, [(-1, 2), (0, 4), (1, 8), (INF, 8)]) == pytest.approx(0.0)
    assert bucket_quantile(0.375, [(-1, 2), (0, 4), (1, 8), (INF, 8)]) == pytest.approx(-0.5)


def test_order_of_buckets_does_not_matter():
    assert bucket_quantile(0.5, [(INF, 40), (0.5, 30), (0.1, 10)]) == bucket_quantile(0.5, BASIC)


def test_buckets_with_equal_bounds_are_merged():
    assert bucket_quantile(0.5, [(0.1, 4), (0.1, 6), (0.5, 30), (INF, 40)]) == pytest.approx(0.3)


def test_monotonicity_is_forced_by_the_running_maximum():
    # counts 10, 5, 30, 40 become 10, 10, 30, 40: rank 12 is in (0.25, 0.5] holding 10..30 -> 0.25 + 0.25 * 2/20
    assert bucket_quantile(0.3, [(0.1, 10), (0.25, 5), (0.5, 30), (INF, 40)]) == pytest.approx(
        0.275
    )


def test_counts_within_a_relative_1e_12_are_snapped_to_the_previous_one():
    big = 1e12
    # Without snapping, +Inf holds 0.5 more and q=1 would land in (0.1, 0.5]: 0.5. Snapped, all are <= 0.1.
    assert bucket_quantile(1.0, [(0.1, big), (0.5, big + 0.5), (INF, big + 0.5)]) == pytest.approx(
        0.1
    )


def test_otel_counts_become_cumulative_le_buckets():
    assert cumulative_buckets([0.1, 0.5], [1, 2, 3]) == [(0.1, 1.0), (0.5, 3.0), (INF, 6.0)]
    with pytest.raises(ValueError, match="need 3 bucket counts"):
        cumulative_buckets([0.1, 0.5], [1, 2])


def test_quantiles_of_a_window_of_demo_service_latencies():
    counts = [0, 0, 0, 50, 30, 15, 4, 1, 0, 0, 0, 0, 0, 0, 0]  # 100 requests
    assert histogram_quantile(0.5, DEMO_BOUNDS, counts) == pytest.approx(
        0.05
    )  # rank 50: top of (0.025, 0.05]
    assert histogram_quantile(0.9, DEMO_BOUNDS, counts) == pytest.approx(0.075 + 0.025 * 10 / 15)
    assert histogram_quantile(0.99, DEMO_BOUNDS, counts) == pytest.approx(0.25)
    assert histogram_quantile(0.995, DEMO_BOUNDS, counts) == pytest.approx(0.25 + 0.25 * 0.5)


def test_quantile_is_scale_invariant_so_rates_and_deltas_agree():
    counts = [3, 7, 20, 50, 15, 5]
    bounds = [0.01, 0.05, 0.1, 0.5, 1]
    per_second = [c / 37.5 for c in counts]
    for q in (0.5, 0.95, 0.99):
        assert histogram_quantile(q, bounds, per_second) == pytest.approx(
            histogram_quantile(q, bounds, counts)
        )


def test_count_at_or_below_is_the_le_bucket_of_the_threshold():
    counts = [5, 10, 20, 30, 25, 10]
    bounds = [0.05, 0.1, 0.25, 0.5, 1]
    assert count_at_or_below(0.25, bounds, counts) == 35
    assert count_at_or_below(1, bounds, counts) == 90
    assert fraction_at_or_below(0.25, bounds, counts) == pytest.approx(0.35)


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        (0.3, "0.3 is not a bucket bound; the nearest bounds are 0.25 and 0.5"),
        (0.001, "0.001 is not a bucket bound; the lowest bound is 0.005"),
        (20, "20 is not a bucket bound; the highest bound is 10"),
    ],
)
def test_a_threshold_between_bounds_is_an_error_naming_the_nearest(threshold, message):
    with pytest.raises(NotABucketBound) as error:
        count_at_or_below(threshold, DEMO_BOUNDS, [1] * 15)
    assert str(error.value) == message


def test_nearest_bounds_at_and_beyond_the_edges():
    assert nearest_bounds(0.25, [0.1, 0.25, 0.5]) == (0.1, 0.5)
    assert nearest_bounds(0.01, [0.1, 0.25]) == (None, 0.1)
    assert nearest_bounds(1, []) == (None, None)
