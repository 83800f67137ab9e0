"""A points record checked at a reader's door: the whole record refused with a reason, or its bad points.

Readers of ``aiops.points`` (the SLI and detect agents, ``aiops points
tail``) call ``check_points`` on each record's bytes before they touch
it. A record that cannot be read as a whole (not JSON, not a mapping, a
schema it is not, a missing ``series`` or ``metric`` list, a ``resource``
that is not a mapping of scalars, columns whose lengths disagree, bucket
offsets that do not cover ``bucket_counts``, bounds that are not
increasing finite numbers) raises ``BadPointsRecord`` with the reason. A
record that can be read keeps its good points; each bad point (a series id
without a valid dictionary entry, a time that is not positive, a NaN or
infinite value or sum, an entry that is not a number, a negative count or
bucket or monotonic delta, unknown flags, a histogram whose buckets do not
fit its bounds or add up to its count, an exponential histogram without its
columns, with a scale outside -10..20, a zero threshold that is not a finite
number >= 0, or buckets and zero count that add up to more than its count)
is left out with a reason code
(``POINT_REASONS``). The checks run on numpy columns; only a column that
holds something other than numbers takes a step of Python per entry.

The rules are the model's (``aiops.schemas.PointsV2``) and more: a record
that passes without problems also validates against the model.

>>> from aiops.bench.synthetic import synthetic_exports
>>> from aiops.decode.columnar import decode_columns
>>> from aiops.decode.delta_columns import DeltaState
>>> from aiops.decode.points_v2 import encode, to_record
>>> (payload,), = synthetic_exports(resources=1, series=8, exports=1)
>>> data = encode(to_record(DeltaState().apply(decode_columns(payload).batches[0])))
>>> checked = check_points(data)
>>> len(checked), checked.problems, len(checked.points()), checked.columns["value"].dtype
(8, [], 8, dtype('float64'))
>>> bad = data.replace(b'"value":[0.0', b'"value":["x"', 1)
>>> [(p.index, p.code) for p in check_points(bad).problems], len(check_points(bad))
([(0, 'not_numeric')], 7)
>>> check_points(b'{"schema": "aiops.points/v2", "resource": []}')
Traceback (most recent call last):
...
aiops.decode.points_check.BadPointsRecord: resource is not a mapping of attribute values
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from pydantic import ValidationError

from aiops.decode.columnar import keep_buckets
from aiops.decode.points_v2 import FLAG_MONOTONIC, FLAG_RESET, SCHEMA, decode, expand_v1
from aiops.decode.points_v2 import columns as typed_columns
from aiops.schemas.points import PointV1
from aiops.schemas.points_v2 import EXPONENTIAL_COLUMNS

__all__ = [
    "POINT_REASONS",
    "BadPointsRecord",
    "CheckedPoints",
    "PointsProblem",
    "check_points",
    "checked_as_sent",
]

POINT_REASONS: dict[str, str] = {
    "unknown_series": "its series id has no valid entry in the record's series dictionary",
    "not_numeric": "one of its fields is not a number (or an integer where one is needed)",
    "bad_time": "its time is not positive, or its interval starts before 0 or after its time",
    "not_finite": "its value or sum is NaN or infinite",
    "negative": "a negative count or bucket count, or a negative delta of a monotonic sum",
    "bad_flags": "flags other than monotonic (1) and reset (2)",
    "bad_histogram": "a histogram whose bounds or bucket counts do not fit, or a number point with buckets",
    "bad_exponential": "an exponential histogram without its columns, or whose scale, zero "
    "threshold, zero count or buckets do not fit",
}
"""Code → what is wrong with a point ``check_points`` leaves out."""

_INT_COLUMNS = (
    "series_id",
    "flags",
    "interval_start_unix_nano",
    "time_unix_nano",
    "count",
    "bounds_index",
)
_FLOAT_COLUMNS = ("value", "sum")
_BUCKETS = ("bucket_offsets", "bucket_counts")
_COLUMNS = (*_INT_COLUMNS, *_FLOAT_COLUMNS, *_BUCKETS)
_SERIES = ("id", "metric", "kind", "unit", "attributes")
_KINDS = {"gauge": 0, "sum": 1, "histogram": 2, "exponential_histogram": 3}
_EXPONENTIAL = 3
_EXPONENTIAL_INTS = ("scale", "zero_count", "positive_offset", "positive_length", "negative_offset")
_EXPONENTIAL_FLOATS = ("zero_threshold", "min", "max")
_INT64 = (-(2**63), 2**63 - 1)
_SCALARS = {str, bool, int, float}


class BadPointsRecord(ValueError):
    """A points record that cannot be read at all; ``reason`` says why (for the dead-letter topic)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PointsProblem:
    """A point left out: its index in the record as received, and why."""

    index: int
    code: str


