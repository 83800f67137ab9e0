"""Cumulative → delta on a ``ResourceBatch``, with state per series id, resets, replays and TTL expiry.

The same rules as ``aiops.decode.delta.to_delta``, point for point (a test
compares the two on random inputs): a stream's first point with a start time
is a delta since that start, without one a baseline; a start time that moved
forward, a lower value, a lower count or bucket, or new bounds is a reset; a
point not newer than the last is a stale replay and dropped; delta points,
gauges and up-down sums pass through. A stream is a series id within one
instrumentation scope, as in ``to_delta``'s callers; the id hashes the kind,
so a histogram never meets a counter's state (and a state of the other kind,
say from an old checkpoint, is started over). One rule more than
``to_delta``: a histogram sum's difference that is infinite (-1.7e308, then
1.7e308) is refused as a ``PointProblem`` (``problems``, code
``infinite_delta``), and a refused point leaves its stream's state as it was.
Exponential histograms follow the same rules, their buckets differenced by
``aiops.decode.exponential.exponential_delta`` (at the coarser scale when the
scale changed; a lower count, zero count or bucket, or another zero
threshold, is a reset).

Rows that pass through are copied as columns; only cumulative monotonic rows
take a step of Python each (a dict look-up and a compare), so the cost per
point stays small. ``expire`` drops the state of streams whose last point is
older than a TTL and returns how many it dropped, so state lives and dies with
the series (the issue's "decode state expires, counted").

>>> from aiops.bench.synthetic import synthetic_exports
>>> from aiops.decode.columnar import decode_columns
>>> rounds = synthetic_exports(resources=1, series=8, exports=2)
>>> state = DeltaState()
>>> first = state.apply(decode_columns(rounds[0][0]).batches[0])
>>> second = state.apply(decode_columns(rounds[1][0]).batches[0])
>>> len(first), len(second), dict(second.outcomes)
(8, 8, {'emitted': 8})
>>> state.apply(decode_columns(rounds[1][0]).batches[0]).outcomes["stale"]
4
>>> len(state), state.expire(now_unix_nano=int(second.time_unix_nano.max()) + 60 * 10**9, ttl_s=30)
(4, 4)
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from aiops.decode.columnar import (
    KINDS,
    ExponentialColumns,
    ResourceBatch,
    SeriesLabels,
    keep_buckets,
)
from aiops.decode.exponential import exponential_delta
from aiops.decode.otlp import Attributes, PointProblem

__all__ = ["DeltaState", "PointBatch"]

_HISTOGRAM = KINDS.index("histogram")
_EXPONENTIAL = KINDS.index("exponential_histogram")
_EXPONENTIAL_STATE = 11
"""Length of an exponential histogram's state (see ``DeltaState``)."""


@dataclass
class PointBatch:
    """The points of one resource to publish: deltas (sums, histograms) or current values, in columns.

    The columns of ``ResourceBatch`` without ``cumulative`` and ``start``;
    ``interval_start_unix_nano`` is where each delta begins and ``reset`` marks
    a delta that follows a counter reset. ``outcomes`` tallies what happened
    to each input row (``emitted``, ``reset``, ``baseline``, ``stale``, ``capped``);
    ``problems`` are the rows refused (not counted in ``outcomes``).
    """

    resource: Attributes
    labels: dict[int, SeriesLabels]
    series_id: np.ndarray
    kind: np.ndarray
    monotonic: np.ndarray
    reset: np.ndarray
    interval_start_unix_nano: np.ndarray
    time_unix_nano: np.ndarray
    value: np.ndarray
    count: np.ndarray
    sum: np.ndarray
    bounds_index: np.ndarray
    bounds: list[tuple[float, ...]]
    bucket_offsets: np.ndarray
    bucket_counts: np.ndarray
    outcomes: Counter = field(default_factory=Counter)
    problems: list[PointProblem] = field(default_factory=list)
    exponential: ExponentialColumns | None = None

    def __len__(self) -> int:
        return len(self.series_id)


