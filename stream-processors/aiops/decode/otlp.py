"""OTLP metrics payloads, as the collector's kafka exporter writes them, to flat observations.

``decode_metrics`` parses the ``otlp_proto`` bytes; ``flatten`` walks the
resource/scope/metric tree and yields one ``Observation`` per data point, with
its temporality as reported (cumulative points are turned into deltas by
``aiops.decode.delta``). Points that cannot be read are reported as
``PointProblem`` values, never raised, so one bad point does not hide the rest.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, MetricsData

from aiops.decode.series_id import TaggedText

__all__ = [
    "ExponentialBuckets",
    "MalformedPayload",
    "Observation",
    "PointProblem",
    "decode_metrics",
    "flatten",
    "resource_partition",
    "series_key",
]

Kind = Literal["gauge", "sum", "histogram", "exponential_histogram"]
Attributes = Mapping[str, str | bool | int | float]


class MalformedPayload(ValueError):
    """The bytes are not an OTLP metrics payload; the message says why."""


@dataclass(frozen=True)
class ExponentialBuckets:
    """What an exponential histogram point holds besides count and sum (OTel's fields; min/max None when absent)."""

    scale: int
    zero_count: int
    zero_threshold: float
    positive_offset: int
    positive: tuple[int, ...]
    negative_offset: int
    negative: tuple[int, ...]
    min: float | None = None
    max: float | None = None

    def as_v1(self) -> dict:
        """The ``exponential`` part of an ``aiops.points/v1`` point.

        >>> ExponentialBuckets(0, 1, 0.0, -2, (3,), 0, ()).as_v1()["positive"]
        {'offset': -2, 'bucket_counts': [3]}
        """
        return {
            "scale": self.scale,
            "zero_count": self.zero_count,
            "zero_threshold": self.zero_threshold,
            "positive": {"offset": self.positive_offset, "bucket_counts": list(self.positive)},
            "negative": {"offset": self.negative_offset, "bucket_counts": list(self.negative)},
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class Observation:
    """One data point as the producer reported it, with the identity of its stream.

    For ``sum`` points ``value`` is the reported value (cumulative or delta, see
    ``cumulative``); for ``gauge`` points the current value; histograms carry
    ``count``, ``sum``, ``bounds`` and ``bucket_counts`` instead, exponential
    histograms ``count``, ``sum`` and ``exponential``.
    """

    metric: str
    kind: Kind
    unit: str
    resource: Attributes
    attributes: Attributes
    scope: str
    start_time_unix_nano: int
    time_unix_nano: int
    cumulative: bool = False
    monotonic: bool = False
    value: float = 0.0
    count: int = 0
    sum: float = 0.0
    bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()
    exponential: ExponentialBuckets | None = None

    @property
    def series(self) -> str:
        """The series this point belongs to; the Kafka key on ``aiops.points``."""
        return series_key(self.metric, self.attributes, self.resource)

    @property
    def stream(self) -> str:
        """The OTLP stream identity (series plus instrumentation scope), for delta state."""
        return f"{self.series}|{self.scope}"


@dataclass(frozen=True)
class PointProblem:
    """A data point that was skipped, why (for a person) and a short ``code`` (a metric label).

    The codes are ``aiops.decode.rejections.REASONS``'s keys.
    """

    metric: str
    reason: str
    attributes: Attributes = field(default_factory=dict)
    code: str = "unreadable"


def decode_metrics(payload: bytes, message: type = MetricsData) -> MetricsData:
    """Parse an ``otlp_proto`` metrics payload, or raise ``MalformedPayload``.

    ``message`` is the class to parse into: ``MetricsData``, or a copy of it
    with the same wire format (the columnar decode's, which keeps attributes as bytes).

    >>> decode_metrics(b"")
    <BLANKLINE>
    >>> decode_metrics(b"\\xff\\xff")
    Traceback (most recent call last):
    ...
    aiops.decode.otlp.MalformedPayload: not an OTLP metrics payload: ...
    """
    data = message()
    try:
        data.ParseFromString(payload)
    except DecodeError as error:
        raise MalformedPayload(f"not an OTLP metrics payload: {error}") from None
    if payload and not data.resource_metrics:
        raise MalformedPayload(
            f"not an OTLP metrics payload: {len(payload)} bytes hold no resource metrics"
        )
    return data


def series_key(metric: str, attributes: Attributes, resource: Attributes) -> str:
    """Metric name, then the point's and the resource's attributes, each sorted.

    >>> series_key("http.server.request.duration", {"http.route": "/a", "b": 1}, {"service.name": "demo"})
    'http.server.request.duration{b="1",http.route="/a"}@{service.name="demo"}'
    """
    return f"{metric}{_label_set(attributes)}@{_label_set(resource)}"


def resource_partition(resource: Attributes, partitions: int) -> int:
    """The points-topic partition of every point of one resource (crc32 of its label set).

    All of a service instance's points land on one partition, in the order the
    collector wrote its payloads (it partitions OTLP by resource too), so the
    detect agent sees each export whole and in time order.

    >>> resource_partition({"service.name": "demo"}, 3) == resource_partition({"service.name": "demo"}, 3)
    True
    >>> resource_partition({"service.name": "demo"}, 1)
    0
    """
    return zlib.crc32(_label_set(resource).encode()) % partitions


def _label_set(attributes: Attributes) -> str:
    return "{" + ",".join(f'{k}="{_text(v)}"' for k, v in sorted(attributes.items())) + "}"


def _text(value: str | bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def flatten(data: MetricsData) -> Iterator[Observation | PointProblem]:
    """One ``Observation`` per data point, or a ``PointProblem`` for a point that is unreadable.

    Summaries are reported as problems: the pipeline does not read them, and
    saying so beats dropping them quietly.
    """
    for resource_metrics in data.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                yield from _metric_points(metric, resource, scope)


def _metric_points(
    metric, resource: Attributes, scope: str
) -> Iterator[Observation | PointProblem]:
    data_kind = metric.WhichOneof("data")
    common = {"metric": metric.name, "unit": metric.unit, "resource": resource, "scope": scope}
    if not metric.name:
        yield PointProblem(metric="", reason="metric has no name")
    elif data_kind == "gauge":
        for point in metric.gauge.data_points:
            yield _number_point(point, common, kind="gauge", cumulative=False, monotonic=False)
    elif data_kind in ("sum", "histogram", "exponential_histogram"):
        data = getattr(metric, data_kind)
        if (
            data.aggregation_temporality
            == AggregationTemporality.AGGREGATION_TEMPORALITY_UNSPECIFIED
        ):
            yield PointProblem(metric.name, f"{data_kind} has no aggregation temporality")
            return
        cumulative = (
            data.aggregation_temporality
            == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
        )
        for point in data.data_points:
            if data_kind == "sum":
                yield _number_point(
                    point, common, kind="sum", cumulative=cumulative, monotonic=data.is_monotonic
                )
            elif data_kind == "histogram":
                yield _histogram_point(point, common, cumulative=cumulative)
            else:
                yield _exponential_point(point, common, cumulative=cumulative)
    elif data_kind is None:
        yield PointProblem(metric.name, "metric has no data")
    else:
        yield PointProblem(metric.name, f"{data_kind} points are not supported")


def _number_point(point, common: dict, *, kind: Kind, cumulative: bool, monotonic: bool):
    attributes = _attributes(point.attributes)
    which = point.WhichOneof("value")
    if which is None:
        return PointProblem(common["metric"], "data point has no value", attributes)
    value = float(getattr(point, which))
    if not math.isfinite(value):
        return PointProblem(
            common["metric"], f"data point value is {value}", attributes, "not_finite"
        )
    if problem := _time_problem(point, common["metric"], attributes, gauge=kind == "gauge"):
        return problem
    if monotonic and value < 0:
        return PointProblem(
            common["metric"], "monotonic sum is negative", attributes, "negative_monotonic"
        )
    return Observation(
        **common,
        kind=kind,
        attributes=attributes,
        start_time_unix_nano=point.start_time_unix_nano,
        time_unix_nano=point.time_unix_nano,
        cumulative=cumulative,
        monotonic=monotonic,
        value=value,
    )


def _histogram_point(point, common: dict, *, cumulative: bool):
    attributes = _attributes(point.attributes)
    bounds = tuple(point.explicit_bounds)
    counts = tuple(point.bucket_counts)
    if len(counts) != len(bounds) + 1:
        return PointProblem(
            common["metric"],
            f"histogram has {len(counts)} bucket counts for {len(bounds)} bounds (want bounds + 1)",
            attributes,
        )
    if any(b >= a for a, b in zip(bounds[1:], bounds)) or not all(map(math.isfinite, bounds)):
        return PointProblem(
            common["metric"], "histogram bounds are not finite and increasing", attributes
        )
    if sum(counts) != point.count:
        return PointProblem(
            common["metric"],
            f"histogram bucket counts add to {sum(counts)}, count is {point.count}",
            attributes,
        )
    return _histogram_observation(
        point,
        common,
        attributes,
        cumulative=cumulative,
        kind="histogram",
        bounds=bounds,
        bucket_counts=counts,
    )


def _histogram_observation(point, common: dict, attributes: dict, *, cumulative: bool, **buckets):
    """A histogram point whose buckets are sound: the problem with its time, count or sum, else its Observation.

    ``buckets`` are the Observation's fields of the histogram's kind (``kind``
    and its buckets). The count is checked after the time, as a classic
    point's always was; an exponential point's count was checked before its
    buckets, so that check never fails here.
    """
    if problem := _time_problem(point, common["metric"], attributes, gauge=False):
        return problem
    if point.count > _INT64_MAX:
        return PointProblem(
            common["metric"], "histogram count beyond int64", attributes, "out_of_range"
        )
    if not math.isfinite(point.sum):
        return PointProblem(
            common["metric"], "histogram sum is not finite", attributes, "not_finite"
        )
    return Observation(
        **common,
        attributes=attributes,
        start_time_unix_nano=point.start_time_unix_nano,
        time_unix_nano=point.time_unix_nano,
        cumulative=cumulative,
        monotonic=True,
        count=point.count,
        sum=point.sum,
        **buckets,
    )


_INT64_MAX = 2**63 - 1
_MIN_SCALE, _MAX_SCALE = -10, 20


def _exponential_point(point, common: dict, *, cumulative: bool):
    """An exponential histogram point, or the problem with it (as ``columnar`` reports it)."""
    attributes = _attributes(point.attributes)
    positive = tuple(point.positive.bucket_counts)
    negative = tuple(point.negative.bucket_counts)
    in_buckets = point.zero_count + sum(positive) + sum(negative)
    problem, code = None, "unreadable"
    if point.count > _INT64_MAX:
        problem, code = "histogram count beyond int64", "out_of_range"
    elif not _MIN_SCALE <= point.scale <= _MAX_SCALE:
        problem = f"exponential histogram scale {point.scale} is outside {_MIN_SCALE}..{_MAX_SCALE}"
    elif not (math.isfinite(point.zero_threshold) and point.zero_threshold >= 0):
        problem = f"exponential histogram zero threshold is {point.zero_threshold}"
    elif in_buckets > point.count:
        problem = (
            f"exponential histogram buckets add to {in_buckets}, more than its count {point.count}"
        )
    if problem:
        return PointProblem(common["metric"], problem, attributes, code)
    return _histogram_observation(
        point,
        common,
        attributes,
        cumulative=cumulative,
        kind="exponential_histogram",
        exponential=ExponentialBuckets(
            point.scale,
            point.zero_count,
            point.zero_threshold,
            point.positive.offset,
            positive,
            point.negative.offset,
            negative,
            point.min if point.HasField("min") else None,
            point.max if point.HasField("max") else None,
        ),
    )


def _time_problem(
    point, metric: str, attributes: Attributes, *, gauge: bool
) -> PointProblem | None:
    """No time, a time or start beyond int64 (what every column holds), or a sum or histogram starting after its time."""
    time, start = point.time_unix_nano, point.start_time_unix_nano
    if time == 0:
        return PointProblem(metric, "data point has no time_unix_nano", attributes)
    if time > _INT64_MAX or start > _INT64_MAX:
        return PointProblem(metric, "data point time beyond int64", attributes, "out_of_range")
    if not gauge and start > time:
        return PointProblem(
            metric, "data point starts after its time", attributes, "start_after_time"
        )
    return None


def _attributes(pairs: list[KeyValue]) -> dict[str, str | bool | int | float]:
    return {pair.key: _scalar(pair.value) for pair in pairs}


def _scalar(value: AnyValue) -> str | bool | int | float:
    """A scalar as itself; an array, a key-value list, bytes or no value as a ``TaggedText`` (typed in series ids).

    Arrays and key-value lists are written as compact JSON of their values,
    bytes as hex, no value as the empty text; a double that is no finite
    number (JSON has none) as ``nan``, ``inf`` or ``-inf``.
    """
    which = value.WhichOneof("value")
    if which in ("string_value", "bool_value", "int_value") or (
        which == "double_value" and math.isfinite(value.double_value)
    ):
        return getattr(value, which)
    if which == "double_value":
        text = repr(value.double_value)
    elif which in ("array_value", "kvlist_value"):
        text = _compact(_json(value))
    elif which == "bytes_value":
        text = value.bytes_value.hex()
    else:
        text = ""
    tag, typed = _typed(value)
    return TaggedText(text, tag, _compact(typed))


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json(value: AnyValue):
    """An ``AnyValue`` as a JSON-able value: lists and dicts for arrays and key-value lists."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_json(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {pair.key: _json(pair.value) for pair in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    if which is None:
        return None
    return getattr(value, which)


_TAGS = {
    "string_value": "s",
    "bool_value": "b",
    "int_value": "i",
    "double_value": "d",
    "bytes_value": "x",
    "array_value": "a",
    "kvlist_value": "m",
    None: "n",
}


def _typed(value: AnyValue) -> list:
    """``[tag, value]`` with every nested value typed too; a key-value list's pairs sorted by key (the last wins)."""
    which = value.WhichOneof("value")
    if which == "array_value":
        inner = [_typed(item) for item in value.array_value.values]
    elif which == "kvlist_value":
        pairs = {pair.key: _typed(pair.value) for pair in value.kvlist_value.values}
        inner = sorted(pairs.items())
    elif which == "bytes_value":
        inner = value.bytes_value.hex()
    elif which is None:
        inner = None
    else:
        inner = getattr(value, which)
    return [_TAGS[which], inner]
