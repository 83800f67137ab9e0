"""Dead-letter records: the original bytes, where they came from, and why they were set aside.

``deadletter_record`` builds one record (schema ``aiops.deadletter/v1``);
with a ``limit`` it fits that many bytes however large the payload: a payload
whose base64 would not fit half the limit keeps only its start (the reason
says how much, ``payload_bytes`` how large it was), and the reason keeps at
most an eighth of the limit. ``DeadLetters`` is the worker's way to send them,
each bounded by ``max_record_bytes``: ``refuse`` sets aside a
message an agent will not process, ``on_error`` around the
processing of one event sets the event aside instead of letting the agent
crash on it, and ``unreadable_batch`` reports a record batch the fetcher
could not read (``aiops.stream.fetch``), so no record stops a partition.

>>> record = deadletter_record(b"\\x01", reason="bad", kind="malformed_payload", stage="decode",
...                            topic="otlp_metrics", partition=0, offset=7, timestamp=1.5)
>>> record["payload_base64"], record["source"]["offset"]
('AQ==', 7)
>>> big = deadletter_record(bytes(100), reason="bad", kind="processing_error", stage="sli",
...                         topic="aiops.points", partition=0, offset=8, timestamp=None, limit=100)
>>> len(big["payload_base64"]), big["payload_bytes"], big["reason"]
(52, 100, 'bad (payload cut to its first 37 of 100 bytes)')
"""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiops.decode.rejections import bounded_payload

if TYPE_CHECKING:  # the forwarder builds dead letters too, without Faust
    import faust
    from faust.types import TP, EventT

    from aiops.settings import Settings
    from aiops.stream.metrics import StreamMetrics

__all__ = ["DeadLetters", "Guard", "deadletter_record", "refused_points_reason"]

log = logging.getLogger(__name__)


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
    limit: int | None = None,
) -> dict:
    """The JSON record written to the dead-letter topic (schema ``aiops.deadletter/v1``), within ``limit`` bytes."""
    kept, cut = (payload, "") if limit is None else bounded_payload(payload, limit)
    record = {
        "schema": "aiops.deadletter/v1",
        "stage": stage,
        "kind": kind,
        "reason": reason if limit is None else reason[: limit // 8] + cut,
        "source": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": timestamp,
        },
        "payload_base64": base64.b64encode(kept).decode("ascii"),
    }
    if cut:
        record["payload_bytes"] = len(payload)
    return record


@dataclass
class Guard:
    """What ``DeadLetters.on_error`` saw: whether the event's processing failed (and was dead-lettered)."""

    failed: bool = False


class DeadLetters:
    """The worker's dead-letter topic: records set aside with their source and reason, counted and logged."""

    def __init__(self, app: faust.App, settings: Settings, metrics: StreamMetrics) -> None:
        self._app = app
        self._topic = app.topic(settings.topic_deadletter, value_serializer="json")
        self._max_bytes = settings.max_record_bytes
        self._metrics = metrics

    async def send(
        self,
        payload: bytes,
        *,
        stage: str,
        kind: str,
        reason: str,
        topic: str,
        partition: int,
        offset: int,
        timestamp: float | None,
    ) -> None:
        """Send one dead letter and count it; it fits ``max_record_bytes`` however large the payload."""
        record = deadletter_record(
            payload,
            reason=reason,
            kind=kind,
            stage=stage,
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=timestamp,
            limit=self._max_bytes,
        )
        await self._topic.send(value=record)
        self._metrics.deadletters.labels(stage=stage, reason=kind).inc()
        log.warning("dead-lettered %s:%s@%s (%s): %s", topic, partition, offset, kind, reason)

    async def refuse(self, message, payload: bytes, *, stage: str, kind: str, reason: str) -> None:
        """Dead-letter the Kafka ``message`` an agent refused (its value ``payload``), with the reason."""
        await self.send(
            payload,
            stage=stage,
            kind=kind,
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp=message.timestamp,
        )

    @asynccontextmanager
    async def on_error(self, event: EventT, *, stage: str) -> AsyncIterator[Guard]:
        """Dead-letter ``event`` (kind ``processing_error``, with the traceback) if its processing raises.

        The exception is not raised on, so the agent goes on with the next
        event and the failed one is acknowledged like any other.
        """
        guard = Guard()
        try:
            yield guard
        except Exception:  # noqa: BLE001 - a record that breaks processing is set aside, never retried forever
            guard.failed = True
            message = event.message
            await self.send(
                message.value if isinstance(message.value, bytes) else b"",
                stage=stage,
                kind="processing_error",
                reason=traceback.format_exc(limit=4),
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                timestamp=message.timestamp,
            )

    def unreadable_batch(
        self, tp: TP, first: int, end: int, error: BaseException, payload: bytes = b""
    ) -> None:
        """Dead-letter a record batch the fetcher could not read (offsets ``first`` to ``end - 1``); any thread.

        ``payload`` is the batch as the broker sent it (a Kafka record
        batch, compressed if it was), cut to ``max_record_bytes``.
        """
        reason = (
            f"record batch at offsets {first}..{end - 1} could not be read and was skipped: "
            f"{type(error).__name__}: {error}"
        )
        asyncio.run_coroutine_threadsafe(
            self.send(
                payload,
                stage="fetch",
                kind="unreadable_batch",
                reason=reason,
                topic=tp.topic,
                partition=tp.partition,
                offset=first,
                timestamp=None,
            ),
            self._app.loop,
        )


def refused_points_reason(refused: Mapping[str, int], total: int) -> str:
    """Why points of a record were left out, by reason code.

    >>> refused_points_reason({"not_finite": 2, "negative": 1}, 100)
    '3 of 100 points refused: negative 1, not_finite 2'
    """
    codes = ", ".join(f"{code} {count}" for code, count in sorted(refused.items()))
    return f"{sum(refused.values())} of {total} points refused: {codes}"