@dataclass
class CheckedPoints:
    """A record's good points: ``record`` with its point columns as typed numpy arrays, and the points left out."""

    record: dict
    problems: list[PointsProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.record["points"]["series_id"]) if "points" in self.record else 1

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The good points' columns (``aiops.points/v2``; a v1 record has none)."""
        return self.record.get("points", {})

    def points(self, metrics: Collection[str] | None = None) -> list[dict]:
        """The good points as ``aiops.points/v1`` dicts (``expand_v1``); with ``metrics``, those metrics' only."""
        if self.record.get("schema") == SCHEMA:
            return expand_v1(self.record, metrics)
        return [self.record] if metrics is None or self.record["metric"] in metrics else []

    @property
    def refused(self) -> Counter:
        """Points left out, by code."""
        return Counter(problem.code for problem in self.problems)


def check_points(data: bytes | Mapping) -> CheckedPoints:
    """Check one record of the points topic (its bytes, or the decoded dict); raises ``BadPointsRecord``.

    An ``aiops.points/v1`` record (one point) is checked against its model
    and either kept whole or refused. The result's ``record`` is a new dict
    that shares the input's resource, attribute and bounds values (read-only);
    the input is not changed.
    """
    record = _load(data)
    schema = record.get("schema")
    if schema == "aiops.points/v1":
        return CheckedPoints(_check_v1(record))
    if schema != SCHEMA:
        raise BadPointsRecord(f"schema is {str(schema)[:80]!r}, not {SCHEMA!r}")
    resource = record.get("resource")
    if not _attributes_ok(resource):
        raise BadPointsRecord("resource is not a mapping of attribute values")
    bounds = _bounds(record.get("bounds"))
    entries = _series(record.get("series"))
    points = record.get("points")
    if not isinstance(points, Mapping):
        raise BadPointsRecord("points is not a mapping of columns")
    columns, not_numeric, bad_buckets = _columns(points)
    n = len(columns["series_id"])
    offsets, buckets = columns["bucket_offsets"], columns["bucket_counts"]
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(n), lengths)
    not_numeric[owner[bad_buckets]] = True
    bad: dict[str, np.ndarray] = {"not_numeric": not_numeric}
    kind = _kinds_of(columns["series_id"], entries)
    bad["unknown_series"] = kind < 0
    start, time = columns["interval_start_unix_nano"], columns["time_unix_nano"]
    bad["bad_time"] = (time <= 0) | (start < 0) | ((kind > 0) & (start > time))
    bad["not_finite"] = ~(np.isfinite(columns["value"]) & np.isfinite(columns["sum"]))
    flags = columns["flags"]
    negative_bucket = np.zeros(n, dtype=bool)
    negative_bucket[owner[buckets < 0]] = True
    bad["negative"] = (
        (columns["count"] < 0)
        | negative_bucket
        | ((kind == 1) & ((flags & FLAG_MONOTONIC) > 0) & (columns["value"] < 0))
    )
    bad["bad_flags"] = (flags < 0) | (flags > FLAG_MONOTONIC | FLAG_RESET)
    bad["bad_histogram"] = _histograms_wrong(columns, kind, lengths, bounds)
    bad["bad_exponential"] = _exponential_wrong(columns, kind, lengths)
    keep = np.ones(n, dtype=bool)
    problems: list[PointsProblem] = []
    out = columns
    if np.logical_or.reduce(list(bad.values())).any():
        for code in POINT_REASONS:
            hit = bad[code] & keep
            problems += [PointsProblem(i, code) for i in np.flatnonzero(hit).tolist()]
            keep &= ~hit
        problems.sort(key=lambda problem: problem.index)
        out = {name: column[keep] for name, column in columns.items() if name not in _BUCKETS}
        out["bucket_offsets"], out["bucket_counts"] = keep_buckets(offsets, buckets, keep)
    series = record["series"]
    entry_ids, _, valid = entries
    if not (valid.all() and keep.all()):
        used = valid & np.isin(entry_ids, out["series_id"])
        rows = np.flatnonzero(used).tolist()
        series = {name: [series[name][i] for i in rows] for name in _SERIES}
    return CheckedPoints(
        {
            "schema": SCHEMA,
            "resource": resource,
            "series": {name: series[name] for name in _SERIES},
            "bounds": bounds,
            "points": typed_columns({"points": out}),
        },
        problems,
    )


