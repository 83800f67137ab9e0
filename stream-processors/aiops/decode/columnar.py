"""One OTLP metrics payload to columns per resource, without a Python object per data point.

``decode_columns`` reads the same points as ``aiops.decode.otlp.flatten`` (same
kinds, temporalities and problems) but returns, per ``ResourceMetrics``, one
``ResourceBatch`` of numpy columns: series ids, kinds, flags, times, values,
histogram counts and sums, and bucket counts as one flat array with offsets.

Why it is fast: the payload is parsed with a *shadow* of the OTLP message
classes in which a data point's ``attributes`` are left as raw ``KeyValue``
bytes (wire-compatible: both are length-delimited). A point's raw attribute
tuple is the key of a cache (``SeriesInterner``) that maps it to the series
id, so an attribute set is decoded, canonicalised and hashed once per series
and process, not once per point. What is left per point is a handful of field
reads that upb makes cheap.

Where it fails: attribute bytes that are not a ``KeyValue`` are reported as a
problem for that point; a payload that is not OTLP at all raises
``MalformedPayload`` as ``decode_metrics`` does.

>>> from aiops.bench.synthetic import synthetic_exports
>>> (payload,), = synthetic_exports(resources=1, series=8, exports=1)
>>> decoded = decode_columns(payload)
>>> (batch,) = decoded.batches
>>> len(batch), batch.resource["service.name"], decoded.problems
(8, 'svc-00', [])
>>> [KINDS[k] for k in batch.kind]
['histogram', 'histogram', 'sum', 'sum', 'gauge', 'gauge', 'gauge', 'gauge']
>>> batch.bucket_offsets[:3].tolist(), len(batch.bounds[0])
([0, 15, 30], 14)
>>> batch.labels[int(batch.series_id[0])].attributes["http.response.status_code"]
200
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from aiops.decode.otlp import (
    Attributes,
    PointProblem,
    _attributes,
    decode_metrics,
)
from aiops.decode.series_id import canonical_attributes, canonical_series, id_of_canonical
from aiops.schemas.points_v2 import EXPONENTIAL_COLUMNS

__all__ = [
    "KINDS",
    "ColumnarDecode",
    "ExponentialColumns",
    "ResourceBatch",
    "SeriesInterner",
    "SeriesLabels",
    "decode_columns",
    "keep_buckets",
]

KINDS = ("gauge", "sum", "histogram", "exponential_histogram")
"""Kind codes in the ``kind`` column: 0 gauge, 1 sum, 2 histogram, 3 exponential histogram."""

_GAUGE, _SUM, _HISTOGRAM, _EXPONENTIAL = 0, 1, 2, 3
_MIN_SCALE, _MAX_SCALE = -10, 20
"""The scales the OTel data model allows an exponential histogram."""
_INT64_MAX = 2**63 - 1
_ENTRY_BYTES = 64
"""JSON a series entry adds besides its labels: the id, quotes and commas (the canonical text's tags cover the rest)."""
_CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_UNSPECIFIED = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_UNSPECIFIED


def _shadow_metrics_data():
    """``MetricsData`` with the data points' attributes as ``repeated bytes`` (raw ``KeyValue``s)."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    proto = descriptor_pb2.FileDescriptorProto()
    metrics_pb2.DESCRIPTOR.CopyToProto(proto)
    for message in proto.message_type:
        if message.name in (
            "NumberDataPoint",
            "HistogramDataPoint",
            "ExponentialHistogramDataPoint",
        ):
            for shadowed in message.field:
                if shadowed.name == "attributes":
                    shadowed.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                    shadowed.ClearField("type_name")
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("opentelemetry.proto.metrics.v1.MetricsData")
    )


_MetricsData = _shadow_metrics_data()


@dataclass(frozen=True)
class SeriesLabels:
    """What a series id stands for within one resource: the dictionary entry of ``aiops.points/v2``."""

    metric: str
    kind: str
    unit: str
    attributes: Attributes
    size_hint: int = 0
    """Bytes of JSON that bound this entry plus the resource's attributes in a record (for size limits)."""


class SeriesInterner:
    """Caches raw attribute bytes → decoded attributes and series id, bounded by ``capacity`` series.

    One per decoding process; it is only a cache (ids depend on labels alone).
    Series expire with their data: ``rotate()``, called on the decode
    state's expiry timer, starts a new generation, and a series not seen
    during a whole generation is forgotten (``forgotten`` counts them); a
    series seen again is moved to the new generation at the cost of one dict
    look-up. As a last bound, when it holds more than ``capacity`` series it
    is emptied and refilled from the next payloads (``clears`` counts that).

    >>> interner = SeriesInterner(capacity=2)
    >>> len(interner), interner.clears, interner.rotate(), interner.forgotten
    (0, 0, 0, 0)
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self.clears = 0
        self.forgotten = 0
        self._scopes: dict[tuple, dict[tuple[bytes, ...], int]] = {}
        self.labels: dict[int, SeriesLabels] = {}
        self._old_scopes: dict[tuple, dict[tuple[bytes, ...], int]] = {}
        self._old_labels: dict[int, SeriesLabels] = {}
        self._resources: dict[bytes, tuple[Attributes, str]] = {}

    def __len__(self) -> int:
        return len(self.labels) + len(self._old_labels)

    def rotate(self) -> int:
        """Forget the series not seen since the last rotation, start a new generation; returns how many were forgotten.

        Called every TTL, a series' labels live between one and two TTLs after its last point.
        """
        forgotten = len(self._old_labels)
        self._old_scopes, self._old_labels = self._scopes, self.labels
        self._scopes, self.labels, self._resources = {}, {}, {}
        self.forgotten += forgotten
        return forgotten

    def resource(self, message) -> tuple[Attributes, str]:
        """A ``Resource`` message's attributes and their canonical text, cached by its bytes."""
        raw = message.SerializeToString()
        entry = self._resources.get(raw)
        if entry is None:
            attributes = _attributes(message.attributes)
            entry = self._resources[raw] = (attributes, canonical_attributes(attributes))
        return entry

    def metric_cache(self, resource_text: str, metric: str, kind: int, unit: str) -> dict:
        """The cache of one metric of one resource: raw attribute tuple → series id."""
        key = (resource_text, metric, kind, unit)
        cache = self._scopes.get(key)
        if cache is None:
            cache = self._scopes[key] = {}
        return cache

    def intern(
        self,
        cache: dict,
        raw: tuple[bytes, ...],
        resource_text: str,
        metric: str,
        kind: int,
        unit: str,
    ) -> int:
        """Decode, canonicalise and hash one raw attribute set into ``cache``; raises ``DecodeError`` on bad bytes.

        A series of the previous generation is moved over instead.
        """
        old = self._old_scopes.get((resource_text, metric, kind, unit))
        if old is not None:
            sid = old.pop(raw, None)
            if sid is not None:
                labels = self._old_labels.pop(sid, None) or self.labels.get(sid)
                if labels is not None:
                    cache[raw] = sid
                    self.labels[sid] = labels
                    return sid
        attributes = _attributes([common_pb2.KeyValue.FromString(item) for item in raw])
        name = KINDS[kind]
        text = canonical_series(metric, name, attributes, {}, resource_text=resource_text)
        sid = cache[raw] = id_of_canonical(text)
        size = len(text.encode()) + len(unit.encode()) + _ENTRY_BYTES
        self.labels[sid] = SeriesLabels(metric, name, unit, attributes, size)
        return sid

    def maybe_clear(self) -> None:
        """Empty the caches if they hold more than ``capacity`` series (call between batches)."""
        if len(self) > self.capacity:
            self._scopes, self.labels, self._resources = {}, {}, {}
            self._old_scopes, self._old_labels = {}, {}
            self.clears += 1


@dataclass(frozen=True)
class ExponentialColumns:
    """What an exponential histogram row holds besides count, sum and buckets; one entry per row of its batch.

    An exponential row's buckets (``bucket_counts`` of its batch) are its
    ``positive_length`` positive counts from ``positive_offset``, then its
    negative counts from ``negative_offset``. ``min`` and ``max`` are NaN
    when the point has none; other rows hold zeros.
    """

    scale: np.ndarray
    zero_count: np.ndarray
    zero_threshold: np.ndarray
    positive_offset: np.ndarray
    positive_length: np.ndarray
    negative_offset: np.ndarray
    min: np.ndarray
    max: np.ndarray

    COLUMNS = EXPONENTIAL_COLUMNS
    """The column names, in the ``aiops.points/v2`` record too."""

    @classmethod
    def of_rows(cls, n: int, rows: list[int], values: list[tuple]) -> ExponentialColumns:
        """Columns of ``n`` rows with ``values`` (one tuple in ``COLUMNS`` order each) at ``rows``.

        >>> e = ExponentialColumns.of_rows(2, [1], [(3, 1, 0.0, -2, 4, 0, 0.5, 9.0)])
        >>> e.scale.tolist(), e.min.tolist()
        ([0, 3], [0.0, 0.5])
        """
        dtypes = (
            np.int32,
            np.int64,
            np.float64,
            np.int32,
            np.int32,
            np.int32,
            np.float64,
            np.float64,
        )
        columns = []
        for dtype, column in zip(dtypes, zip(*values), strict=True):
            array = np.zeros(n, dtype=dtype)
            array[rows] = column
            columns.append(array)
        return cls(*columns)

    def select(self, keep: np.ndarray) -> ExponentialColumns:
        """The rows where ``keep`` is true."""
        return ExponentialColumns(*(getattr(self, name)[keep] for name in self.COLUMNS))


@dataclass
class ResourceBatch:
    """The readable points of one ``ResourceMetrics``, in columns (one row per data point).

    Histogram rows have ``bounds_index`` into ``bounds`` and their bucket counts
    at ``bucket_counts[bucket_offsets[i]:bucket_offsets[i + 1]]``; number rows
    have ``bounds_index`` -1 and no buckets. ``count`` and ``sum`` are 0 on
    number rows, ``value`` is 0.0 on histogram rows. ``labels`` holds the
    dictionary entry of every series id in the batch.
    """

    resource: Attributes
    resource_text: str
    scopes: list[str]
    labels: dict[int, SeriesLabels]
    series_id: np.ndarray
    scope_index: np.ndarray
    kind: np.ndarray
    cumulative: np.ndarray
    monotonic: np.ndarray
    start_time_unix_nano: np.ndarray
    time_unix_nano: np.ndarray
    value: np.ndarray
    count: np.ndarray
    sum: np.ndarray
    bounds_index: np.ndarray
    bounds: list[tuple[float, ...]]
    bucket_offsets: np.ndarray
    bucket_counts: np.ndarray
    exponential: ExponentialColumns | None = None
    """The exponential histogram rows' columns; None when the batch has none."""

    def __len__(self) -> int:
        return len(self.series_id)

    def select(self, keep: np.ndarray) -> ResourceBatch:
        """The rows where ``keep`` is true, buckets and labels included (a new batch; this one is unchanged)."""
        offsets, buckets = keep_buckets(self.bucket_offsets, self.bucket_counts, keep)
        ids = self.series_id[keep]
        return replace(
            self,
            labels={sid: self.labels[sid] for sid in dict.fromkeys(ids.tolist())},
            series_id=ids,
            scope_index=self.scope_index[keep],
            kind=self.kind[keep],
            cumulative=self.cumulative[keep],
            monotonic=self.monotonic[keep],
            start_time_unix_nano=self.start_time_unix_nano[keep],
            time_unix_nano=self.time_unix_nano[keep],
            value=self.value[keep],
            count=self.count[keep],
            sum=self.sum[keep],
            bounds_index=self.bounds_index[keep],
            bucket_offsets=offsets,
            bucket_counts=buckets,
            exponential=None if self.exponential is None else self.exponential.select(keep),
        )

    def reject(self, bad: np.ndarray, code: str, reason: str) -> list[PointProblem]:
        """A ``PointProblem`` with ``code`` for each row where ``bad`` is true (``reason`` says why, for a person)."""
        return [
            PointProblem(labels.metric, reason, labels.attributes, code)
            for labels in map(self.labels.__getitem__, self.series_id[bad].tolist())
        ]


def keep_buckets(
    offsets: np.ndarray, buckets: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The bucket offsets and flat bucket counts of the rows where ``keep`` is true.

    >>> keep_buckets(np.array([0, 2, 2, 5]), np.arange(5), np.array([True, False, True]))
    (array([0, 2, 5]), array([0, 1, 2, 3, 4]))
    """
    lengths = np.diff(offsets)
    kept = lengths[keep]
    new_offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=new_offsets[1:])
    return new_offsets, buckets[np.repeat(keep, lengths)]


@dataclass
class ColumnarDecode:
    """One batch per resource, and the points that could not be read (as ``flatten`` reports them)."""

    batches: list[ResourceBatch] = field(default_factory=list)
    problems: list[PointProblem] = field(default_factory=list)

    @property
    def points(self) -> int:
        """Readable data points in all batches."""
        return sum(len(batch) for batch in self.batches)


def _parse(payload: bytes):
    return decode_metrics(payload, _MetricsData)


def _raw_attributes(raw: tuple[bytes, ...]) -> dict:
    try:
        return _attributes([common_pb2.KeyValue.FromString(item) for item in raw])
    except DecodeError:
        return {}


def _bounds_ok(bounds: tuple[float, ...]) -> bool:
    return not any(b >= a for a, b in zip(bounds[1:], bounds)) and all(map(math.isfinite, bounds))


_DEFAULT_INTERNER = SeriesInterner()


def decode_columns(payload: bytes, interner: SeriesInterner | None = None) -> ColumnarDecode:
    """Parse one ``otlp_proto`` metrics payload into one ``ResourceBatch`` per resource.

    Same points and problems as ``flatten(decode_metrics(payload))``, in the
    same order; ``interner`` caches series ids across payloads (a module-wide
    one by default). Raises ``MalformedPayload`` when the bytes are not OTLP.

    >>> decode_columns(b"").batches
    []
    """
    interner = _DEFAULT_INTERNER if interner is None else interner
    data = _parse(payload)
    result = ColumnarDecode()
    for resource_metrics in data.resource_metrics:
        interner.maybe_clear()
        batch = _resource_batch(resource_metrics, interner, result.problems)
        result.batches.append(batch)
    return result


def _resource_batch(resource_metrics, interner: SeriesInterner, problems: list) -> ResourceBatch:
    resource, resource_text = interner.resource(resource_metrics.resource)
    scopes: list[str] = []
    ids: list[int] = []
    scope_index: list[int] = []
    kinds: list[int] = []
    cumulative: list[bool] = []
    monotonic: list[bool] = []
    starts: list[int] = []
    times: list[int] = []
    values: list[float] = []
    counts: list[int] = []
    sums: list[float] = []
    bounds_index: list[int] = []
    bounds_table: dict[tuple[float, ...], int] = {}
    offsets = [0]
    buckets: list[int] = []
    exponential_rows: list[int] = []
    exponential_values: list[tuple] = []
    isfinite = math.isfinite
    ids_append, starts_append, times_append, values_append = (
        ids.append,
        starts.append,
        times.append,
        values.append,
    )
    for scope_metrics in resource_metrics.scope_metrics:
        scope = len(scopes)
        scopes.append(scope_metrics.scope.name)
        for metric in scope_metrics.metrics:
            name = metric.name
            data_kind = metric.WhichOneof("data")
            if not name:
                problems.append(PointProblem(metric="", reason="metric has no name"))
                continue
            if data_kind == "gauge":
                kind, is_cumulative, is_monotonic, points = (
                    _GAUGE,
                    False,
                    False,
                    metric.gauge.data_points,
                )
            elif data_kind in ("sum", "histogram", "exponential_histogram"):
                data = getattr(metric, data_kind)
                if data.aggregation_temporality == _UNSPECIFIED:
                    problems.append(
                        PointProblem(name, f"{data_kind} has no aggregation temporality")
                    )
                    continue
                is_cumulative = data.aggregation_temporality == _CUMULATIVE
                if data_kind == "sum":
                    kind, is_monotonic = _SUM, data.is_monotonic
                elif data_kind == "histogram":
                    kind, is_monotonic = _HISTOGRAM, True
                else:
                    kind, is_monotonic = _EXPONENTIAL, True
                points = data.data_points
            elif data_kind is None:
                problems.append(PointProblem(name, "metric has no data"))
                continue
            else:
                problems.append(PointProblem(name, f"{data_kind} points are not supported"))
                continue
            unit = metric.unit
            cache = interner.metric_cache(resource_text, name, kind, unit)
            cache_get = cache.get
            before = len(ids)
            if kind == _EXPONENTIAL:
                for sid, start, time, count, total, point_buckets, row in _exponential_rows(
                    points, name, unit, cache, interner, resource_text, problems
                ):
                    exponential_rows.append(len(ids))
                    exponential_values.append(row)
                    ids_append(sid)
                    starts_append(start)
                    times_append(time)
                    values_append(0.0)
                    counts.append(count)
                    sums.append(total)
                    bounds_index.append(-1)
                    buckets.extend(point_buckets)
                    offsets.append(len(buckets))
            elif kind != _HISTOGRAM:
                for point in points:
                    raw = tuple(point.attributes)
                    value = point.as_double
                    if not value:  # 0.0, or not a double: ask which (one more call, only then)
                        which = point.WhichOneof("value")
                        if which == "as_int":
                            value = float(point.as_int)
                        elif which is None:
                            problems.append(
                                PointProblem(name, "data point has no value", _raw_attributes(raw))
                            )
                            continue
                    elif not isfinite(value):
                        problems.append(
                            PointProblem(
                                name,
                                f"data point value is {value}",
                                _raw_attributes(raw),
                                "not_finite",
                            )
                        )
                        continue
                    time = point.time_unix_nano
                    if not time:
                        problems.append(
                            PointProblem(
                                name, "data point has no time_unix_nano", _raw_attributes(raw)
                            )
                        )
                        continue
                    sid = cache_get(raw)
                    if sid is None:
                        try:
                            sid = interner.intern(cache, raw, resource_text, name, kind, unit)
                        except DecodeError:
                            problems.append(
                                PointProblem(name, "data point attributes are not OTLP key-values")
                            )
                            continue
                    ids_append(sid)
                    starts_append(point.start_time_unix_nano)
                    times_append(time)
                    values_append(value)
                added = len(ids) - before
                counts.extend([0] * added)
                sums.extend([0.0] * added)
                bounds_index.extend([-1] * added)
                offsets.extend([len(buckets)] * added)
            else:
                for point in points:
                    raw = tuple(point.attributes)
                    bounds = tuple(point.explicit_bounds)
                    point_buckets = list(point.bucket_counts)
                    point_count = point.count
                    time = point.time_unix_nano
                    problem = None
                    if len(point_buckets) != len(bounds) + 1:
                        problem = (
                            f"histogram has {len(point_buckets)} bucket counts for {len(bounds)} bounds "
                            "(want bounds + 1)"
                        )
                    else:
                        index = bounds_table.get(bounds)
                        if index is None and not _bounds_ok(bounds):
                            problem = "histogram bounds are not finite and increasing"
                        elif sum(point_buckets) != point_count:
                            problem = f"histogram bucket counts add to {sum(point_buckets)}, count is {point_count}"
                        elif not time:
                            problem = "data point has no time_unix_nano"
                    if problem:
                        problems.append(PointProblem(name, problem, _raw_attributes(raw)))
                        continue
                    sid = cache_get(raw)
                    if sid is None:
                        try:
                            sid = interner.intern(cache, raw, resource_text, name, kind, unit)
                        except DecodeError:
                            problems.append(
                                PointProblem(name, "data point attributes are not OTLP key-values")
                            )
                            continue
                    if index is None:
                        index = bounds_table[bounds] = len(bounds_table)
                    ids_append(sid)
                    starts_append(point.start_time_unix_nano)
                    times_append(time)
                    values_append(0.0)
                    counts.append(point_count)
                    sums.append(point.sum)
                    bounds_index.append(index)
                    buckets.extend(point_buckets)
                    offsets.append(len(buckets))
            added = len(ids) - before
            scope_index.extend([scope] * added)
            kinds.extend([kind] * added)
            cumulative.extend([is_cumulative] * added)
            monotonic.extend([is_monotonic] * added)
    batch = ResourceBatch(
        resource=resource,
        resource_text=resource_text,
        scopes=scopes,
        labels={sid: interner.labels[sid] for sid in dict.fromkeys(ids)},  # in order of first point
        series_id=np.array(ids, dtype=np.int64),
        scope_index=np.array(scope_index, dtype=np.int32),
        kind=np.array(kinds, dtype=np.uint8),
        cumulative=np.array(cumulative, dtype=bool),
        monotonic=np.array(monotonic, dtype=bool),
        # fixed64 on the wire: read unsigned, seen as int64; beyond 2**63 - 1 is negative, and refused below
        start_time_unix_nano=np.array(starts, dtype=np.uint64).view(np.int64),
        time_unix_nano=np.array(times, dtype=np.uint64).view(np.int64),
        value=np.array(values, dtype=np.float64),
        count=np.array(counts, dtype=np.uint64).view(np.int64),
        sum=np.array(sums, dtype=np.float64),
        bounds_index=np.array(bounds_index, dtype=np.int32),
        bounds=list(bounds_table),
        bucket_offsets=np.array(offsets, dtype=np.int64),
        bucket_counts=np.array(buckets, dtype=np.uint64).view(np.int64),
        exponential=ExponentialColumns.of_rows(len(ids), exponential_rows, exponential_values)
        if exponential_rows
        else None,
    )
    return _screen(batch, problems)


def _exponential_rows(points, name, unit, cache, interner, resource_text, problems):
    """``(series id, start, time, count, sum, buckets, ExponentialColumns values)`` of each readable point.

    Its buckets are the positive counts, then the negative ones. A point is
    unreadable when its scale is outside -10..20, its zero threshold is not a
    finite number >= 0, its buckets and zero count add to more than its count
    (less is allowed: OTel counts NaN observations, no bucket does), or it has
    no time; those are reported in ``problems``.
    """
    for point in points:
        raw = tuple(point.attributes)
        positive, negative = point.positive, point.negative
        positive_counts = list(positive.bucket_counts)
        negative_counts = list(negative.bucket_counts)
        scale, zero_count, zero_threshold = point.scale, point.zero_count, point.zero_threshold
        in_buckets = zero_count + sum(positive_counts) + sum(negative_counts)
        problem, code = None, "unreadable"
        if point.count > _INT64_MAX:
            problem, code = "histogram count beyond int64", "out_of_range"
        elif not _MIN_SCALE <= scale <= _MAX_SCALE:
            problem = f"exponential histogram scale {scale} is outside {_MIN_SCALE}..{_MAX_SCALE}"
        elif not (math.isfinite(zero_threshold) and zero_threshold >= 0):
            problem = f"exponential histogram zero threshold is {zero_threshold}"
        elif in_buckets > point.count:
            problem = f"exponential histogram buckets add to {in_buckets}, more than its count {point.count}"
        elif not point.time_unix_nano:
            problem = "data point has no time_unix_nano"
        if problem:
            problems.append(PointProblem(name, problem, _raw_attributes(raw), code))
            continue
        sid = cache.get(raw)
        if sid is None:
            try:
                sid = interner.intern(cache, raw, resource_text, name, _EXPONENTIAL, unit)
            except DecodeError:
                problems.append(PointProblem(name, "data point attributes are not OTLP key-values"))
                continue
        yield (
            sid,
            point.start_time_unix_nano,
            point.time_unix_nano,
            point.count,
            point.sum,
            positive_counts + negative_counts,
            (
                scale,
                zero_count,
                zero_threshold,
                positive.offset,
                len(positive_counts),
                negative.offset,
                point.min if point.HasField("min") else math.nan,
                point.max if point.HasField("max") else math.nan,
            ),
        )


def _screen(batch: ResourceBatch, problems: list) -> ResourceBatch:
    """Refuse, in columns, the rows no state may see; each row gets the first reason, as ``flatten`` gives it.

    Times and counts beyond int64, a sum or histogram that starts after its
    time, a negative monotonic sum, a histogram sum that is NaN or infinite.
    (A count within int64 bounds its buckets, which add up to it.)
    """
    times, starts = batch.time_unix_nano, batch.start_time_unix_nano
    if not len(batch) or not (  # the usual batch: a few reductions, no mask
        min(times.min(), starts.min(), batch.count.min(), batch.value.min()) < 0
        or (starts > times).any()
        or not np.isfinite(batch.sum).all()
    ):
        return batch
    histogram = batch.kind >= _HISTOGRAM
    checks = (
        ((times < 0) | (starts < 0), "out_of_range", "data point time beyond int64"),
        (
            (batch.kind != _GAUGE) & (starts > times),
            "start_after_time",
            "data point starts after its time",
        ),
        (histogram & (batch.count < 0), "out_of_range", "histogram count beyond int64"),
        (histogram & ~np.isfinite(batch.sum), "not_finite", "histogram sum is not finite"),
        (
            (batch.kind == _SUM) & batch.monotonic & (batch.value < 0),
            "negative_monotonic",
            "monotonic sum is negative",
        ),
    )
    if not any(bad.any() for bad, _, _ in checks):
        return batch
    left = np.ones(len(batch), dtype=bool)
    for bad, code, reason in checks:
        bad = bad & left
        problems.extend(batch.reject(bad, code, reason))
        left &= ~bad
    return batch.select(left)
