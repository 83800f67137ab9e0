"""Exponential-histogram layout: OTel's bucket numbering, Prometheus's bounds, merging to coarser scales.

Prometheus files cited are from v3.15.1 (Go module
``github.com/prometheus/prometheus@v0.315.1``).
"""

import math
import random
import sys

import pytest

from aiops.slo.exponential_histogram import (
    ExponentialHistogram,
    as_prometheus_ingests,
    ascending_buckets,
    at_common_scale,
    base_power,
    descending_buckets,
    downscale,
)
from aiops.slo.quantile import native_histogram_fraction, native_histogram_quantile


def test_otel_bucket_index_i_covers_base_to_the_i_to_base_to_the_i_plus_1():
    # OTel data model: "bucket index i" holds (base**i, base**(i+1)]; at scale 0 the base is 2.
    h = ExponentialHistogram(scale=0, count=3, positive_offset=0, positive=[1, 1, 1])
    assert [(lo, up) for lo, up, _ in ascending_buckets(h)] == [(1, 2), (2, 4), (4, 8)]


def test_otel_bucket_minus_one_is_prometheus_bucket_zero_ending_at_one():
    # native_histograms.test:111: "offset:0 is always the bucket with an upper limit of 1";
    # histograms.go (otlptranslator) stores OTel index i as Prometheus index i + 1.
    h = ExponentialHistogram(scale=3, count=1, positive_offset=-1, positive=[1])
    ((_, upper, _),) = ascending_buckets(h)
    assert upper == 1.0


def test_negative_buckets_mirror_the_positive_ones_lowest_first():
    h = ExponentialHistogram(scale=0, count=3, negative_offset=0, negative=[1, 2])
    assert list(ascending_buckets(h)) == [(-4.0, -2.0, 2.0), (-2.0, -1.0, 1.0)]
    assert list(descending_buckets(h)) == [(-2.0, -1.0, 1.0), (-4.0, -2.0, 2.0)]


def test_the_zero_bucket_is_walked_only_when_it_counted_something():
    empty_zero = ExponentialHistogram(scale=0, count=1, zero_threshold=0.1, positive=[1])
    assert [b[2] for b in ascending_buckets(empty_zero)] == [1.0]


@pytest.mark.parametrize(
    ("scale", "fraction_of_the_binade", "prometheus"),
    [
        # exponentialBounds in model/histogram/generic.go:665 and :667 (bounds in [0.5, 1)).
        (1, 1, 0.7071067811865475),
        (2, 1, 0.5946035575013605),
        (2, 2, 0.7071067811865475),
        (2, 3, 0.8408964152537144),
    ],
)
def test_bounds_agree_with_prometheus_table_to_a_few_ulp(scale, fraction_of_the_binade, prometheus):
    ours = base_power(fraction_of_the_binade - (1 << scale), scale)
    assert abs(ours - prometheus) <= 4 * math.ulp(prometheus)


@pytest.mark.parametrize("scale", range(-4, 9))
def test_powers_of_two_are_exact_bounds_at_every_prometheus_scale(scale):
    per_doubling = 1 << scale if scale > 0 else 1  # buckets per power of two, at least one
    for k in range(-5, 6):
        assert base_power(k * per_doubling, scale) == 2.0 ** (k * per_doubling * 2.0**-scale)


def test_the_last_finite_bound_is_the_largest_float_as_in_get_bound_exponential():
    # generic.go getBoundExponential: the bucket before the one for +Inf ends at math.MaxFloat64.
    assert base_power(1024, 0) == sys.float_info.max
    assert base_power(1024 << 8, 8) == sys.float_info.max
    assert base_power(1025, 0) == math.inf


def test_downscale_merges_pairs_of_buckets_per_step():
    h = ExponentialHistogram(scale=2, count=10, positive_offset=-3, positive=[1, 2, 3, 4])
    one = downscale(h, 1)  # indices -3, -2 | -1, 0 -> -2 | -1, 0 (floor division by 2)
    assert (one.positive_offset, one.positive) == (-2, (1.0, 5.0, 4.0))
    two = downscale(h, 0)  # -3..0 -> -1, -1, -1, 0
    assert (two.positive_offset, two.positive) == (-1, (6.0, 4.0))


