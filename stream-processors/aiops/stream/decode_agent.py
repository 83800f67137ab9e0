"""The decode agent: OTLP payloads in, one ``aiops.points/v2`` record per payload and resource out.

It reads the metrics topic, decodes each payload into columns
(:func:`~aiops.decode.payload_v2.decode_payload_v2`), turns cumulative
points into deltas against each resource's :class:`DeltaState`, and sends
one record per resource to the points topic, keyed by the resource and on
the partition its v1 points had. Each resource's delta state is one key of
the changelogged ``decode-state`` table, written once per payload, so a
restarted worker resumes without counting twice; the same key in memory
saves reading it back. A timer forgets the streams not seen for
``AIOPS_DECODE_TTL_S`` (counted) and the labels of series gone as long.
Payloads that are not OTLP, and the points it cannot read, go to the
dead-letter topic with the reason.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import faust

from aiops.decode import MalformedPayload
from aiops.decode.columnar import SeriesInterner
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_v2 import encode
from aiops.settings import Settings
from aiops.stream.deadletter import DeadLetters, deadletter_record
from aiops.stream.metrics import StreamMetrics
from aiops.stream.tables import KeyPartitionTable
from aiops.topics import DECODE_STATE_TABLE

__all__ = ["register_decode_agent"]

log = logging.getLogger(__name__)


def register_decode_agent(
    app: faust.App, settings: Settings, metrics: StreamMetrics, deadletters: DeadLetters
) -> None:
    """Add the decode agent and its expiry timer to ``app``; a payload whose processing raises is dead-lettered."""
    otlp_metrics = app.topic(
        settings.topic_otlp_metrics, value_serializer="raw", key_serializer="raw"
    )
    points = app.topic(
        settings.topic_points, key_type=str, key_serializer="raw", value_serializer="raw"
    )
    deadletter = app.topic(settings.topic_deadletter, value_serializer="json")
    table = app.tables.add(
        KeyPartitionTable(
            app=app,
            name=DECODE_STATE_TABLE,
            default=None,
            partitions=settings.kafka_partitions,
            schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"),
        )
    )
    interner = SeriesInterner(capacity=settings.decode_max_series)
    states: dict[str, DeltaState] = {}
    clock = {"newest_ns": 0, "rotated": time.monotonic()}

    def state_of(partition: int):
        def load(key: str) -> DeltaState:
            table.partition_of[key] = partition
            if key not in states:
                saved = table.get(key)
                states[key] = (
                    DeltaState.restore(saved, max_streams=settings.decode_max_streams)
                    if saved
                    else DeltaState(max_streams=settings.decode_max_streams)
                )
            return states[key]

        return load

    async def send_to_deadletter(message, payload: bytes, *, kind: str, reason: str) -> None:
        record = deadletter_record(
            payload,
            reason=reason,
            kind=kind,
            stage="decode",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp=message.timestamp,
        )
        await deadletter.send(value=record)
        metrics.deadletters.labels(stage="decode", reason=kind).inc()
        metrics.decode_errors.labels(partition=str(message.partition), kind=kind).inc()
        log.warning(
            "dead-lettered %s:%s@%s: %s", message.topic, message.partition, message.offset, reason
        )

    @app.agent(otlp_metrics, name="decode")
    async def decode(stream):
        async def decode_one(event) -> None:
            message = event.message
            payload = event.value or b""
            partition = str(message.partition)
            metrics.payloads.labels(partition=partition).inc()
            cpu = time.process_time()
            try:
                result = decode_payload_v2(
                    payload, state_of(message.partition), interner, settings.kafka_partitions
                )
                encoded = [(out, encode(out.record)) for out in result.records]
            except MalformedPayload as error:
                await send_to_deadletter(
                    message, payload, kind="malformed_payload", reason=str(error)
                )
                return
            except Exception:  # noqa: BLE001 - a decoder bug dead-letters the payload, never stops the worker
                await send_to_deadletter(
                    message, payload, kind="decode_error", reason=traceback.format_exc(limit=3)
                )
                return
            for out, _ in encoded:
                table[out.key] = states[out.key].snapshot()
            metrics.stage_cpu.labels(stage="decode").inc(time.process_time() - cpu)
            for out, value in encoded:
                await points.send(key=out.key, value=value, partition=out.partition)
            if result.records:
                newest = max(
                    int(out.record["points"]["time_unix_nano"].max()) for out in result.records
                )
                clock["newest_ns"] = max(clock["newest_ns"], newest)
                metrics.event_delay.observe(max(time.time() - newest / 1e9, 0.0))
            for outcome, count in result.outcomes.items():
                metrics.points.labels(partition=partition, outcome=outcome).inc(count)
            if result.problems:
                metrics.point_problems.inc(len(result.problems))
                reasons = "; ".join(sorted({f"{p.metric}: {p.reason}" for p in result.problems}))
                await send_to_deadletter(
                    message,
                    payload,
                    kind="unreadable_points",
                    reason=f"{len(result.problems)} of {len(result.problems) + result.points} points "
                    f"skipped: {reasons}",
                )

        async for event in stream.events():
            async with deadletters.on_error(event, stage="decode"):
                await decode_one(event)

    @app.timer(max(settings.decode_ttl_s / 4, 1.0), name="decode_expire")
    async def decode_expire():
        """Forget streams unseen for the TTL (event time: the newest point decoded), and their labels."""
        if not clock["newest_ns"]:
            return
        expired = 0
        for key, state in list(states.items()):
            gone = state.expire(clock["newest_ns"], settings.decode_ttl_s)
            if not gone:
                continue
            expired += gone
            if len(state):
                table[key] = state.snapshot()
            else:
                table.pop(key, None)
                del states[key]
        metrics.decode_expired.inc(expired)
        if time.monotonic() - clock["rotated"] >= settings.decode_ttl_s:
            clock["rotated"] = time.monotonic()
            metrics.decode_forgotten_labels.inc(interner.rotate())

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        """Drop the states of partitions this worker lost; their new owner reads them from the table."""
        lost = {tp.partition for tp in revoked if tp.topic == settings.topic_otlp_metrics}
        for key in [k for k in states if table.partition_of.get(k) in lost]:
            del states[key]
