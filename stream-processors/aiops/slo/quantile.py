"""Histogram quantiles and threshold counts, computed the way Prometheus computes them.

``bucket_quantile`` follows ``promql/quantile.go: bucketQuantile`` step by step
for classic (``le``) buckets, so the stream's p50/p95/p99 can be compared with
``histogram_quantile(q, sum by (le) (rate(x_bucket[w])))`` at the same instant:

1. ``q`` NaN gives NaN, ``q < 0`` gives -Inf, ``q > 1`` gives +Inf.
2. Buckets are sorted by upper bound; if the highest is not ``+Inf`` the result is NaN.
3. Buckets with equal bounds are merged, counts that differ by a relative
   1e-12 or less are snapped to the previous one, and monotonicity is forced
   by carrying the running maximum forward.
4. Fewer than two buckets, or no observations (the ``+Inf`` count), give NaN.
5. ``rank = q * observations``; the first bucket (``+Inf`` excluded) whose
   cumulative count reaches ``rank`` holds the quantile.
6. If that is the ``+Inf`` bucket, the upper bound of the second-highest
   bucket is returned; if it is the lowest bucket and its upper bound is
   ``<= 0``, that bound is returned.
7. Otherwise the quantile is interpolated linearly inside the bucket, whose
   lower bound is the previous bucket's upper bound, or 0 for the lowest bucket.

OpenTelemetry explicit-bucket points carry per-bucket (not cumulative) counts
and ``len(bounds) + 1`` buckets, the last one up to ``+Inf``;
``cumulative_buckets`` turns them into Prometheus's ``le`` form. Quantiles are
scale-invariant, so the raw deltas of a window give the same answer as
Prometheus's per-second rates of the same buckets.

``native_histogram_quantile`` and ``native_histogram_fraction`` do the same
for OpenTelemetry exponential histograms, which Prometheus stores as native
histograms, following ``HistogramQuantile`` and ``HistogramFraction`` in
``promql/quantile.go`` (Prometheus v3.15): inside a bucket they interpolate
exponentially (linearly on a log2 scale), linearly in the zero bucket.

>>> histogram_quantile(0.5, bounds=[0.1, 0.5], bucket_counts=[10, 20, 10])
0.3
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence

from aiops.slo.exponential_histogram import (
    ExponentialHistogram,
    ascending_buckets,
    descending_buckets,
)

__all__ = [
    "NotABucketBound",
    "bucket_quantile",
    "count_at_or_below",
    "cumulative_buckets",
    "fraction_at_or_below",
    "histogram_quantile",
    "native_count_at_or_below",
    "native_fraction_at_or_below",
    "native_histogram_fraction",
    "native_histogram_quantile",
    "nearest_bounds",
]

_PRECISION_TOLERANCE = 1e-12
"""Relative difference under which neighbouring cumulative counts are taken as equal (quantile.go)."""


class NotABucketBound(ValueError):
    """A latency threshold that is not one of the histogram's bucket bounds.

    A count of requests at or below a threshold is exact only at a bucket
    bound; between bounds it would be a guess. The message names the nearest
    bounds so the threshold can be moved to one of them.

    >>> str(NotABucketBound(0.3, [0.1, 0.25, 0.5]))
    '0.3 is not a bucket bound; the nearest bounds are 0.25 and 0.5'
    >>> str(NotABucketBound(20, [0.1, 10], of="http.server.request.duration"))
    '20 is not a bucket bound of http.server.request.duration; the highest bound is 10'
    """

    def __init__(self, threshold: float, bounds: Sequence[float], of: str = ""):
        self.threshold = threshold
        self.nearest = nearest_bounds(threshold, bounds)
        below, above = self.nearest
        if below is not None and above is not None:
            nearest = f"the nearest bounds are {_num(below)} and {_num(above)}"
        elif below is not None:
            nearest = f"the highest bound is {_num(below)}"
        elif above is not None:
            nearest = f"the lowest bound is {_num(above)}"
        else:
            nearest = "the histogram has no bounds"
        histogram = f" of {of}" if of else ""
        super().__init__(f"{_num(threshold)} is not a bucket bound{histogram}; {nearest}")


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The ``q``-quantile of ``(upper_bound, cumulative_count)`` buckets, as ``histogram_quantile``.

    ``buckets`` are Prometheus ``le`` buckets in any order and must include
    ``+Inf`` (whose count is the number of observations). Where it fails,
    it fails like Prometheus: NaN for no observations, a missing ``+Inf``
    bucket or a single bucket; the second-highest bound when the rank falls
    into the ``+Inf`` bucket (the real value is unknown, only bounded below).

    >>> inf = float("inf")
    >>> bucket_quantile(0.5, [(0.1, 10), (0.5, 30), (inf, 40)])   # 0.1 + 0.4 * 10/20
    0.3
    >>> bucket_quantile(0.95, [(0.1, 10), (0.5, 30), (inf, 40)])  # rank 38 is in +Inf
    0.5
    >>> bucket_quantile(0.5, [(0.1, 10), (0.5, 30)])              # no +Inf bucket
    nan
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(((float(ub), float(c)) for ub, c in buckets), key=lambda b: b[0])
    if not ordered or not (math.isinf(ordered[-1][0]) and ordered[-1][0] > 0):
        return math.nan
    merged = _coalesce(ordered)
    _correct_precision_errors(merged, _PRECISION_TOLERANCE)
    _ensure_monotonic(merged)
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # sort.Search over all but the +Inf bucket: first index whose count >= rank, else len - 1.
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end, count = merged[b]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * _ieee_div(rank, count)


def cumulative_buckets(
    bounds: Sequence[float], bucket_counts: Sequence[float]
) -> list[tuple[float, float]]:
    """OpenTelemetry per-bucket counts as Prometheus ``(le, cumulative count)`` pairs, ``+Inf`` last.

    >>> cumulative_buckets([0.1, 0.5], [10, 20, 10])
    [(0.1, 10.0), (0.5, 30.0), (inf, 40.0)]
    """
    if len(bucket_counts) != len(bounds) + 1:
        raise ValueError(
            f"{len(bounds)} bounds need {len(bounds) + 1} bucket counts, not {len(bucket_counts)}"
        )
    running = 0.0
    out = []
    for bound, count in zip([*bounds, math.inf], bucket_counts, strict=True):
        running += count
        out.append((float(bound), running))
    return out


def histogram_quantile(q: float, bounds: Sequence[float], bucket_counts: Sequence[float]) -> float:
    """The ``q``-quantile of an OpenTelemetry histogram (or a window's sum of its deltas).

    >>> bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
    >>> counts = [0, 0, 0, 50, 30, 15, 4, 1, 0, 0, 0, 0, 0, 0, 0]
    >>> histogram_quantile(0.95, bounds, counts)   # rank 95 is the 0.1 bucket's last
    0.1
    >>> histogram_quantile(0.99, bounds, counts)   # 0.1 + 0.15 * 4/4
    0.25
    >>> histogram_quantile(0.5, bounds, [0] * 15)  # no requests in the window
    nan
    """
    return bucket_quantile(q, cumulative_buckets(bounds, bucket_counts))


def count_at_or_below(
    threshold: float, bounds: Sequence[float], bucket_counts: Sequence[float]
) -> float:
    """Observations ``<= threshold``: the cumulative count of the bucket whose bound is ``threshold``.

    This is what ``x_bucket{le="<threshold>"}`` counts in Prometheus, and the
    good events of a latency SLI. Raises ``NotABucketBound`` when
    ``threshold`` is not one of ``bounds``.

    >>> count_at_or_below(0.25, [0.1, 0.25, 0.5], [10, 20, 5, 1])
    30.0
    >>> count_at_or_below(0.3, [0.1, 0.25, 0.5], [10, 20, 5, 1])
    Traceback (most recent call last):
    ...
    aiops.slo.quantile.NotABucketBound: 0.3 is not a bucket bound; the nearest bounds are 0.25 and 0.5
    """
    index = _bound_index(threshold, bounds)
    if len(bucket_counts) != len(bounds) + 1:
        raise ValueError(
            f"{len(bounds)} bounds need {len(bounds) + 1} bucket counts, not {len(bucket_counts)}"
        )
    return float(sum(bucket_counts[: index + 1]))


def fraction_at_or_below(
    threshold: float, bounds: Sequence[float], bucket_counts: Sequence[float]
) -> float:
    """The fraction of observations ``<= threshold`` (a latency SLI's good ratio); NaN with none.

    >>> fraction_at_or_below(0.25, [0.1, 0.25, 0.5], [10, 20, 5, 5])
    0.75
    >>> fraction_at_or_below(0.25, [0.1, 0.25, 0.5], [0, 0, 0, 0])
    nan
    """
    good = count_at_or_below(threshold, bounds, bucket_counts)
    return _ieee_div(good, float(sum(bucket_counts)))


def native_histogram_quantile(q: float, h: ExponentialHistogram) -> float:
    """The ``q``-quantile of an exponential histogram, as ``histogram_quantile`` on a native histogram.

    Steps of ``HistogramQuantile`` (``promql/quantile.go``):

    1. ``q < 0`` gives -Inf, ``q > 1`` +Inf; no observations or ``q`` NaN give NaN.
    2. For ``q < 0.5`` (or a NaN ``sum``, the mark of NaN observations) the
       buckets are walked upwards to rank ``q * count``; otherwise downwards
       to rank ``(1 - q) * count``. Empty buckets are skipped.
    3. In the zero bucket the lower bound is 0 when there are only positive
       buckets (the upper bound 0 when only negative ones) and the quantile
       is interpolated linearly; in any other bucket exponentially, so the
       middle of ``(1, 2]`` is ``sqrt(2)``.
    4. A rank beyond every bucket (NaN observations) gives NaN.
    5. With a NaN ``sum`` the rank found in step 2 is interpolated in the
       histogram's last bucket instead, as Prometheus v3.15.1 does (its check
       for NaN observations moves the bucket it interpolates in; a quirk, kept
       so that the two agree).

    >>> h = ExponentialHistogram(scale=0, count=4, sum=5, positive_offset=-1, positive=[1, 2, 1])
    >>> native_histogram_quantile(0.5, h)     # the middle of (1, 2]
    1.4142135623730951
    >>> native_histogram_quantile(0.9, h)     # rank 0.4 from the top: 60% into (2, 4]
    3.0314331330207964
    >>> native_histogram_quantile(0.5, ExponentialHistogram(scale=0, count=0))
    nan
    """
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if h.count == 0 or math.isnan(q):
        return math.nan
    upwards = math.isnan(h.sum) or q < 0.5
    if upwards:
        buckets, rank = ascending_buckets(h), q * h.count
    else:
        buckets, rank = descending_buckets(h), (1 - q) * h.count
    lower = upper = in_bucket = count = 0.0
    for lower, upper, in_bucket in buckets:
        if in_bucket == 0:
            continue
        count += in_bucket
        if count >= rank:
            break
    if lower < 0 < upper:
        if not h.negative and h.positive:
            lower = 0.0
        elif not h.positive and h.negative:
            upper = 0.0
    count = min(count, h.count)
    if count < rank:
        return math.nan if math.isnan(h.sum) else upper
    rank = rank - (count - in_bucket) if upwards else count - rank
    if math.isnan(h.sum):
        # Prometheus walks on to the last bucket to detect NaN observations and reuses its
        # bucket variable for that (quantile.go:323-328), so it interpolates there.
        last = deque(buckets, maxlen=1)
        if last:
            lower, upper, in_bucket = last[0]
    fraction = _ieee_div(rank, in_bucket)
    if lower <= 0 <= upper:
        return lower + (upper - lower) * fraction
    log_lower, log_upper = _log2(abs(lower)), _log2(abs(upper))
    if lower > 0:
        return _exp2(log_lower + (log_upper - log_lower) * fraction)
    return -_exp2(log_upper + (log_lower - log_upper) * (1 - fraction))


def native_histogram_fraction(lower: float, upper: float, h: ExponentialHistogram) -> float:
    """The fraction of observations in ``(lower, upper]``, as ``histogram_fraction`` on a native histogram.

    ``HistogramFraction`` (``promql/quantile.go``) walks the buckets upwards;
    a bound inside a bucket takes the part of its count below the bound,
    interpolated exponentially (linearly in the zero bucket, whose lower bound
    is 0 when there are only positive buckets). NaN observations are in
    ``count`` but in no bucket, so they are in no fraction either. NaN when
    there are no observations or a bound is NaN, 0 when ``lower >= upper``.

    >>> h = ExponentialHistogram(scale=0, count=4, sum=5, positive_offset=-1, positive=[1, 2, 1])
    >>> native_histogram_fraction(1, 2, h)
    0.5
    >>> native_histogram_fraction(-math.inf, math.sqrt(2), h)   # 1 + half of 2, of 4
    0.5
    """
    if h.count == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    count = rank = lower_rank = upper_rank = 0.0
    lower_set = upper_set = False
    buckets = ascending_buckets(h)
    for b_lower, b_upper, in_bucket in buckets:
        count += in_bucket
        zero_bucket = b_lower <= 0 <= b_upper
        if zero_bucket:
            if not h.negative and h.positive:
                b_lower = 0.0
            elif not h.positive and h.negative:
                b_upper = 0.0
        if not lower_set and b_lower >= lower:
            lower_rank, lower_set = rank, True
        if not upper_set and b_lower >= upper:
            upper_rank, upper_set = rank, True
        if lower_set and upper_set:
            break
        if not lower_set and b_lower < lower < b_upper:
            lower_rank = rank + in_bucket * _fraction_below(lower, b_lower, b_upper, zero_bucket)
            lower_set = True
        if not upper_set and b_lower < upper < b_upper:
            upper_rank = rank + in_bucket * _fraction_below(upper, b_lower, b_upper, zero_bucket)
            upper_set = True
        if lower_set and upper_set:
            break
        rank += in_bucket
    if math.isnan(h.sum):
        count += sum(in_bucket for _, _, in_bucket in buckets)
    else:
        count = h.count
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / h.count


def native_fraction_at_or_below(threshold: float, h: ExponentialHistogram) -> float:
    """The fraction of observations ``<= threshold``: ``histogram_fraction(-Inf, threshold, h)``.

    A latency SLI's good ratio on an exponential histogram. Unlike
    ``fraction_at_or_below`` on classic buckets, the threshold need not be a
    bucket bound: inside a bucket the count is interpolated as Prometheus does.

    >>> h = ExponentialHistogram(scale=0, count=4, sum=5, positive_offset=-1, positive=[1, 2, 1])
    >>> native_fraction_at_or_below(2, h)   # 1 + 2 of 4
    0.75
    >>> native_fraction_at_or_below(3, h)   # 3 + log2(3 / 2) of (2, 4]'s 1, of 4
    0.89624
    """
    return native_histogram_fraction(-math.inf, threshold, h)


def native_count_at_or_below(threshold: float, h: ExponentialHistogram) -> float:
    """Observations ``<= threshold`` (a latency SLI's good events): the fraction times ``count``.

    What ``histogram_fraction(-Inf, t, x) * histogram_count(x)`` gives in
    Prometheus; 0 for an empty histogram rather than NaN, since no events
    is a count.

    >>> h = ExponentialHistogram(scale=0, count=4, sum=5, positive_offset=-1, positive=[1, 2, 1])
    >>> native_count_at_or_below(1.5, h)
    2.169925001442312
    >>> native_count_at_or_below(1.5, ExponentialHistogram(scale=0, count=0))
    0.0
    """
    if h.count == 0:
        return 0.0
    return native_fraction_at_or_below(threshold, h) * h.count


def nearest_bounds(value: float, bounds: Sequence[float]) -> tuple[float | None, float | None]:
    """The highest bound below ``value`` and the lowest above it (None where there is none).

    >>> nearest_bounds(0.3, [0.1, 0.25, 0.5])
    (0.25, 0.5)
    >>> nearest_bounds(20, [0.1, 10])
    (10, None)
    """
    ordered = sorted(bounds)
    i = bisect_left(ordered, value)
    below = ordered[i - 1] if i > 0 else None
    j = i + 1 if i < len(ordered) and ordered[i] == value else i
    above = ordered[j] if j < len(ordered) else None
    return below, above


def _bound_index(threshold: float, bounds: Sequence[float]) -> int:
    for i, bound in enumerate(bounds):
        if bound == threshold or math.isclose(bound, threshold, rel_tol=1e-12, abs_tol=0.0):
            return i
    raise NotABucketBound(threshold, bounds)


def _coalesce(buckets: list[tuple[float, float]]) -> list[list[float]]:
    """Merge sorted buckets with the same upper bound, adding their counts."""
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    return merged


def _correct_precision_errors(buckets: list[list[float]], tolerance: float) -> None:
    """Snap a count to the previous one when they differ by at most ``tolerance`` relative."""
    prev = buckets[0][1]
    for bucket in buckets[1:]:
        curr = bucket[1]
        delta = abs(curr - prev)
        if delta == 0:
            continue
        if _ieee_div(delta, curr) <= tolerance:
            bucket[1] = prev
        else:
            prev = curr


def _ensure_monotonic(buckets: list[list[float]]) -> None:
    """Carry the running maximum forward so cumulative counts never decrease."""
    running = buckets[0][1]
    for bucket in buckets[1:]:
        if bucket[1] > running:
            running = bucket[1]
        elif bucket[1] < running:
            bucket[1] = running


def _fraction_below(v: float, lower: float, upper: float, linear: bool) -> float:
    """How far ``v`` is into ``(lower, upper)``: linearly, or on a log2 scale (``Bucket.FractionBelow``)."""
    if linear:
        return (v - lower) / (upper - lower)
    log_lower, log_upper, log_v = _log2(abs(lower)), _log2(abs(upper)), _log2(abs(v))
    if v > 0:
        return (log_v - log_lower) / (log_upper - log_lower)
    return 1 - (log_v - log_upper) / (log_lower - log_upper)


def _log2(x: float) -> float:
    """``math.log2`` with Go's ``log2(0) = -Inf``."""
    return math.log2(x) if x > 0 else -math.inf


def _exp2(x: float) -> float:
    """``2 ** x`` with Go's +Inf on overflow."""
    try:
        return math.exp2(x)
    except OverflowError:
        return math.inf


def _ieee_div(a: float, b: float) -> float:
    """Division as Go's float64 does it: x/0 is ±Inf, 0/0 is NaN."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _num(x: float) -> str:
    return f"{x:g}"
