"""Dead-letter records: the original bytes, where they came from, and why they were set aside.

>>> record = deadletter_record(b"\\x01", reason="bad", kind="malformed_payload", stage="decode",
...                            topic="otlp_metrics", partition=0, offset=7, timestamp=1.5)
>>> record["payload_base64"], record["source"]["offset"]
('AQ==', 7)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from aiops.decode.rejections import bounded_payload

__all__ = ["deadletter_record", "refused_points_reason", "refused_record"]


def deadletter_record(
    payload: bytes,
    *,
    reason: str,
    kind: str,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp: float | None,
) -> dict:
    """The JSON record written to the dead-letter topic (schema ``aiops.deadletter/v1``)."""
    return {
        "schema": "aiops.deadletter/v1",
        "stage": stage,
        "kind": kind,
        "reason": reason,
        "source": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": timestamp,
        },
        "payload_base64": base64.b64encode(payload).decode("ascii"),
    }


def refused_record(
    message: Any, payload: bytes, *, kind: str, reason: str, stage: str, max_record_bytes: int
) -> dict:
    """The dead-letter record of a Kafka ``message`` an agent refused, its payload cut to fit the topic.

    >>> from types import SimpleNamespace
    >>> message = SimpleNamespace(topic="aiops.points", partition=3, offset=9, timestamp=1.0)
    >>> record = refused_record(message, bytes(100), kind="bad_points_record", reason="not JSON",
    ...                         stage="detect", max_record_bytes=100)
    >>> record["reason"], record["source"]["offset"]
    ('not JSON (payload cut to its first 37 of 100 bytes)', 9)
    """
    kept, cut = bounded_payload(payload, max_record_bytes)
    return deadletter_record(
        kept,
        reason=reason[: max_record_bytes // 8] + cut,
        kind=kind,
        stage=stage,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=message.timestamp,
    )


def refused_points_reason(refused: Mapping[str, int], total: int) -> str:
    """Why points of a record were left out, by reason code.

    >>> refused_points_reason({"not_finite": 2, "negative": 1}, 100)
    '3 of 100 points refused: negative 1, not_finite 2'
    """
    codes = ", ".join(f"{code} {count}" for code, count in sorted(refused.items()))
    return f"{sum(refused.values())} of {total} points refused: {codes}"
