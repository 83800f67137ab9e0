"""OpenTelemetry exponential histograms, laid out as Prometheus reads them as native histograms.

An OTel ``ExponentialHistogramDataPoint`` has a ``scale``; its base is
``2 ** 2 ** -scale`` and bucket ``index`` covers ``(base ** index, base ** (index + 1)]``
(negative buckets mirror that below zero). The counts are dense from an
``offset``. Prometheus calls the scale its *schema* and numbers the same
bucket ``index + 1``: its bucket ``i`` is ``(base ** (i - 1), base ** i]``
(``storage/remote/otlptranslator/prometheusremotewrite/histograms.go``,
``convertBucketsLayout``). Everything here uses the OTel numbering.

``downscale`` merges buckets to a coarser scale the way the OTel data model
describes (index ``>>`` the scale difference), which is also Prometheus's
``targetIdx`` (``model/histogram/float_histogram.go``). ``as_prometheus_ingests``
applies what Prometheus's OTLP receiver does to a point before storing it.

>>> h = ExponentialHistogram(scale=0, count=4, sum=5, positive_offset=-1, positive=(1, 2, 1))
>>> [(lower, upper, count) for lower, upper, count in ascending_buckets(h)]
[(0.5, 1.0, 1.0), (1.0, 2.0, 2.0), (2.0, 4.0, 1.0)]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "PROMETHEUS_MAX_SCALE",
    "PROMETHEUS_MIN_SCALE",
    "PROMETHEUS_ZERO_THRESHOLD",
    "ExponentialHistogram",
    "as_prometheus_ingests",
    "ascending_buckets",
    "at_common_scale",
    "base_power",
    "descending_buckets",
    "downscale",
    "merge_buckets",
    "sum_histograms",
]

PROMETHEUS_MIN_SCALE = -4
"""Prometheus rejects coarser points (``histogram.ExponentialSchemaMin``)."""
PROMETHEUS_MAX_SCALE = 8
"""Prometheus merges finer points down to this scale (``histogram.ExponentialSchemaMax``)."""
PROMETHEUS_ZERO_THRESHOLD = 1e-128
"""The zero threshold Prometheus's OTLP receiver stores, whatever the point says (``defaultZeroThreshold``)."""

Bucket = tuple[float, float, float]
"""``(lower, upper, count)`` of one bucket."""


@dataclass(frozen=True)
class ExponentialHistogram:
    """One exponential histogram: an OTel point, a delta of two, or a rate.

    ``positive[k]`` counts observations in OTel bucket ``positive_offset + k``,
    ``(base ** (positive_offset + k), base ** (positive_offset + k + 1)]``;
    ``negative[k]`` counts the mirror image below zero; ``zero_count``
    counts ``[-zero_threshold, zero_threshold]``. ``count`` is every
    observation, NaNs included (OTel counts them, no bucket does, and ``sum``
    is then NaN, which is how Prometheus recognises them). Counts are floats
    because deltas and rates are.

    >>> h = ExponentialHistogram(scale=1, count=3, positive=[1, 2])
    >>> h.positive, h.base
    ((1.0, 2.0), 1.4142135623730951)
    """

    scale: int
    count: float
    sum: float = 0.0
    zero_count: float = 0.0
    zero_threshold: float = 0.0
    positive_offset: int = 0
    positive: Sequence[float] = field(default=())
    negative_offset: int = 0
    negative: Sequence[float] = field(default=())
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        for name in ("count", "sum", "zero_count", "zero_threshold"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "positive", tuple(float(c) for c in self.positive))
        object.__setattr__(self, "negative", tuple(float(c) for c in self.negative))

    @property
    def base(self) -> float:
        """``2 ** 2 ** -scale``: the ratio of a bucket's upper bound to its lower bound."""
        return 2.0**2.0**-self.scale


def base_power(exponent: int, scale: int) -> float:
    """``base ** exponent`` at ``scale``: the lower bound of OTel bucket ``exponent``.

    Computed as Prometheus's ``getBoundExponential`` does (``model/histogram/generic.go``):
    an exact power of two for scale <= 0, else ``frac * 2 ** exp`` with
    ``frac`` in ``[0.5, 1)``, and ``math.MaxFloat64`` as the bound that would
    overflow, so the last finite bucket ends there. For scales 1 to 8
    Prometheus reads ``frac`` from a precomputed table whose entries differ
    from the correctly rounded powers computed here by at most 4 ulp (a
    relative 5e-16), which no quantile or fraction can show.

    >>> base_power(3, 0), base_power(-1, 1), base_power(1, -2)
    (8.0, 0.7071067811865476, 16.0)
    >>> base_power(1024, 0) == sys.float_info.max, base_power(1025, 0)
    (True, inf)
    """
    if scale <= 0:
        exp = exponent << -scale
        if exp == 1024:
            return sys.float_info.max
        return _ldexp(1.0, exp)
    frac = 2.0 ** ((exponent & ((1 << scale) - 1)) / (1 << scale) - 1)
    exp = (exponent >> scale) + 1
    if frac == 0.5 and exp == 1025:
        return sys.float_info.max
    return _ldexp(frac, exp)