def checked_as_sent(record: Mapping) -> CheckedPoints | None:
    """What ``check_points(encode(record))`` gives for a record the decoder made, without the JSON round trip.

    The decoder sends only points the check accepts (``tests/unit/test_fuzz_decode.py``
    holds it to that, record by record), so nothing is refused; the series lists
    and dicts are the record's own (read-only), the columns typed as the check
    types them. ``None`` when a label value would not come back from JSON as it
    is (the text of a list or of bytes, a NaN): such a record is read from its bytes.
    """
    series = record["series"]
    if not (
        _plain(record["resource"].values())
        and _plain(chain.from_iterable(map(dict.values, series["attributes"])))
    ):
        return None
    return CheckedPoints(
        {
            "schema": SCHEMA,
            "resource": record["resource"],
            "series": {name: series[name] for name in _SERIES},
            "bounds": [[float(b) for b in row] for row in record["bounds"]],
            "points": typed_columns(record),
        }
    )


def _plain(values: Iterable) -> bool:
    """Whether every value is a str, bool, int or finite float (what JSON gives back unchanged)."""
    values = list(values)
    types = set(map(type, values))
    return types <= _SCALARS and (
        float not in types or all(math.isfinite(v) for v in values if type(v) is float)
    )


def _load(data: bytes | Mapping) -> Mapping:
    if isinstance(data, Mapping):
        return data
    try:
        record = decode(data)
    except (ValueError, TypeError, RecursionError) as error:
        raise BadPointsRecord(f"not JSON: {str(error)[:200]}") from None
    if not isinstance(record, Mapping):
        raise BadPointsRecord(f"a JSON {type(record).__name__}, not an object")
    return record


def _check_v1(record: Mapping) -> dict:
    try:
        point = PointV1.model_validate(record)
    except ValidationError as error:
        raise BadPointsRecord(f"not an aiops.points/v1 point: {str(error)[:300]}") from None
    if not (math.isfinite(point.value) and math.isfinite(point.sum)):
        raise BadPointsRecord("value or sum is not finite")
    return dict(record)


def _attributes_ok(attributes) -> bool:
    return (
        isinstance(attributes, Mapping)
        and set(map(type, attributes)) <= {str}
        and set(map(type, attributes.values())) <= _SCALARS
    )


def _bounds(bounds) -> list[list[float]]:
    if not isinstance(bounds, list):
        raise BadPointsRecord("bounds is not a list of bound lists")
    out = []
    for i, row in enumerate(bounds):
        if not isinstance(row, list) or not all(
            isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in row
        ):
            raise BadPointsRecord(f"bounds[{i}] is not a list of finite numbers")
        if any(b >= a for a, b in zip(row[1:], row)):
            raise BadPointsRecord(f"bounds[{i}] is not increasing")
        out.append([float(b) for b in row])
    return out


