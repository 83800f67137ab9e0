"""Two cumulative exponential histogram points of one stream to the delta between them.

An OTel SDK may lower a stream's scale between exports (it widens its
buckets when the values spread out); the OpenTelemetry data model then
compares the points at the coarser scale, every bucket ``i`` of the finer
one merged into bucket ``i >> (difference)`` (``merge_buckets``). The delta
is taken there, bucket by bucket over both points' index ranges.

A point is ``(scale, count, zero_count, zero_threshold, positive_offset,
positive, negative_offset, negative)`` with dense integer counts; the delta
is None when it is a reset instead: a lower count, zero count or bucket, or
another zero threshold (the zero bucket then covers other values).

>>> before = (1, 10, 1, 0.0, 0, (4, 5), 0, ())
>>> now = (0, 16, 1, 0.0, 0, (12, 3), 0, ())   # scale 1 buckets 0, 1 merge into scale 0 bucket 0
>>> exponential_delta(now, before)
(0, 6, 0, 0, (3, 3), 0, ())
>>> exponential_delta((0, 10, 1, 0.0, 0, (8,), 0, ()), before) is None   # 8 < 4 + 5 in bucket 0
True
"""

from __future__ import annotations

from collections.abc import Sequence

from aiops.slo.exponential_histogram import merge_buckets

__all__ = ["ExponentialPoint", "bucket_delta", "exponential_delta"]

ExponentialPoint = tuple[int, int, int, float, int, Sequence[int], int, Sequence[int]]
"""``(scale, count, zero_count, zero_threshold, positive_offset, positive, negative_offset, negative)``."""


def bucket_delta(
    now: tuple[int, int, Sequence[int]], before: tuple[int, int, Sequence[int]]
) -> tuple[int, int, tuple[int, ...]] | None:
    """``(scale, offset, counts)`` of ``now - before``, at the coarser scale; None if a bucket went down.

    >>> bucket_delta((0, 2, [5, 1]), (0, 1, [0, 3]))
    (0, 1, (0, 2, 1))
    >>> bucket_delta((0, 2, [5]), (0, 2, [6])) is None
    True
    """
    scale = min(now[0], before[0])
    offset_now, counts_now = merge_buckets(now[1], now[2], now[0] - scale)
    offset_before, counts_before = merge_buckets(before[1], before[2], before[0] - scale)
    if not counts_before:
        return scale, offset_now, counts_now
    if not counts_now:
        return None if any(counts_before) else (scale, offset_now, ())
    low = min(offset_now, offset_before)
    out = [0] * (max(offset_now + len(counts_now), offset_before + len(counts_before)) - low)
    for k, count in enumerate(counts_now):
        out[offset_now - low + k] = count
    for k, count in enumerate(counts_before):
        out[offset_before - low + k] -= count
    if min(out) < 0:
        return None
    return scale, low, tuple(out)


def exponential_delta(
    now: ExponentialPoint, before: ExponentialPoint
) -> tuple[int, int, int, int, tuple[int, ...], int, tuple[int, ...]] | None:
    """``(scale, count, zero_count, positive_offset, positive, negative_offset, negative)`` of ``now - before``.

    None when ``now`` is a reset (see the module's docstring).
    """
    scale, count, zero_count, zero_threshold, p_offset, positive, n_offset, negative = now
    if count < before[1] or zero_count < before[2] or zero_threshold != before[3]:
        return None
    positive_delta = bucket_delta((scale, p_offset, positive), (before[0], before[4], before[5]))
    negative_delta = bucket_delta((scale, n_offset, negative), (before[0], before[6], before[7]))
    if positive_delta is None or negative_delta is None:
        return None
    return (
        positive_delta[0],
        count - before[1],
        zero_count - before[2],
        positive_delta[1],
        positive_delta[2],
        negative_delta[1],
        negative_delta[2],
    )