def ascending_buckets(h: ExponentialHistogram) -> Iterator[Bucket]:
    """Every bucket from the lowest to the highest, as Prometheus's ``AllBucketIterator``.

    Negative buckets first, then the zero bucket if it counted anything,
    then the positive buckets. A bucket reaching into the zero bucket is cut
    at the zero threshold. Empty buckets are yielded too.

    >>> h = ExponentialHistogram(scale=0, count=7, zero_count=1, zero_threshold=0.3,
    ...                          positive_offset=-2, positive=[1, 2], negative=[3])
    >>> list(ascending_buckets(h))           # (0.25, 0.5] is cut to (0.3, 0.5]
    [(-2.0, -1.0, 3.0), (-0.3, 0.3, 1.0), (0.3, 0.5, 1.0), (0.5, 1.0, 2.0)]
    """
    zt = h.zero_threshold
    for k in reversed(range(len(h.negative))):
        yield _negative_bucket(h, k)
    if h.zero_count > 0:
        yield (-zt, zt, h.zero_count)
    for k in range(len(h.positive)):
        yield _positive_bucket(h, k)


def descending_buckets(h: ExponentialHistogram) -> Iterator[Bucket]:
    """Every bucket from the highest to the lowest, as Prometheus's ``AllReverseBucketIterator``.

    >>> h = ExponentialHistogram(scale=0, count=3, positive=[1, 2], negative=[3])
    >>> list(descending_buckets(h))
    [(2.0, 4.0, 2.0), (1.0, 2.0, 1.0), (-2.0, -1.0, 3.0)]
    """
    for k in reversed(range(len(h.positive))):
        yield _positive_bucket(h, k)
    if h.zero_count > 0:
        yield (-h.zero_threshold, h.zero_threshold, h.zero_count)
    for k in range(len(h.negative)):
        yield _negative_bucket(h, k)


def downscale(h: ExponentialHistogram, scale: int) -> ExponentialHistogram:
    """``h`` at the coarser ``scale``: bucket ``i`` is merged into bucket ``i >> (h.scale - scale)``.

    Each bucket at the new scale is the union of ``2 ** (h.scale - scale)``
    old ones, so counts only add up; the zero bucket, count and sum stay.

    >>> h = ExponentialHistogram(scale=1, count=10, positive_offset=-1, positive=[1, 2, 3, 4])
    >>> d = downscale(h, 0)
    >>> d.scale, d.positive_offset, d.positive
    (0, -1, (1.0, 5.0, 4.0))
    >>> downscale(h, 2)
    Traceback (most recent call last):
    ...
    ValueError: cannot downscale from scale 1 to the finer scale 2
    """
    if scale > h.scale:
        raise ValueError(f"cannot downscale from scale {h.scale} to the finer scale {scale}")
    if scale == h.scale:
        return h
    shift = h.scale - scale
    positive_offset, positive = merge_buckets(h.positive_offset, h.positive, shift)
    negative_offset, negative = merge_buckets(h.negative_offset, h.negative, shift)
    return replace(
        h,
        scale=scale,
        positive_offset=positive_offset,
        positive=positive,
        negative_offset=negative_offset,
        negative=negative,
    )


def at_common_scale(*histograms: ExponentialHistogram) -> tuple[ExponentialHistogram, ...]:
    """The histograms merged down to the coarsest scale among them, so their buckets line up.

    Two points of one series differ in scale when the SDK had to widen its
    buckets in between; their difference is only defined at the coarser one.

    >>> a = ExponentialHistogram(scale=2, count=1, positive_offset=4, positive=[1])
    >>> b = ExponentialHistogram(scale=1, count=3, positive_offset=2, positive=[3])
    >>> [(h.scale, h.positive_offset, h.positive) for h in at_common_scale(a, b)]
    [(1, 2, (1.0,)), (1, 2, (3.0,))]
    """
    scale = min(h.scale for h in histograms)
    return tuple(downscale(h, scale) for h in histograms)