def _series(series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each dictionary entry's id, kind code and validity; an id given twice with different labels is invalid.

    Checked on whole lists first (C loops over types); entry by entry only when that fails.
    """
    if not isinstance(series, Mapping) or not all(isinstance(series.get(n), list) for n in _SERIES):
        raise BadPointsRecord("series is not a mapping of the lists " + ", ".join(_SERIES))
    if len({len(series[name]) for name in _SERIES}) != 1:
        raise BadPointsRecord("series: the lists " + ", ".join(_SERIES) + " differ in length")
    ids, metrics, kinds, units, attributes = (series[name] for name in _SERIES)
    id_column, bad_ids = _ints(ids)
    if (
        not bad_ids.any()
        and set(map(type, metrics)) <= {str}
        and "" not in metrics
        and set(map(type, kinds)) <= {str}
        and set(kinds) <= _KINDS.keys()
        and set(map(type, units)) <= {str}
        and set(map(type, attributes)) <= {dict}
        and set(map(type, chain.from_iterable(attributes))) <= {str}
        and set(map(type, chain.from_iterable(map(dict.values, attributes)))) <= _SCALARS
    ):
        valid = np.ones(len(ids), dtype=bool)
    else:
        valid = ~bad_ids & np.array(
            [
                isinstance(metric, str)
                and metric != ""
                and isinstance(kind, str)
                and kind in _KINDS
                and isinstance(unit, str)
                and _attributes_ok(labels)
                for metric, kind, unit, labels in zip(metrics, kinds, units, attributes)
            ],
            dtype=bool,
        )
    codes = np.array(
        [_KINDS.get(kind, -1) if type(kind) is str else -1 for kind in kinds], dtype=np.int8
    )
    if len(set(id_column.tolist())) != len(ids):
        first: dict = {}
        for i in np.flatnonzero(valid).tolist():
            entry = (metrics[i], kinds[i], units[i], attributes[i])
            j = first.setdefault(ids[i], i)
            if j != i and (metrics[j], kinds[j], units[j], attributes[j]) != entry:
                valid[[i, j]] = False
    return id_column, codes, valid


def _columns(points: Mapping) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Int64 and float64 columns, which points have an entry that is not a number, and which bucket entries."""
    missing = [name for name in _COLUMNS if not isinstance(points.get(name), list | np.ndarray)]
    if missing:
        raise BadPointsRecord(f"points: no column {', '.join(missing)}")
    n = len(points["series_id"])
    lengths = {
        name: len(points[name])
        for name in _COLUMNS
        if name not in ("bucket_offsets", "bucket_counts")
    }
    if any(length != n for length in lengths.values()):
        raise BadPointsRecord(
            "points: columns differ in length: " + ", ".join(f"{k} {v}" for k, v in lengths.items())
        )
    columns: dict[str, np.ndarray] = {}
    bad = np.zeros(n, dtype=bool)
    for name in _INT_COLUMNS:
        columns[name], invalid = _ints(points[name])
        bad |= invalid
    for name in _FLOAT_COLUMNS:
        columns[name], invalid = _floats(points[name])
        bad |= invalid
    if any(isinstance(points.get(name), list | np.ndarray) for name in EXPONENTIAL_COLUMNS):
        missing = [
            n for n in EXPONENTIAL_COLUMNS if not isinstance(points.get(n), list | np.ndarray)
        ]
        if missing:
            raise BadPointsRecord(
                f"points: no column {', '.join(missing)} (exponential histograms)"
            )
        if any(len(points[name]) != n for name in EXPONENTIAL_COLUMNS):
            raise BadPointsRecord("points: the exponential histogram columns differ in length")
        for name in _EXPONENTIAL_INTS:
            columns[name], invalid = _ints(points[name])
            bad |= invalid
        for name in _EXPONENTIAL_FLOATS:
            columns[name], invalid = _floats(points[name], none=name != "zero_threshold")
            bad |= invalid
    offsets, invalid = _ints(points["bucket_offsets"])
    buckets, bad_buckets = _ints(points["bucket_counts"])
    if (
        invalid.any()
        or len(offsets) != n + 1
        or offsets[0] != 0
        or offsets[-1] != len(buckets)
        or (np.diff(offsets) < 0).any()
    ):
        raise BadPointsRecord(
            "points.bucket_offsets: not n + 1 offsets from 0 up to len(bucket_counts)"
        )
    columns["bucket_offsets"], columns["bucket_counts"] = offsets, buckets
    return columns, bad, np.flatnonzero(bad_buckets)


def _array(values) -> np.ndarray:
    """``values`` as numpy sees them; ragged nesting is an object array (one entry each)."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        return np.array([None])


def _ints(values) -> tuple[np.ndarray, np.ndarray]:
    """An int64 column and which entries were not int64 integers (0 in their place)."""
    array = _array(values)
    if array.dtype.kind == "i" and array.ndim == 1:
        return array.astype(np.int64, copy=False), np.zeros(len(array), dtype=bool)
    if array.dtype.kind == "u" and array.ndim == 1:
        invalid = array > _INT64[1]
        return np.where(invalid, 0, array).astype(np.int64), invalid
    invalid = np.array(
        [not (type(v) is int and _INT64[0] <= v <= _INT64[1]) for v in values], dtype=bool
    )
    return np.array([0 if bad else v for v, bad in zip(values, invalid)], dtype=np.int64), invalid


def _floats(values, none: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A float64 column and which entries were not numbers (NaN in their place, so also not finite).

    With ``none``, a None (JSON null) is a valid entry, read as NaN.
    """
    array = _array(values)
    if array.dtype.kind in "iuf" and array.ndim == 1:
        return array.astype(np.float64), np.zeros(len(array), dtype=bool)
    invalid = np.array(
        [
            not (none and v is None) and (isinstance(v, bool) or not isinstance(v, int | float))
            for v in values
        ],
        dtype=bool,
    )
    return (
        np.array(
            [math.nan if bad or v is None else float(v) for v, bad in zip(values, invalid)],
            dtype=np.float64,
        ),
        invalid,
    )


def _kinds_of(ids: np.ndarray, entries: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Each point's kind code (0 gauge, 1 sum, 2 histogram), -1 where its id has no valid entry."""
    entry_ids, codes, valid = entries
    if not valid.any() or not len(ids):
        return np.full(len(ids), -1, dtype=np.int8)
    order = np.argsort(entry_ids[valid], kind="stable")
    known, kinds = entry_ids[valid][order], codes[valid][order]
    at = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
    return np.where(known[at] == ids, kinds[at], -1).astype(np.int8)


def _histograms_wrong(
    columns: dict, kind: np.ndarray, lengths: np.ndarray, bounds: list
) -> np.ndarray:
    index = columns["bounds_index"]
    widths = np.array([len(row) for row in bounds] + [-1], dtype=np.int64)
    valid_index = (index >= 0) & (index < len(bounds))
    width = widths[np.where(valid_index, index, len(bounds))]
    buckets = columns["bucket_counts"]
    totals = np.concatenate(([0], np.cumsum(buckets)))
    offsets = columns["bucket_offsets"]
    added = totals[offsets[1:]] - totals[offsets[:-1]]
    histogram = kind == 2
    number = (kind == 0) | (kind == 1)
    return (histogram & ~(valid_index & (lengths == width + 1) & (added == columns["count"]))) | (
        number & ((index != -1) | (lengths != 0))
    )


def _exponential_wrong(columns: dict, kind: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Exponential histograms without the columns, with a scale, zero threshold or bucket split that does
    not fit, or with more observations in buckets than in their count."""
    exponential = kind == _EXPONENTIAL
    if "scale" not in columns:
        return exponential
    threshold = columns["zero_threshold"]
    totals = np.concatenate(([0], np.cumsum(columns["bucket_counts"])))
    offsets = columns["bucket_offsets"]
    added = totals[offsets[1:]] - totals[offsets[:-1]] + columns["zero_count"]
    return exponential & (
        (added > columns["count"])
        | (columns["bounds_index"] != -1)
        | (columns["scale"] < -10)
        | (columns["scale"] > 20)
        | (columns["zero_count"] < 0)
        | ~np.isfinite(threshold)
        | (threshold < 0)
        | (columns["positive_length"] < 0)
        | (columns["positive_length"] > lengths)
    )
