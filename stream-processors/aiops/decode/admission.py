"""Which readable points may reach the delta state: a window of event time around now, and a size per point.

A point far in the future would become its stream's "previous point" and
make every later point stale (``time_unix_nano = 2**64 - 1`` did, before
``decode_columns`` refused times beyond int64), and it would push the
event-time clocks downstream; a point from long ago is no reading of the
present; a point whose labels alone exceed the record size limit cannot be
sent. ``admit`` refuses these per point, in columns, before any state sees
them. The limits are settings (``AIOPS_DECODE_MAX_FUTURE_S``,
``AIOPS_DECODE_MAX_PAST_S``, ``AIOPS_MAX_RECORD_BYTES``) and ``now`` the
caller's clock, so the function stays pure.

>>> from aiops.bench.synthetic import START, synthetic_exports
>>> from aiops.decode.columnar import decode_columns
>>> (payload,), = synthetic_exports(resources=1, series=8, exports=1)
>>> (batch,) = decode_columns(payload).batches
>>> kept, problems = admit(batch, Limits(START, max_future_s=300, max_past_s=3600))
>>> len(kept), problems
(8, [])
>>> kept, problems = admit(batch, Limits(START - 10**12, max_future_s=300, max_past_s=3600))
>>> len(kept), {p.code for p in problems}
(0, {'future'})
>>> kept, problems = admit(batch, Limits(START, 300, 3600, max_record_bytes=1_500))
>>> len(kept), {p.code for p in problems}
(6, {'too_large'})
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiops.decode.columnar import ResourceBatch
from aiops.decode.otlp import PointProblem

__all__ = ["Limits", "admit", "point_bytes"]

_POINT_BYTES = 512
"""JSON a point adds to a record besides its labels, bounds and buckets: ten numbers and the keys."""
_BOUND_BYTES = 25
"""Most bytes one bound (a double's shortest repr and a comma) or one bucket count (int64, comma) takes."""


@dataclass(frozen=True)
class Limits:
    """What a point must fit in: event times from ``max_past_s`` before ``now_unix_nano`` (0: no lower
    bound) to ``max_future_s`` after it, and a record of at most ``max_record_bytes`` (None: no size limit)."""

    now_unix_nano: int
    max_future_s: float
    max_past_s: float
    max_record_bytes: int | None = None

    @property
    def window(self) -> tuple[int, int]:
        """The first and last accepted ``time_unix_nano``.

        >>> Limits(10**12, max_future_s=1, max_past_s=2).window
        (998000000000, 1001000000000)
        >>> Limits(10**12, max_future_s=1, max_past_s=0).window[0]
        0
        """
        return (
            self.now_unix_nano - int(self.max_past_s * 1e9) if self.max_past_s else 0,
            self.now_unix_nano + int(self.max_future_s * 1e9),
        )


def point_bytes(batch: ResourceBatch) -> np.ndarray:
    """An upper bound of each row's record if it were alone: labels, resource, bounds, buckets and numbers."""
    hints = np.array([batch.labels[sid].size_hint for sid in batch.series_id.tolist()])
    bounds = np.array([len(b) for b in batch.bounds] + [0])[batch.bounds_index]
    buckets = np.diff(batch.bucket_offsets)
    return hints + (bounds + buckets) * _BOUND_BYTES + _POINT_BYTES


def admit(batch: ResourceBatch, limits: Limits) -> tuple[ResourceBatch, list[PointProblem]]:
    """The rows of ``batch`` inside the limits, and a problem for each other row.

    Codes ``future``, ``too_old`` and ``too_large``. The usual batch costs two
    reductions and a look at its largest series; it is returned as is.
    """
    first, last = limits.window
    times = batch.time_unix_nano
    large = _too_large(batch, limits.max_record_bytes)
    if not len(batch) or (first <= times.min() and times.max() <= last and not large.any()):
        return batch, []
    future, old = times > last, times < first
    old &= ~future
    large &= ~(future | old)
    problems = (
        batch.reject(
            future,
            "future",
            f"data point time is more than {limits.max_future_s:g} s ahead of now",
        )
        + batch.reject(old, "too_old", f"data point time is more than {limits.max_past_s:g} s ago")
        + batch.reject(
            large, "too_large", f"its record would exceed {limits.max_record_bytes} bytes"
        )
    )
    return batch.select(~(future | old | large)), problems


def _too_large(batch: ResourceBatch, max_bytes: int | None) -> np.ndarray:
    none = np.zeros(len(batch), dtype=bool)
    if max_bytes is None or not len(batch):
        return none
    widest = max((len(b) for b in batch.bounds), default=0)
    most_buckets = widest + 1
    if batch.exponential is not None:  # buckets without bounds, as many as the producer likes
        most_buckets = max(most_buckets, int(np.diff(batch.bucket_offsets).max()))
    bound = (
        max(labels.size_hint for labels in batch.labels.values())
        + (widest + most_buckets) * _BOUND_BYTES
        + _POINT_BYTES
    )
    if bound <= max_bytes:
        return none
    return point_bytes(batch) > max_bytes