def sum_histograms(*histograms: ExponentialHistogram) -> ExponentialHistogram:
    """The histograms added up at their coarsest scale, as Prometheus's ``sum`` adds native histograms.

    ``min`` and ``max`` are those of all of them (None if any lacks one); the
    zero threshold is the widest.

    >>> a = ExponentialHistogram(scale=1, count=3, sum=3, positive_offset=2, positive=[1, 2])
    >>> b = ExponentialHistogram(scale=0, count=2, sum=1, zero_count=1, positive_offset=2, positive=[1])
    >>> s = sum_histograms(a, b)
    >>> s.scale, s.count, s.zero_count, s.positive_offset, s.positive
    (0, 5.0, 1.0, 1, (3.0, 1.0))
    """
    merged = at_common_scale(*histograms)
    positive_offset, positive = _add_dense([(h.positive_offset, h.positive) for h in merged])
    negative_offset, negative = _add_dense([(h.negative_offset, h.negative) for h in merged])
    lows, highs = [h.min for h in merged], [h.max for h in merged]
    return ExponentialHistogram(
        scale=merged[0].scale,
        count=sum(h.count for h in merged),
        sum=sum(h.sum for h in merged),
        zero_count=sum(h.zero_count for h in merged),
        zero_threshold=max(h.zero_threshold for h in merged),
        positive_offset=positive_offset,
        positive=positive,
        negative_offset=negative_offset,
        negative=negative,
        min=None if None in lows else min(lows),
        max=None if None in highs else max(highs),
    )


def _add_dense(parts: list[tuple[int, Sequence[float]]]) -> tuple[int, tuple[float, ...]]:
    filled = [(offset, counts) for offset, counts in parts if counts]
    if not filled:
        return (parts[0][0] if parts else 0), ()
    low = min(offset for offset, _ in filled)
    out = [0.0] * (max(offset + len(counts) for offset, counts in filled) - low)
    for offset, counts in filled:
        for k, count in enumerate(counts):
            out[offset - low + k] += count
    return low, tuple(out)


def as_prometheus_ingests(h: ExponentialHistogram) -> ExponentialHistogram:
    """``h`` as Prometheus stores it after receiving it over OTLP.

    ``exponentialToNativeHistogram`` (``histograms.go`` in
    ``storage/remote/otlptranslator/prometheusremotewrite``) rejects scales
    below -4, merges scales above 8 down to 8, and stores a zero threshold of
    1e-128 instead of the point's. Quantiles and fractions of the result are
    the ones Prometheus answers for the same data.

    >>> h = ExponentialHistogram(scale=10, count=1, zero_threshold=0.001, positive_offset=4, positive=[1])
    >>> p = as_prometheus_ingests(h)
    >>> p.scale, p.positive_offset, p.zero_threshold
    (8, 1, 1e-128)
    >>> as_prometheus_ingests(ExponentialHistogram(scale=-5, count=0))
    Traceback (most recent call last):
    ...
    ValueError: Prometheus rejects exponential histograms with scale -5 < -4
    """
    if h.scale < PROMETHEUS_MIN_SCALE:
        raise ValueError(
            f"Prometheus rejects exponential histograms with scale {h.scale} < {PROMETHEUS_MIN_SCALE}"
        )
    merged = downscale(h, min(h.scale, PROMETHEUS_MAX_SCALE))
    return replace(merged, zero_threshold=PROMETHEUS_ZERO_THRESHOLD)


def _positive_bucket(h: ExponentialHistogram, k: int) -> Bucket:
    index = h.positive_offset + k
    lower, upper = base_power(index, h.scale), base_power(index + 1, h.scale)
    if 0 < lower < h.zero_threshold:
        lower = h.zero_threshold
    return (lower, upper, h.positive[k])


def _negative_bucket(h: ExponentialHistogram, k: int) -> Bucket:
    index = h.negative_offset + k
    lower, upper = -base_power(index + 1, h.scale), -base_power(index, h.scale)
    if -h.zero_threshold < upper < 0:
        upper = -h.zero_threshold
    return (lower, upper, h.negative[k])


def merge_buckets(offset: int, counts: Sequence, shift: int) -> tuple[int, tuple]:
    """Dense bucket counts from ``offset`` merged ``shift`` scales down: bucket ``i`` goes to ``i >> shift``.

    The new offset and counts; integer counts stay integers (a cumulative
    point's), float counts floats.

    >>> merge_buckets(-3, [1, 2, 3, 4], 1)
    (-2, (1, 5, 4))
    >>> merge_buckets(5, [], 2)
    (1, ())
    """
    start = offset >> shift
    if not counts:
        return start, ()
    merged = [0] * (((offset + len(counts) - 1) >> shift) - start + 1)
    for k, count in enumerate(counts):
        merged[((offset + k) >> shift) - start] += count
    return start, tuple(merged)


def _ldexp(frac: float, exp: int) -> float:
    """``frac * 2 ** exp`` as Go's ``math.Ldexp``: +Inf on overflow instead of an exception."""
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.inf