def test_downscale_keeps_every_observation_and_the_zero_bucket():
    rng = random.Random(14)
    for _ in range(50):
        h = _random_histogram(rng)
        d = downscale(h, h.scale - rng.randint(1, 4))
        assert sum(d.positive) == pytest.approx(sum(h.positive))
        assert sum(d.negative) == pytest.approx(sum(h.negative))
        assert (d.zero_count, d.count, d.sum) == (h.zero_count, h.count, h.sum)


def test_downscale_is_how_prometheus_adds_a_finer_histogram_to_a_coarser_one():
    # native_histograms.test:174 adds {{schema:0 sum:4 count:4 buckets:[2 2] offset:1}} to
    # {{schema:-1 sum:4 count:1 buckets:[1] offset:1}} and gets (line 177)
    # {{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}; Prometheus offset n is OTel offset n - 1.
    coarse = ExponentialHistogram(scale=-1, count=1, sum=4, positive_offset=0, positive=[1])
    fine = ExponentialHistogram(scale=0, count=4, sum=4, positive_offset=0, positive=[2, 2])
    a, b = at_common_scale(coarse, fine)
    assert a.scale == b.scale == -1
    assert b.positive_offset == a.positive_offset == 0
    assert [x + y for x, y in zip(a.positive, b.positive, strict=True)] == [5.0]


def test_downscale_refuses_a_finer_scale():
    with pytest.raises(ValueError, match="finer scale"):
        downscale(ExponentialHistogram(scale=0, count=0), 1)


def test_prometheus_ingests_at_most_scale_8_with_its_own_zero_threshold():
    # histograms.go exponentialToNativeHistogram: scaleDown = scale - 8, ZeroThreshold 1e-128.
    h = ExponentialHistogram(
        scale=12, count=3, zero_threshold=1e-3, positive_offset=35, positive=[1, 1, 1]
    )
    p = as_prometheus_ingests(h)
    assert (p.scale, p.zero_threshold) == (8, 1e-128)
    assert (p.positive_offset, p.positive) == (2, (3.0,))  # 35..37 >> 4 = 2
    same = as_prometheus_ingests(ExponentialHistogram(scale=3, count=1, positive=[1]))
    assert same.scale == 3


def test_prometheus_rejects_scales_below_minus_4():
    with pytest.raises(ValueError, match="scale -5 < -4"):
        as_prometheus_ingests(ExponentialHistogram(scale=-5, count=0))


def test_counts_are_floats_whatever_they_are_given_as():
    h = ExponentialHistogram(scale=0, count=3, zero_count=1, positive=[2])
    assert (h.count, h.zero_count, h.positive) == (3.0, 1.0, (2.0,))


def test_the_fraction_below_a_quantile_is_that_quantile():
    # quantile.go: "If HistogramQuantile(0.9, h) returns 123.4, then
    # HistogramFraction(-Inf, 123.4, h) returns 0.9"; checked on random histograms,
    # which walks both the upward (q < 0.5) and the downward (q >= 0.5) path.
    rng = random.Random(7)
    for _ in range(200):
        h = _random_histogram(rng)
        for q in (0.01, 0.25, 0.49, 0.5, 0.75, 0.95, 0.999):
            value = native_histogram_quantile(q, h)
            assert native_histogram_fraction(-math.inf, value, h) == pytest.approx(q, abs=1e-9)


def _random_histogram(rng: random.Random) -> ExponentialHistogram:
    positive = [float(rng.randint(1, 9)) for _ in range(rng.randint(1, 12))]
    negative = [float(rng.randint(1, 9)) for _ in range(rng.randint(0, 5))]
    zero = float(rng.randint(0, 3))
    return ExponentialHistogram(
        scale=rng.randint(-2, 6),
        count=sum(positive) + sum(negative) + zero,
        sum=1.0,
        zero_count=zero,
        zero_threshold=1e-300,
        positive_offset=rng.randint(-20, 20),
        positive=positive,
        negative_offset=rng.randint(-20, 20),
        negative=negative,
    )
