"""One OTLP payload in, ``aiops.points/v2`` records out: the v2 decode agent's whole logic, without I/O.

The columnar counterpart of ``aiops.decode.payload.decode_payload``: decode the
payload into one batch per resource (``decode_columns``), difference it
(``DeltaState.apply``, against the state ``state_of(key)`` gives for the
resource's key) and build one record per resource (``to_record``), with the
Kafka key and partition to send it with. With ``limits`` (what the agent
always passes), points outside the time window or too large to send are
refused before the state sees them (``admit``), and each record is encoded
in parts within ``limits.max_record_bytes`` (``encode_within``). The agent keeps one ``DeltaState``
per resource (checkpointed with ``snapshot`` under the resource's key) and
calls ``state.expire(now, ttl_s)`` and ``interner.rotate()`` on one timer, so
a quiet series' delta state and labels go away together.

>>> from aiops.bench.synthetic import synthetic_exports
>>> state = DeltaState()
>>> (first,), (second,) = synthetic_exports(resources=1, series=8, exports=2)
>>> decode_payload_v2(first, lambda key: state).points, dict(decode_payload_v2(second, lambda key: state).outcomes)
(8, {'emitted': 8})
>>> out = decode_payload_v2(second, lambda key: state, partitions=12)
>>> dict(out.outcomes), out.points, len(out.records[0].record["points"]["series_id"]), out.records[0].partition
({'emitted': 4, 'stale': 4}, 4, 4, 6)
>>> out.records[0].key
'r-142bca78c3fa8462'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from hashlib import blake2b

from aiops.decode.admission import Limits, admit
from aiops.decode.columnar import SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.otlp import PointProblem, resource_partition
from aiops.decode.points_split import encode_within
from aiops.decode.points_v2 import encode, to_record

__all__ = ["DecodeV2Result", "OutRecord", "decode_payload_v2", "resource_record_key"]


def resource_record_key(resource_text: str) -> str:
    """The Kafka key of a resource's records: ``r-`` and 16 hex digits of BLAKE2b-64 of its canonical attributes."""
    return "r-" + blake2b(resource_text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class OutRecord:
    """One ``aiops.points/v2`` record with its Kafka key (the resource's id) and partition, and its bytes."""

    key: str
    partition: int
    record: dict
    points: int
    value: bytes


@dataclass
class DecodeV2Result:
    """The records to send, the points refused with their reasons, and a tally of outcomes.

    ``problems`` holds every refused point (unreadable, outside the limits,
    or with an infinite delta); none of them changed any state.
    """

    records: list[OutRecord] = field(default_factory=list)
    problems: list[PointProblem] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)

    @property
    def points(self) -> int:
        """Points in all records (what ``aiops_decode_points_total`` counts)."""
        return sum(record.points for record in self.records)


_JSON_PER_PROTOBUF_BYTE = 6
"""Most JSON bytes one byte of OTLP protobuf becomes in a record (a control character escaped as ``\u001f``)."""
_POINT_JSON = 4_096
"""A point's numbers and keys in a record, with room to spare."""


def _fits(payload_bytes: int, max_record_bytes: int | None) -> bool:
    """Whether every point of a payload this size fits in a record of ``max_record_bytes`` (None: no limit).

    A point's record holds its labels, the resource, its bounds and buckets:
    all of them in the payload, none more than 6 times larger as JSON.

    >>> _fits(30_000, 1_000_000), _fits(200_000, 1_000_000), _fits(10**9, None)
    (True, False, True)
    """
    return max_record_bytes is None or (
        payload_bytes * _JSON_PER_PROTOBUF_BYTE + _POINT_JSON <= max_record_bytes
    )


def decode_payload_v2(
    payload: bytes,
    state_of: Callable[[str], DeltaState],
    interner: SeriesInterner | None = None,
    partitions: int = 1,
    limits: Limits | None = None,
) -> DecodeV2Result:
    """Decode, admit, difference and package one payload; raises ``MalformedPayload`` when it is not OTLP.

    Without ``limits`` every readable point is admitted and each resource
    gives one record, however large.

    Resources left with no point to send (all baselines or stale replays)
    give no record. The partition is ``aiops.decode.otlp.resource_partition``'s
    (crc32 of the resource's label set), so v1 and v2 put a resource on the
    same partition; the key is ``r-`` and 16 hex digits of BLAKE2b-64 of the
    resource's canonical attributes (``aiops.decode.series_id``).
    """
    result = DecodeV2Result()
    decoded = decode_columns(payload, interner)
    result.problems = decoded.problems
    admission = limits
    if limits is not None and _fits(len(payload), limits.max_record_bytes):
        admission = replace(limits, max_record_bytes=None)  # no point of it can be too large
    for batch in decoded.batches:
        if admission is not None:
            batch, refused = admit(batch, admission)
            result.problems += refused
        key = resource_record_key(batch.resource_text)
        points = state_of(key).apply(batch)
        result.outcomes.update(points.outcomes)
        result.problems += points.problems
        if not len(points):
            continue
        partition = resource_partition(batch.resource, partitions)
        record = to_record(points)
        if limits is None or limits.max_record_bytes is None:
            result.records.append(OutRecord(key, partition, record, len(points), encode(record)))
            continue
        parts, too_large = encode_within(record, limits.max_record_bytes)
        result.problems += too_large
        result.records += [OutRecord(key, partition, part, n, value) for part, n, value in parts]
    return result
