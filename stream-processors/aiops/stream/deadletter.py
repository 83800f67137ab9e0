"""Dead-letter records: the original bytes, where they came from, and why they were set aside.

>>> record = deadletter_record(b"\\x01", reason="bad", kind="malformed_payload", stage="decode",
...                            topic="otlp_metrics", partition=0, offset=7, timestamp=1.5)
>>> record["payload_base64"], record["source"]["offset"]
('AQ==', 7)
"""

from __future__ import annotations

import base64

__all__ = ["deadletter_record"]


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
