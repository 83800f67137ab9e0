"""The decode agent: OTLP payloads in, one ``aiops.points/v2`` record per payload and resource out.

It reads the metrics topic, decodes each payload into columns
(:func:`~aiops.decode.payload_v2.decode_payload_v2`), turns cumulative
points into deltas against each resource's :class:`DeltaState`, and sends
one record per resource to the points topic, keyed by the resource and on
the partition its v1 points had. Each resource's delta state is one key of
the changelogged ``decode-state`` table (JSON, cut into parts of at most
``AIOPS_MAX_RECORD_BYTES`` for a resource with very many streams:
``aiops.decode.state_parts``). Payloads are taken in batches (a few when
the worker keeps up, up to 200 from a backlog): each resource's state is
written once per batch, before the batch's points records are sent, so a
restarted worker, which decodes again what was not committed, resumes
without sending a point twice; the same key in memory saves reading it
back. A timer forgets the streams not seen for
``AIOPS_DECODE_TTL_S`` (counted) and the labels of series gone as long.
Payloads that are not OTLP go to the dead-letter topic with the reason; so do
the points it refuses (unreadable, outside the time window around the wall
clock, too large, an infinite delta), counted by reason code, while the
payload's other points go on. Every record it sends, dead letters included,
fits in ``AIOPS_MAX_RECORD_BYTES``.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections import Counter
from typing import Any

import faust
from faust.types import FutureMessage

from aiops.decode import MalformedPayload
from aiops.decode.admission import Limits
from aiops.decode.columnar import SeriesInterner
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import DecodeV2Result, decode_payload_v2
from aiops.decode.points_check import CheckedPoints, checked_as_sent
from aiops.decode.rejections import summary
from aiops.decode.state_parts import join_parts, part_key, snapshot_parts
from aiops.settings import Settings
from aiops.stream.deadletter import DeadLetters
from aiops.stream.metrics import StreamMetrics
from aiops.stream.sent_points import SentPoints
from aiops.stream.tables import KeyPartitionTable
from aiops.topics import DECODE_STATE_TABLE

__all__ = ["register_decode_agent"]

_BATCH = 200
_BATCH_WITHIN_S = 0.1
"""Payloads are decoded in batches of up to ``_BATCH`` taken within ``_BATCH_WITHIN_S``: a resource's
delta state is written once per batch, so a backlog costs fewer writes per payload."""


def register_decode_agent(
    app: faust.App,
    settings: Settings,
    metrics: StreamMetrics,
    deadletters: DeadLetters,
    sent: SentPoints | None = None,
) -> None:
    """Add the decode agent and its expiry timer to ``app``; a payload whose processing raises is dead-lettered.

    With ``sent``, each points record Kafka acknowledges is kept there, checked,
    for this worker's detect agent and SLI route (``aiops.stream.sent_points``).
    """
    otlp_metrics = app.topic(
        settings.topic_otlp_metrics, value_serializer="raw", key_serializer="raw"
    )
    points = app.topic(
        settings.topic_points, key_type=str, key_serializer="raw", value_serializer="raw"
    )
    table = app.tables.add(
        KeyPartitionTable(
            app=app,
            name=DECODE_STATE_TABLE,
            default=None,
            partitions=settings.kafka_partitions,
            schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="raw"),
        )
    )
    interner = SeriesInterner(capacity=settings.decode_max_series)
    states: dict[str, DeltaState] = {}
    clock = {"newest_ns": 0, "rotated": time.monotonic()}
    streams = {"total": 0}
    """Cumulative streams with delta state across this worker's resources (``decode_max_streams`` caps it)."""
    parts_of: dict[str, int] = {}
    """How many table keys each resource's state was last written in (``state_parts``)."""

    def state_of(partition: int, touched: dict[str, int]):
        """The delta state of a resource, loaded once; its cap is what the worker-wide cap leaves it."""

        def load(key: str) -> DeltaState:
            table.partition_of[key] = partition
            state = states.get(key)
            if state is None:
                state = states[key] = read_state(key)
                streams["total"] += len(state)
            touched.setdefault(key, len(state))
            state.max_streams = len(state) + max(settings.decode_max_streams - streams["total"], 0)
            return state

        return load

    def read_state(key: str) -> DeltaState:
        saved = table.get(key)
        if not saved:
            return DeltaState()
        snapshot = join_parts(saved, lambda index: table.get(part_key(key, index)))
        parts_of[key] = snapshot["parts"]
        return DeltaState.restore(snapshot)

    def write_state(key: str) -> None:
        """Write a resource's state (in parts if it is large); an emptied state deletes its keys."""
        state = states.get(key)
        parts = (
            snapshot_parts(state.snapshot(), settings.max_record_bytes)
            if state is not None and len(state)
            else []
        )
        for index, part in enumerate(parts):
            name = part_key(key, index)
            table.partition_of[name] = table.partition_of[key]
            table[name] = part
        for index in range(len(parts), parts_of.get(key, 1)):
            name = part_key(key, index)
            table.partition_of[name] = table.partition_of[key]
            table.pop(name, None)
        parts_of[key] = len(parts)
        if not parts:
            del parts_of[key]

    def recount(touched: dict[str, int]) -> None:
        for key, before in touched.items():
            state = states.get(key)
            streams["total"] += (len(state) if state is not None else 0) - before

    def keep(value: bytes, checked: CheckedPoints, message: FutureMessage) -> None:
        """Once Kafka acknowledged a points record: keep it, checked, under the offset it got."""
        metadata = message.result()
        sent.add(metadata.partition, metadata.offset, value, checked)

    async def refuse(message, payload: bytes, *, kind: str, reason: str) -> None:
        """Dead-letter a payload (or its refused points) and count it among the partition's decode errors."""
        await deadletters.refuse(message, payload, stage="decode", kind=kind, reason=reason)
        metrics.decode_errors.labels(partition=str(message.partition), kind=kind).inc()

    async def decode_one(event) -> DecodeV2Result | None:
        """Decode one payload against its resources' delta states; None when it was dead-lettered."""
        message = event.message
        payload = event.value or b""
        metrics.payloads.labels(partition=str(message.partition)).inc()
        cpu = time.process_time()
        touched: dict[str, int] = {}
        limits = Limits(
            time.time_ns(),
            settings.decode_max_future_s,
            settings.decode_max_past_s,
            settings.max_record_bytes,
        )
        try:
            return decode_payload_v2(
                payload,
                state_of(message.partition, touched),
                interner,
                settings.kafka_partitions,
                limits,
            )
        except MalformedPayload as error:
            await refuse(message, payload, kind="malformed_payload", reason=str(error))
        except Exception:  # noqa: BLE001 - a decoder bug dead-letters the payload, never stops the worker
            await refuse(
                message, payload, kind="decode_error", reason=traceback.format_exc(limit=3)
            )
        finally:
            recount(touched)
            metrics.stage_cpu.labels(stage="decode").inc(time.process_time() - cpu)
        return None

    async def publish(event, result: DecodeV2Result) -> None:
        """Send a decoded payload's points records, count its outcomes, dead-letter the points it refused."""
        message = event.message
        for out in result.records:
            checked = (
                checked_as_sent(out.record)
                if sent is not None and sent.wants(out.partition)
                else None
            )
            await points.send(
                key=out.key,
                value=out.value,
                partition=out.partition,
                callback=None if checked is None else functools.partial(keep, out.value, checked),
            )
        if result.records:
            newest = max(
                int(out.record["points"]["time_unix_nano"].max()) for out in result.records
            )
            clock["newest_ns"] = max(clock["newest_ns"], newest)
            metrics.event_delay.observe(max(time.time() - newest / 1e9, 0.0))
        for outcome, count in result.outcomes.items():
            metrics.points.labels(partition=str(message.partition), outcome=outcome).inc(count)
        if result.problems:
            for code, count in Counter(p.code for p in result.problems).items():
                metrics.point_problems.labels(reason=code).inc(count)
            await refuse(
                message,
                event.value or b"",
                kind="unreadable_points",
                reason=summary(
                    result.problems, len(result.problems) + sum(result.outcomes.values())
                ),
            )

    @app.agent(otlp_metrics, name="decode")
    async def decode(stream):
        async for batch in stream.take_events(_BATCH, within=_BATCH_WITHIN_S):
            decoded: list[tuple[Any, DecodeV2Result]] = []
            for event in batch:
                async with deadletters.on_error(event, stage="decode"):
                    result = await decode_one(event)
                    if result is not None:
                        decoded.append((event, result))
            metrics.decode_streams.set(streams["total"])
            last_event_of = {out.key: event for event, result in decoded for out in result.records}
            cpu = time.process_time()
            for key, event in last_event_of.items():
                if key in states:  # not a resource of a partition revoked meanwhile
                    async with deadletters.on_error(event, stage="decode"):
                        write_state(key)
            metrics.stage_cpu.labels(stage="decode").inc(time.process_time() - cpu)
            for event, result in decoded:
                async with deadletters.on_error(event, stage="decode"):
                    await publish(event, result)

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
            streams["total"] -= gone
            if not len(state):
                del states[key]
            write_state(key)
        metrics.decode_expired.inc(expired)
        metrics.decode_streams.set(streams["total"])
        if time.monotonic() - clock["rotated"] >= settings.decode_ttl_s:
            clock["rotated"] = time.monotonic()
            metrics.decode_forgotten_labels.inc(interner.rotate())

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        """Drop the states of partitions this worker lost; their new owner reads them from the table."""
        lost = {tp.partition for tp in revoked if tp.topic == settings.topic_otlp_metrics}
        for key in [k for k in states if table.partition_of.get(k) in lost]:
            streams["total"] -= len(states.pop(key))
            parts_of.pop(key, None)
