"""An ``aiops.points/v2`` record as one or more encoded parts, none larger than a byte limit.

Kafka refuses a record over the topic's ``max.message.bytes`` (a broker's
default is about 1 MiB) and a refused send used to stop the decode agent. A
record over ``max_bytes`` is cut in halves by point until every part fits,
each part a complete record with its own series dictionary and bounds, so a
reader needs nothing but the part. A single point that does not fit alone (a
point with 47,000 attributes did: 4.7 MB) is refused as a ``PointProblem``
with code ``too_large``; the points beside it are still sent.

>>> from aiops.bench.synthetic import synthetic_exports
>>> from aiops.decode.columnar import decode_columns
>>> from aiops.decode.delta_columns import DeltaState
>>> from aiops.decode.points_v2 import decode, expand_v1, to_record
>>> (payload,), = synthetic_exports(resources=1, series=8, exports=1)
>>> record = to_record(DeltaState().apply(decode_columns(payload).batches[0]))
>>> parts, problems = encode_within(record, max_bytes=1_000_000)
>>> [points for _, points, _ in parts], parts[0][0] is record, problems
([8], True, [])
>>> parts, problems = encode_within(record, max_bytes=1_500)
>>> [points for _, points, _ in parts], all(len(data) <= 1_500 for _, _, data in parts), problems
([2, 2, 4], True, [])
>>> sum((expand_v1(decode(data)) for _, _, data in parts), []) == expand_v1(record)
True
"""

from __future__ import annotations

import numpy as np

from aiops.decode.otlp import PointProblem
from aiops.decode.points_v2 import encode

__all__ = ["encode_within", "slice_record"]


def encode_within(
    record: dict, max_bytes: int
) -> tuple[list[tuple[dict, int, bytes]], list[PointProblem]]:
    """The record in parts of at most ``max_bytes`` each (part, its points, its bytes), and the points refused.

    One part, the record itself, when it fits, which is the usual case.
    """
    parts: list[tuple[dict, int, bytes]] = []
    problems: list[PointProblem] = []
    _encode(record, max_bytes, parts, problems)
    return parts, problems


def _encode(record: dict, max_bytes: int, parts: list, problems: list) -> None:
    data = encode(record)
    n = len(record["points"]["series_id"])
    if len(data) <= max_bytes:
        parts.append((record, n, data))
    elif n == 1:
        series = record["series"]
        problems.append(
            PointProblem(
                series["metric"][0],
                f"its record is {len(data)} bytes, more than {max_bytes}",
                series["attributes"][0],
                "too_large",
            )
        )
    else:
        _encode(slice_record(record, 0, n // 2), max_bytes, parts, problems)
        _encode(slice_record(record, n // 2, n), max_bytes, parts, problems)


def slice_record(record: dict, start: int, stop: int) -> dict:
    """The record of points ``start`` to ``stop`` (excluded): their columns, series entries and bounds only.

    >>> record = {"schema": "aiops.points/v2", "resource": {}, "bounds": [[1.0], [2.0]],
    ...     "series": {"id": [7, 8], "metric": ["a", "b"], "kind": ["gauge", "histogram"],
    ...                "unit": ["", ""], "attributes": [{}, {}]},
    ...     "points": {"series_id": [7, 8], "bounds_index": [-1, 1], "bucket_offsets": [0, 0, 2],
    ...                "bucket_counts": [3, 4]}}
    >>> part = slice_record(record, 1, 2)
    >>> part["series"]["id"], part["bounds"], part["points"]["bounds_index"].tolist(), part["points"]["bucket_offsets"].tolist()
    ([8], [[2.0]], [0], [0, 2])
    """
    points = {name: np.asarray(values) for name, values in record["points"].items()}
    offsets = points["bucket_offsets"]
    first, last = int(offsets[start]), int(offsets[stop])
    out = {name: values[start:stop] for name, values in points.items()}
    out["bucket_offsets"] = offsets[start : stop + 1] - first
    out["bucket_counts"] = points["bucket_counts"][first:last]
    used = sorted({int(b) for b in out["bounds_index"].tolist() if b >= 0})
    new_index = np.full(len(record["bounds"]) + 1, -1, dtype=np.int32)  # index -1 stays -1
    new_index[used] = np.arange(len(used), dtype=np.int32)
    out["bounds_index"] = new_index[out["bounds_index"]]
    ids = set(out["series_id"].tolist())
    series = record["series"]
    rows = [i for i, sid in enumerate(series["id"]) if sid in ids]
    return {
        **record,
        "series": {name: [values[i] for i in rows] for name, values in series.items()},
        "bounds": [record["bounds"][i] for i in used],
        "points": out,
    }
