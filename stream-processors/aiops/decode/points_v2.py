"""``aiops.points/v2``: one record per OTLP payload and resource, every point in columns.

``to_record`` turns a ``PointBatch`` into the record (a dict; its point
columns stay numpy arrays), ``encode`` writes it as JSON (orjson) and
``decode`` reads it back with plain lists;
``columns`` gives its point columns as numpy arrays without a Python object
per point; ``expand_v1`` gives the ``aiops.points/v1`` dict of each point, for
``aiops points tail`` and for readers that have not moved yet.

Layout (``schemas/points_v2.py`` is the JSON Schema)::

    {"schema": "aiops.points/v2",
     "resource": {...},                       # the resource's attributes, once
     "series": {"id": [...], "metric": [...], "kind": [...], "unit": [...],
                "attributes": [{...}, ...]},  # one dictionary entry per series id in the record
     "bounds": [[0.005, ...], ...],           # distinct histogram bounds
     "points": {"series_id": [...], "flags": [...],   # 1: monotonic, 2: reset
                "interval_start_unix_nano": [...], "time_unix_nano": [...],
                "value": [...], "count": [...], "sum": [...],
                "bounds_index": [...],                # -1 on number points
                "bucket_offsets": [...],              # n + 1 offsets into bucket_counts
                "bucket_counts": [...],
                # only in a record with an exponential histogram (0 on other points):
                "scale": [...], "zero_count": [...], "zero_threshold": [...],
                "positive_offset": [...], "positive_length": [...], "negative_offset": [...],
                "min": [...], "max": [...]}}                  # null: the point has none

An exponential histogram point (kind ``exponential_histogram``) has
``bounds_index`` -1; its buckets are its ``positive_length`` positive counts
from ``positive_offset``, then its negative counts from ``negative_offset``
(OTel's bucket numbering). The columns are added, not changed, so a reader
written before them still reads every other point and leaves these out as
points of an unknown kind (``check_points``: ``unknown_series``).

The label dictionary travels in every record (not on a side topic): a reader
may start at any offset (``points tail --from-beginning``, a rebalance, a
restore by replay) and must read the record alone; a side topic would need a
full read before the first batch, and Kafka does not order records across
topics. The price, measured on synthetic exports: the entries are 64% of a
100-series record's JSON (16 kB of 25 kB), yet the record is 4.8 times smaller
than the same points as v1 records, which repeat every label per point; and a
Kafka producer compresses a batch of records together, where the repeated
entries mostly vanish (ten consecutive records: 253 kB raw, 22 kB zlib-1).

Why JSON (orjson) and not msgpack or Arrow IPC, measured on a 100-series and a
5,000-series export: the same bytes as orjson with lists but 1.4-1.6 times
faster to encode; msgpack is 27% smaller raw but only 6-11% once compressed and
no faster; msgpack with raw array bytes and Arrow decode 1.5-2 times faster but
are opaque to ``kcat`` and JSON Schema, and Arrow adds a 40 MB dependency and
is the slowest to encode small records. Decoding a 100-point record to
columns takes about 80 us, far below the decode itself.

>>> from aiops.bench.synthetic import synthetic_exports
>>> from aiops.decode.columnar import decode_columns
>>> from aiops.decode.delta_columns import DeltaState
>>> (payload,), = synthetic_exports(resources=1, series=8, exports=1)
>>> record = to_record(DeltaState().apply(decode_columns(payload).batches[0]))
>>> again = decode(encode(record))
>>> again["points"]["value"] == record["points"]["value"].tolist() and expand_v1(again) == expand_v1(record)
True
>>> first = expand_v1(record)[0]
>>> first["schema"], first["kind"], first["bucket_counts"][:3], first["series"][:29]
('aiops.points/v1', 'histogram', [2, 2, 10], 'http.server.request.duration{')
>>> columns(record)["time_unix_nano"].dtype
dtype('int64')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numpy as np
import orjson

from aiops.decode.columnar import ExponentialColumns
from aiops.decode.delta_columns import PointBatch
from aiops.decode.otlp import series_key

__all__ = [
    "FLAG_MONOTONIC",
    "FLAG_RESET",
    "SCHEMA",
    "columns",
    "decode",
    "encode",
    "expand_v1",
    "points_in",
    "points_of",
    "to_record",
    "v1_series_key",
]

SCHEMA = "aiops.points/v2"
FLAG_MONOTONIC = 1
FLAG_RESET = 2

_DTYPES = {
    "series_id": np.int64,
    "flags": np.uint8,
    "interval_start_unix_nano": np.int64,
    "time_unix_nano": np.int64,
    "value": np.float64,
    "count": np.int64,
    "sum": np.float64,
    "bounds_index": np.int32,
    "bucket_offsets": np.int64,
    "bucket_counts": np.int64,
    "scale": np.int32,
    "zero_count": np.int64,
    "zero_threshold": np.float64,
    "positive_offset": np.int32,
    "positive_length": np.int32,
    "negative_offset": np.int32,
    "min": np.float64,
    "max": np.float64,
}


def to_record(batch: PointBatch) -> dict:
    """The ``aiops.points/v2`` record of one resource's points; the point columns stay numpy arrays.

    The record shares the batch's resource and attribute dicts (read-only).

    ``encode`` writes the arrays without a Python object per value; ``decode``
    gives the same record back with lists.
    """
    labels = batch.labels
    ids = list(labels)
    exponential = batch.exponential
    entries = list(labels.values())
    flags = (
        batch.monotonic.astype(np.uint8) * FLAG_MONOTONIC
        + batch.reset.astype(np.uint8) * FLAG_RESET
    )
    return {
        "schema": SCHEMA,
        "resource": batch.resource,
        "series": {
            "id": ids,
            "metric": [entry.metric for entry in entries],
            "kind": [entry.kind for entry in entries],
            "unit": [entry.unit for entry in entries],
            "attributes": [
                entry.attributes for entry in entries
            ],  # shared with the interner: read-only
        },
        "bounds": [list(bounds) for bounds in batch.bounds],
        "points": {
            "series_id": batch.series_id,
            "flags": flags,
            "interval_start_unix_nano": batch.interval_start_unix_nano,
            "time_unix_nano": batch.time_unix_nano,
            "value": batch.value,
            "count": batch.count,
            "sum": batch.sum,
            "bounds_index": batch.bounds_index,
            "bucket_offsets": batch.bucket_offsets,
            "bucket_counts": batch.bucket_counts,
            **(
                {}
                if exponential is None
                else {name: getattr(exponential, name) for name in ExponentialColumns.COLUMNS}
            ),
        },
    }


def encode(record: dict) -> bytes:
    """The record's bytes on ``aiops.points``: compact JSON (orjson; numpy columns written natively).

    >>> encode({"schema": SCHEMA, "points": {"value": np.array([1.5]), "flags": [1]}})
    b'{"schema":"aiops.points/v2","points":{"value":[1.5],"flags":[1]}}'
    """
    return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)


def decode(data: bytes) -> dict:
    """A record from its bytes; raises ``ValueError`` when they are not JSON.

    >>> decode(b'{"schema":"aiops.points/v2"}')
    {'schema': 'aiops.points/v2'}
    """
    return orjson.loads(data)


def columns(record: dict) -> dict[str, np.ndarray]:
    """The point columns of a record as numpy arrays (what the batch agents compute on).

    >>> columns({"points": {"value": [1.5, 2.0], "flags": [1, 3]}})["flags"]
    array([1, 3], dtype=uint8)
    """
    return {
        name: np.asarray(values, dtype=_DTYPES.get(name))
        for name, values in record["points"].items()
    }


_SERIES_KEYS: dict[int, str] = {}
"""v1 series keys by series id, across records: the id is a hash of the same labels, so the key is too."""
_SERIES_KEYS_MAX = 500_000


def v1_series_key(sid: int, metric: str, attributes: dict, resource: dict) -> str:
    """The v1 series key of series id ``sid`` (remembered by id: the id is a hash of the same labels)."""
    key = _SERIES_KEYS.get(sid)
    if key is None:
        if len(_SERIES_KEYS) >= _SERIES_KEYS_MAX:
            _SERIES_KEYS.clear()
        key = _SERIES_KEYS[sid] = series_key(metric, attributes, resource)
    return key


def expand_v1(
    record: dict,
    metrics: Collection[str] | None = None,
    keep: Callable[[int, dict], bool] | None = None,
) -> list[dict]:
    """The ``aiops.points/v1`` dict of each point of a v2 record, in order (one Python dict per point).

    For the agents that still work point by point, ``aiops points tail`` and
    readers during the migration; the v1 ``series`` text is rebuilt from the
    labels (and remembered by series id), so it is what v1 wrote. With
    ``metrics``, only the points of those metrics; with ``keep``, only the
    points of the series for which ``keep(series_id, identity)`` is true,
    ``identity`` being the series' ``metric``, ``kind``, ``unit``,
    ``attributes`` and ``resource`` as a dict. The points share the
    record's ``resource`` and ``attributes`` dicts: treat them as read-only.
    """
    resource = record["resource"]
    series = record["series"]
    entries = {
        sid: (metric, kind, unit, attributes, v1_series_key(sid, metric, attributes, resource))
        for sid, metric, kind, unit, attributes in zip(
            series["id"], series["metric"], series["kind"], series["unit"], series["attributes"]
        )
        if (metrics is None or metric in metrics)
        and (
            keep is None
            or keep(
                sid,
                {
                    "metric": metric,
                    "kind": kind,
                    "unit": unit,
                    "attributes": attributes,
                    "resource": resource,
                },
            )
        )
    }
    if not entries:
        return []
    bounds_table = record["bounds"]
    points = {
        name: values.tolist() if isinstance(values, np.ndarray) else values
        for name, values in record["points"].items()
    }
    offsets = points["bucket_offsets"]
    buckets = points["bucket_counts"]
    out = []
    for i, (sid, flags, start, time, value, count, total, bounds) in enumerate(
        zip(
            points["series_id"],
            points["flags"],
            points["interval_start_unix_nano"],
            points["time_unix_nano"],
            points["value"],
            points["count"],
            points["sum"],
            points["bounds_index"],
        )
    ):
        entry = entries.get(sid)
        if entry is None:
            continue
        metric, kind, unit, attributes, key = entry
        point_buckets = buckets[offsets[i] : offsets[i + 1]]
        if kind == "exponential_histogram":
            extra = {"exponential": _exponential_v1(points, i, point_buckets)}
            point_buckets = []
        else:
            extra = {}
        out.append(
            {
                "schema": "aiops.points/v1",
                "series": key,
                "metric": metric,
                "kind": kind,
                "unit": unit,
                "resource": resource,
                "attributes": attributes,
                "interval_start_unix_nano": start,
                "time_unix_nano": time,
                "monotonic": bool(flags & FLAG_MONOTONIC),
                "reset": bool(flags & FLAG_RESET),
                "value": value,
                "count": count,
                "sum": total,
                "bounds": list(bounds_table[bounds]) if bounds >= 0 else [],
                "bucket_counts": point_buckets,
                **extra,
            }
        )
    return out


def _exponential_v1(points: dict, i: int, buckets: list[int]) -> dict:
    """The ``exponential`` part of an exponential histogram's v1 point: OTel's fields, min and max None when absent."""
    split = points["positive_length"][i]
    return {
        "scale": points["scale"][i],
        "zero_count": points["zero_count"][i],
        "zero_threshold": points["zero_threshold"][i],
        "positive": {"offset": points["positive_offset"][i], "bucket_counts": buckets[:split]},
        "negative": {"offset": points["negative_offset"][i], "bucket_counts": buckets[split:]},
        "min": _present(points["min"][i]),
        "max": _present(points["max"][i]),
    }


def points_of(
    record: object,
    metrics: Collection[str] | None = None,
    keep: Callable[[int, dict], bool] | None = None,
) -> list[dict]:
    """The v1 point dicts of any record on the points topic: a v2 record's points, a v1 record itself.

    Readers accept both for one release, so v1 records written before an
    upgrade (or by another tool) still count. Anything else is no point.
    With ``metrics`` (and ``keep``: see :func:`expand_v1`), only the points
    of those metrics (and series).

    >>> points_of({"schema": "aiops.points/v1", "series": "x{}@{}"})
    [{'schema': 'aiops.points/v1', 'series': 'x{}@{}'}]
    >>> points_of("not a record"), points_of({"schema": "aiops.points/v9"})
    ([], [])
    """
    if not isinstance(record, dict):
        return []
    schema = record.get("schema")
    if schema == SCHEMA:
        return expand_v1(record, metrics, keep)
    if schema == "aiops.points/v1" and (metrics is None or record.get("metric") in metrics):
        return [record]
    return []


def points_in(
    data: bytes | None,
    metrics: Collection[str] | None = None,
    keep: Callable[[int, dict], bool] | None = None,
) -> list[dict]:
    """The v1 point dicts of a points-topic record's bytes; none when they are not a points record.

    >>> points_in(b'{"schema": "aiops.points/v1", "series": "x{}@{}"}')
    [{'schema': 'aiops.points/v1', 'series': 'x{}@{}'}]
    >>> points_in(b"not json"), points_in(None)
    ([], [])
    """
    try:
        return points_of(decode(data or b""), metrics, keep)
    except ValueError:
        return []


def _present(value: float | None) -> float | None:
    """None for a value that was not sent (null in JSON, NaN in a column)."""
    return None if value is None or math.isnan(value) else value