class DeltaState:
    """Each cumulative stream's last point, keyed by scope and series id; ``expired`` counts TTL drops.

    A state is ``[start, time, value]`` for sums,
    ``[start, time, count, sum, bounds, buckets]`` for histograms and
    ``[start, time, count, sum, scale, zero_count, zero_threshold,
    positive_offset, positive, negative_offset, negative]`` for exponential
    histograms: a few hundred bytes per live stream, none for gauges and
    delta streams.
    At most ``max_streams`` streams are kept (None: no cap): the points of a
    new cumulative stream beyond that are skipped with the outcome
    ``capped`` (counted in ``capped``) until expiry makes room, so a
    cardinality bomb cannot grow the state without bound.

    >>> state = DeltaState(max_streams=0)
    >>> state.max_streams, state.capped
    (0, 0)
    """

    def __init__(self, max_streams: int | None = 1_000_000) -> None:
        self._streams: dict[str, dict[int, list]] = {}
        self.max_streams = max_streams
        self.expired = 0
        self.capped = 0

    def __len__(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def expire(self, now_unix_nano: int, ttl_s: float) -> int:
        """Drop every stream whose last point is older than ``now - ttl_s``; returns how many were dropped.

        Time is event time (the points' ``time_unix_nano``): pass the newest
        time seen, or the wall clock, as ``now_unix_nano``.
        """
        horizon = now_unix_nano - int(ttl_s * 1e9)
        dropped = 0
        for scope, streams in list(self._streams.items()):
            old = [sid for sid, state in streams.items() if state[1] < horizon]
            for sid in old:
                del streams[sid]
            dropped += len(old)
            if not streams:
                del self._streams[scope]
        self.expired += dropped
        return dropped

    def snapshot(self) -> dict:
        """A JSON-able copy of the state (for a checkpoint); ``restore`` reads it back.

        >>> state = DeltaState(); state._streams = {"s": {7: [1, 2, 3.0]}}
        >>> DeltaState.restore(state.snapshot())._streams
        {'s': {7: [1, 2, 3.0]}}
        """
        return {
            "streams": {
                scope: [[sid, *state] for sid, state in streams.items()]
                for scope, streams in self._streams.items()
            },
            "expired": self.expired,
            "capped": self.capped,
        }

    @classmethod
    def restore(cls, snapshot: dict, max_streams: int | None = 1_000_000) -> DeltaState:
        """The state a ``snapshot`` was taken of."""
        state = cls(max_streams)
        state.expired, state.capped = snapshot.get("expired", 0), snapshot.get("capped", 0)
        for scope, rows in snapshot["streams"].items():
            state._streams[scope] = {row[0]: _restored(row[1:]) for row in rows}
        return state

    def apply(self, batch: ResourceBatch) -> PointBatch:
        """Difference the cumulative monotonic rows of ``batch`` against the state; returns what to publish.

        Exponential histogram rows take their own step (``_difference_exponential``)
        after the others: a stream is of one kind, so the order across kinds does not matter.
        """
        n = len(batch)
        keep = np.ones(n, dtype=bool)
        reset = np.zeros(n, dtype=bool)
        interval_start = batch.start_time_unix_nano.copy()
        value = batch.value.copy()
        count = batch.count.copy()
        total = batch.sum.copy()
        buckets = batch.bucket_counts
        outcomes: Counter = Counter()
        problems: list[PointProblem] = []
        differenced = batch.cumulative & batch.monotonic
        exponential, offsets = batch.exponential, batch.bucket_offsets
        exponential_rows = ()
        if exponential is not None:
            is_exponential = batch.kind == _EXPONENTIAL
            exponential_rows = np.flatnonzero(differenced & is_exponential).tolist()
            differenced &= ~is_exponential
        rows = np.flatnonzero(differenced)
        outcomes["emitted"] = n - len(rows) - len(exponential_rows)
        if len(rows):
            buckets = self._difference(
                batch, rows, keep, reset, interval_start, value, count, total, outcomes, problems
            )
        if exponential_rows:
            exponential, offsets, buckets = self._difference_exponential(
                batch,
                exponential_rows,
                buckets,
                keep,
                reset,
                interval_start,
                count,
                total,
                outcomes,
                problems,
            )
        if keep.all():
            new_offsets, new_buckets = offsets, buckets
        else:
            new_offsets, new_buckets = keep_buckets(offsets, buckets, keep)
            if exponential is not None:
                exponential = exponential.select(keep)
        ids = batch.series_id[keep]
        return PointBatch(
            resource=batch.resource,
            labels=batch.labels
            if keep.all()
            else {sid: batch.labels[sid] for sid in dict.fromkeys(ids.tolist())},
            series_id=ids,
            kind=batch.kind[keep],
            monotonic=batch.monotonic[keep],
            reset=reset[keep],
            interval_start_unix_nano=interval_start[keep],
            time_unix_nano=batch.time_unix_nano[keep],
            value=value[keep],
            count=count[keep],
            sum=total[keep],
            bounds_index=batch.bounds_index[keep],
            bounds=batch.bounds,
            bucket_offsets=new_offsets,
            bucket_counts=new_buckets,
            outcomes=Counter({k: v for k, v in outcomes.items() if v}),
            problems=problems,
            exponential=exponential,
        )

    def _difference(
        self, batch, rows, keep, reset, interval_start, value, count, total, outcomes, problems
    ) -> np.ndarray:
        """Step through the cumulative rows in order; returns the bucket counts with histogram deltas."""
        ids = batch.series_id[rows].tolist()
        scopes = batch.scope_index[rows].tolist()
        kinds = batch.kind[rows].tolist()
        starts = batch.start_time_unix_nano[rows].tolist()
        times = batch.time_unix_nano[rows].tolist()
        values = batch.value[rows].tolist()
        counts = batch.count[rows].tolist()
        sums = batch.sum[rows].tolist()
        bounds_index = batch.bounds_index[rows].tolist()
        offsets = batch.bucket_offsets.tolist()
        flat = batch.bucket_counts.tolist()
        out_buckets = None
        lt, sub = operator.lt, operator.sub
        scope_states = [self._streams.setdefault(name, {}) for name in batch.scopes]
        emitted = resets = baselines = stale = capped = 0
        infinite: list[int] = []
        room = len(rows) if self.max_streams is None else self.max_streams - len(self)
        for i, row in enumerate(rows.tolist()):
            states = scope_states[scopes[i]]
            sid, start, time = ids[i], starts[i], times[i]
            previous = states.get(sid)
            histogram = kinds[i] == _HISTOGRAM
            if histogram:
                o, e = offsets[row], offsets[row + 1]
                now_buckets = flat[o:e]
                bounds = batch.bounds[bounds_index[i]]
                state = [start, time, counts[i], sums[i], bounds, now_buckets]
            else:
                state = [start, time, values[i]]
            if previous is not None and len(previous) != len(state):
                previous = (
                    None  # the state of another kind (restored, or an id collision): start over
                )
            if previous is None:
                if room <= 0:
                    keep[row] = False
                    capped += 1
                    continue
                room -= 1
                states[sid] = state
                if start == 0:
                    keep[row] = False
                    baselines += 1
                else:
                    emitted += 1
                continue
            if time <= previous[1]:
                keep[row] = False
                stale += 1
                continue
            if start > previous[0]:
                is_reset = True
            elif histogram:
                is_reset = (
                    bounds != previous[4]
                    or counts[i] < previous[2]
                    or any(map(lt, now_buckets, previous[5]))
                )
            else:
                is_reset = values[i] < previous[2]
            if is_reset:
                states[sid] = state
                reset[row] = True
                interval_start[row] = start or time
                resets += 1
                continue
            if histogram:
                delta = sums[i] - previous[3]
                if delta - delta != 0:  # finite sums, infinite difference (inf - inf is nan)
                    keep[row] = False
                    infinite.append(row)
                    continue
                count[row] = counts[i] - previous[2]
                total[row] = delta
                if out_buckets is None:
                    out_buckets = flat[:]
                out_buckets[o:e] = map(sub, now_buckets, previous[5])
            else:  # both in [0, max float] (negative monotonic sums are refused): finite
                value[row] = values[i] - previous[2]
            states[sid] = state
            interval_start[row] = previous[1]
            emitted += 1
        outcomes["emitted"] += emitted
        outcomes["reset"] += resets
        outcomes["baseline"] += baselines
        outcomes["stale"] += stale
        outcomes["capped"] += capped
        self.capped += capped
        self._settle(batch, infinite, problems)
        if out_buckets is None:
            return batch.bucket_counts
        return np.array(out_buckets, dtype=np.int64)

    def _settle(
        self, batch: ResourceBatch, infinite: list[int], problems: list[PointProblem]
    ) -> None:
        """After a difference pass: refuse the rows whose delta was infinite, forget the scopes left empty."""
        if infinite:
            bad = np.zeros(len(batch), dtype=bool)
            bad[infinite] = True
            problems.extend(
                batch.reject(
                    bad, "infinite_delta", "the difference to the previous point is infinite"
                )
            )
        for name in batch.scopes:
            if not self._streams.get(name, True):
                del self._streams[name]

    def _difference_exponential(
        self,
        batch: ResourceBatch,
        rows: list[int],
        buckets: np.ndarray,
        keep,
        reset,
        interval_start,
        count,
        total,
        outcomes: Counter,
        problems: list[PointProblem],
    ) -> tuple[ExponentialColumns, np.ndarray, np.ndarray]:
        """Step through the cumulative exponential rows: the same rules as ``_difference``, buckets by ``exponential_delta``.

        A delta's buckets may span more or fewer indices than the point's, at
        a coarser scale, so the row's columns and buckets are rewritten. Its
        ``min`` and ``max`` become NaN: a cumulative point's are since its
        start, and the interval's cannot be told from two of them. Returns
        the exponential columns, bucket offsets and bucket counts.
        """
        assert batch.exponential is not None
        columns = {
            name: getattr(batch.exponential, name).copy() for name in ExponentialColumns.COLUMNS
        }
        scales, zero_counts, thresholds = (
            columns["scale"].tolist(),
            columns["zero_count"].tolist(),
            columns["zero_threshold"].tolist(),
        )
        positive_offsets, positive_lengths, negative_offsets = (
            columns["positive_offset"].tolist(),
            columns["positive_length"].tolist(),
            columns["negative_offset"].tolist(),
        )
        offsets = batch.bucket_offsets.tolist()
        replaced: dict[int, list[int]] = {}
        infinite: list[int] = []
        room = len(rows) if self.max_streams is None else self.max_streams - len(self)
        for row in rows:
            states = self._streams.setdefault(batch.scopes[batch.scope_index[row]], {})
            sid = int(batch.series_id[row])
            start, time = int(batch.start_time_unix_nano[row]), int(batch.time_unix_nano[row])
            now_count, now_sum = int(batch.count[row]), float(batch.sum[row])
            point_buckets = buckets[offsets[row] : offsets[row + 1]].tolist()
            split = positive_lengths[row]
            point = (
                scales[row],
                now_count,
                zero_counts[row],
                thresholds[row],
                positive_offsets[row],
                point_buckets[:split],
                negative_offsets[row],
                point_buckets[split:],
            )
            state = [start, time, now_count, now_sum, *point[:1], *point[2:]]
            previous = states.get(sid)
            if previous is not None and len(previous) != _EXPONENTIAL_STATE:
                previous = None  # the state of another kind (restored, or an id collision)
            if previous is None:
                if room <= 0:
                    keep[row] = False
                    outcomes["capped"] += 1
                    self.capped += 1
                    continue
                room -= 1
                states[sid] = state
                if start == 0:
                    keep[row] = False
                    outcomes["baseline"] += 1
                else:
                    outcomes["emitted"] += 1
                continue
            if time <= previous[1]:
                keep[row] = False
                outcomes["stale"] += 1
                continue
            before = (previous[4], previous[2], *previous[5:])
            delta = None if start > previous[0] else exponential_delta(point, before)
            if delta is None:
                states[sid] = state
                reset[row] = True
                interval_start[row] = start or time
                outcomes["reset"] += 1
                continue
            sum_delta = now_sum - previous[3]
            if sum_delta - sum_delta != 0:  # finite sums, infinite difference
                keep[row] = False
                infinite.append(row)
                continue
            scale, count[row], zero_count, positive_offset, positive, negative_offset, negative = (
                delta
            )
            total[row] = sum_delta
            columns["scale"][row] = scale
            columns["zero_count"][row] = zero_count
            columns["positive_offset"][row] = positive_offset
            columns["positive_length"][row] = len(positive)
            columns["negative_offset"][row] = negative_offset
            columns["min"][row] = columns["max"][row] = math.nan  # of the interval: unknown
            replaced[row] = [*positive, *negative]
            states[sid] = state
            interval_start[row] = previous[1]
            outcomes["emitted"] += 1
        self._settle(batch, infinite, problems)
        exponential = ExponentialColumns(*columns.values())
        if not replaced:
            return exponential, batch.bucket_offsets, buckets
        pieces = [
            replaced[row] if row in replaced else buckets[offsets[row] : offsets[row + 1]]
            for row in range(len(batch))
        ]
        lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
        new_offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        flat = np.concatenate([np.asarray(piece, dtype=np.int64) for piece in pieces])
        return exponential, new_offsets, flat


def _restored(state: list) -> list:
    """A stream's state from its snapshot (JSON lists): a histogram's bounds back to a tuple."""
    if len(state) == 6:
        return [*state[:4], tuple(state[4]), list(state[5])]
    return list(state)
