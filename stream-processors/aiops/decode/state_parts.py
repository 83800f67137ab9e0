"""A resource's delta-state snapshot as JSON parts that each fit in one record.

The decode agent keeps each resource's ``DeltaState`` in one key of a
changelogged table. A resource with many streams (about 15,000 counters, or
fewer histograms) has a snapshot larger than ``AIOPS_MAX_RECORD_BYTES``,
which the changelog refuses. ``snapshot_parts`` cuts such a snapshot into
parts of at most ``limit`` bytes: the first part keeps the snapshot's other
fields and says how many parts there are (``parts``), the others hold only
streams. ``join_parts`` puts them back together. A snapshot that fits is one
part, byte for byte the JSON of the snapshot, so a state written by a release
without parts reads the same.

>>> snapshot = {"streams": {"s": [[i, 1, 2, 3.0] for i in range(100)]}, "expired": 0, "capped": 0}
>>> parts = snapshot_parts(snapshot, limit=1_000)
>>> len(parts), max(map(len, parts)) <= 1_000
(2, True)
>>> joined = join_parts(parts[0], lambda i: parts[i])
>>> joined.pop("parts"), joined == snapshot
(2, True)
>>> snapshot_parts(snapshot, limit=100_000) == [orjson.dumps(snapshot)]
True
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

__all__ = ["join_parts", "part_key", "snapshot_parts"]

_HEAD_BYTES = 256
"""Room kept in every part for its braces, field names, counts and the scope's name."""


def part_key(key: str, index: int) -> str:
    """The table key of part ``index`` (from 1) of ``key``'s state; part 0 is ``key`` itself.

    >>> part_key("svc|pod-1", 2)
    'svc|pod-1#part2'
    """
    return key if index == 0 else f"{key}#part{index}"


def snapshot_parts(snapshot: dict, limit: int) -> list[bytes]:
    """``snapshot`` as JSON parts of at most ``limit`` bytes; one part when it fits.

    Streams are cut between rows, in order. A stream whose row alone does not
    fit in a part (no decoded point is that large: the decode refuses points
    over the limit) is left out and counted in ``expired``: its next point
    starts it over, as after the TTL.
    """
    whole = orjson.dumps(snapshot)
    if len(whole) <= limit:
        return [whole]
    budget = limit - _HEAD_BYTES
    chunks: list[dict[str, list]] = [{}]
    size = 0
    left_out = 0
    for scope, rows in snapshot["streams"].items():
        scope_bytes = len(orjson.dumps(scope)) + 4
        for row in rows:
            row_bytes = len(orjson.dumps(row)) + 1
            if row_bytes + scope_bytes > budget:
                left_out += 1
                continue
            if size + row_bytes + (0 if scope in chunks[-1] else scope_bytes) > budget:
                chunks.append({})
                size = 0
            if scope not in chunks[-1]:
                size += scope_bytes
            chunks[-1].setdefault(scope, []).append(row)
            size += row_bytes
    head = {key: value for key, value in snapshot.items() if key != "streams"}
    head["expired"] = head.get("expired", 0) + left_out
    return [orjson.dumps({**head, "streams": chunks[0], "parts": len(chunks)})] + [
        orjson.dumps({"streams": chunk}) for chunk in chunks[1:]
    ]


def join_parts(first: bytes | dict, part: Callable[[int], bytes | dict | None]) -> dict:
    """The snapshot whose first part is ``first``; ``part(i)`` reads part ``i`` (a missing one is skipped).

    Each part is JSON bytes or already a dict (a table that decoded it). The
    result's ``parts`` says how many parts it was read from.
    """
    head = orjson.loads(first) if isinstance(first, bytes | bytearray | str) else dict(first)
    count = head.setdefault("parts", 1)
    streams = {scope: list(rows) for scope, rows in head["streams"].items()}
    for index in range(1, count):
        value = part(index)
        if value is None:
            continue
        body = orjson.loads(value) if isinstance(value, bytes | bytearray | str) else value
        for scope, rows in body["streams"].items():
            streams.setdefault(scope, []).extend(rows)
    head["streams"] = streams
    return head
