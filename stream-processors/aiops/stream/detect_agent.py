"""The detect agent: every series on ``aiops.points`` scored online, scores and anomaly alerts out.

``register_detect_agent(app, settings, metrics)`` adds to the Faust app:

1. ``detect`` reads ``aiops.points`` in micro-batches (``stream.take_events``)
   and feeds :class:`~aiops.anomaly.engine.DetectEngine`. The decode agent puts
   every point of a resource on one partition, in export order, so one
   worker owns all of a service instance's series and sees each export whole.
   After each batch the engine scores the export groups that are complete,
   all series at once (numpy, :class:`~aiops.anomaly.detectors.fast.FastCombined`).
2. A timer every second scores groups that waited ``detect_close_after_s``
   (the last export before a pause) and expires tracks idle for
   ``detect_idle_s``.

Out: one ``aiops.scores/v3`` record per scored export of a resource (keyed
by the resource, every track's score in it, in columns),
``aiops_anomaly_score`` / ``_expected`` / ``_actual`` gauges for the watched
tracks, and firing and resolved ``AnomalyDetected`` events on
``aiops.alerts`` (keyed by episode id).

State: the table ``detect-state`` (JSON values, changelogged) holds per
resource one entry (``source:<key>``): its open groups, clocks and
attribution baselines, its tracks' alert state, and their detector rows in one
compressed blob; and per partition of the points topic the newest offset the
state covers (``offset:<partition>``). Entries of the previous release (one
``track:<name>`` per track) are read once and deleted. Every ``detect_checkpoint_interval_s`` the agent
waits until Kafka has acknowledged the scores and alerts sent so far, then
writes what changed since the last checkpoint. A worker that restarts (or
takes a partition over) restores a resource from the table the first time it
sees it and, before the first event of a partition, replays the points topic
from the checkpoint's offset up to that event: points the state already holds
are not scored again, so scores match an uninterrupted run. Delivery is at
least once: what was scored after the checkpoint is scored and sent again
(the same scores, an alert again with the same id, which Alertmanager and
``aiops alerts tail`` treat as one alert).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from collections import Counter
from typing import Any

import faust
import orjson

from aiops.anomaly.alert_policy import AlertPolicies
from aiops.anomaly.engine import (
    Closed,
    DetectEngine,
    DetectorsRefused,
    PointOutcome,
    record_source,
)
from aiops.decode.points_check import BadPointsRecord, check_points
from aiops.settings import Settings
from aiops.stream.deadletter import DeadLetters, refused_points_reason
from aiops.stream.gauges import AnomalyGauges
from aiops.stream.metrics import StreamMetrics
from aiops.stream.replay import read_range
from aiops.stream.sent_points import SentPoints
from aiops.stream.tables import KeyPartitionTable
from aiops.topics import DETECT_STATE_TABLE

__all__ = ["count_closed", "register_detect_agent", "restore_checkpoint"]

log = logging.getLogger(__name__)

_BATCH = 5000
_BATCH_WITHIN_S = 0.25
_SOURCE = "source:"
_TRACK = "track:"
_OFFSET = "offset:"


def restore_checkpoint(
    engine: DetectEngine,
    metrics: StreamMetrics,
    key: str,
    stored: dict,
    tracks: dict | None = None,
) -> bool:
    """Load a resource's checkpoint into ``engine``; False when it cannot, and its tracks start afresh.

    A checkpoint the engine refuses is counted in
    ``aiops_detect_restore_errors_total`` and logged instead of stopping.
    Detector rows exported with other parameters (another
    ``detect_season``) or by another version: the tracks keep their alert
    state (an open episode still resolves) and learn afresh. A malformed
    entry: the resource is scored from scratch (False).
    """
    try:
        engine.restore_source(key, stored, now=time.time(), tracks=tracks)
    except DetectorsRefused:
        metrics.detect_restore_errors.inc()
        log.error(
            "cannot restore the detectors of %s from its checkpoint, they start afresh "
            "(alert states kept): %s",
            key,
            traceback.format_exc(limit=3),
        )
        return True
    except (KeyError, TypeError, ValueError):
        engine.forget_source(key)
        metrics.detect_restore_errors.inc()
        log.error(
            "cannot restore %s from its checkpoint, its tracks start afresh: %s",
            key,
            traceback.format_exc(limit=3),
        )
        return False
    return True


def count_closed(metrics: StreamMetrics, closed: Closed) -> None:
    """Count what one ``engine.close`` did with its points: scored, replayed, reset, skipped, withheld."""
    metrics.detect_points.labels(outcome="scored").inc(len(closed.scored))
    metrics.detect_points.labels(outcome="replayed").inc(closed.replayed)
    metrics.detect_points.labels(outcome="reset").inc(closed.resets)
    metrics.detect_points.labels(outcome="skipped").inc(closed.skipped)
    metrics.detect_withheld.inc(closed.withheld)


def register_detect_agent(
    app: faust.App,
    settings: Settings,
    metrics: StreamMetrics,
    deadletters: DeadLetters,
    sent: SentPoints | None = None,
) -> None:
    """Add the detect agent and its timer to ``app``; a bad alert policy raises ``ValueError`` here.

    A points record the engine cannot read is dead-lettered (and counted
    unscorable). A record this worker's decode agent sent is taken from
    ``sent``, checked already, instead of from its JSON (``aiops.stream.sent_points``).
    """
    policies = AlertPolicies.from_mapping(settings.detect_alert_policy)
    points = app.topic(settings.topic_points, key_type=str, value_serializer="raw")
    scores = app.topic(
        settings.topic_scores, key_type=str, key_serializer="raw", value_serializer="raw"
    )
    alerts = app.topic(
        settings.topic_alerts, key_type=str, key_serializer="raw", value_serializer="json"
    )
    table = app.tables.add(
        KeyPartitionTable(
            app=app,
            name=DETECT_STATE_TABLE,
            default=None,
            partitions=settings.kafka_partitions,
            schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"),
        )
    )
    engine = DetectEngine(
        policies=policies,
        max_series=settings.detect_max_series,
        idle_s=settings.detect_idle_s,
        close_after_s=settings.detect_close_after_s,
        season=settings.detect_season,
        generator_url=lambda track: _generator_url(settings, track.series, track.signal),
    )
    partition_of: dict[str, int] = {}
    lock = asyncio.Lock()
    warned = {"cap": False}
    gauges = AnomalyGauges(metrics, settings.detect_max_gauge_tracks)
    dirty_sources: set[str] = set()
    processed: dict[int, int] = {}
    """The newest offset of the points topic whose points the engine holds, per partition."""
    replayed: set[int] = set()
    """Partitions whose gap since their checkpoint was replayed since this worker got them."""
    checkpointed = {"at": time.monotonic()}

    def load(key: str, partition: int) -> None:
        """Bring a resource into the engine from the table the first time this worker sees it."""
        partition_of[key] = partition
        if key in engine.sources:
            return
        stored = table.get(_SOURCE + key)
        if stored is None:
            return
        legacy = isinstance(stored.get("tracks"), list)  # the previous release: an entry per track
        tracks = (
            {
                name: saved
                for name in stored["tracks"]
                if (saved := table.get(_TRACK + name)) is not None
            }
            if legacy
            else None
        )
        if not restore_checkpoint(engine, metrics, key, stored, tracks):
            return
        if legacy:  # rewritten in the current shape at the next checkpoint
            dirty_sources.add(key)
            for name in stored["tracks"]:
                write(_TRACK + name, key, None)
        log.info(
            "restored %s: %d tracks, %d pending points",
            key,
            len(engine.sources[key].tracks),
            sum(len(points) for _, points in stored["pending"]),
        )

    def write(name: str, source: str, value: Any) -> None:
        table.partition_of[name] = partition_of[source]
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value

    async def checkpoint() -> None:
        """Write what changed since the last checkpoint, with the offsets it covers, once the outputs are in Kafka.

        Outputs first: the scores and alerts of every point the checkpoint
        holds are acknowledged before it is written, so outputs are never
        behind state. A worker that restarts (or takes a partition over)
        restores this and replays the points topic from the offsets it
        names (``replay_gap``), so nothing between two checkpoints is lost.
        """
        await app.producer.flush()
        for key in dirty_sources:
            if key in engine.sources:
                write(_SOURCE + key, key, engine.export_source(key))
        for partition, offset in processed.items():
            table.partition_of[_OFFSET + str(partition)] = partition
            table[_OFFSET + str(partition)] = offset
        dirty_sources.clear()
        await app.producer.flush()
        checkpointed["at"] = time.monotonic()

    async def replay_gap(partition: int, first_offset: int) -> None:
        """Feed the engine what its checkpoint of ``partition`` missed before the first event it is given.

        With no checkpoint of the partition yet (its last owner stopped
        before its first one), that is the partition from its start.
        """
        replayed.add(partition)
        saved = table.get(_OFFSET + str(partition))
        start = 0 if saved is None else saved + 1
        if start < first_offset:
            await replay(partition, start, first_offset, "since the checkpoint")

    async def replay(partition: int, start: int, end: int, why: str) -> None:
        """Feed the engine the points records of ``partition`` at offsets ``start`` to ``end - 1``, read again."""
        records = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                read_range,
                settings,
                settings.topic_points,
                partition,
                start,
                end,
                group_id=f"{settings.faust_app_id}-detect-replay",
            ),
        )
        log.info(
            "replaying %d records of %s[%d] %s (offsets %d to %d)",
            len(records),
            settings.topic_points,
            partition,
            why,
            start,
            end - 1,
        )
        now = time.time()
        added: set[str] = set()
        for record in records:
            try:
                add(check_points(record.value or b"").record, partition, now, added)
            except Exception:  # noqa: BLE001 - dead-lettered when it was first read
                metrics.detect_points.labels(outcome="unscorable").inc()
        await emit(engine.close(now), added)

    def add(record: dict, partition: int, now: float, added: set[str]) -> Counter:
        """Queue one checked points record in the engine (restoring its resource first); its points' outcomes."""
        key = record_source(record)
        load(key, partition)
        outcomes = engine.add_record(record, now, key)
        if outcomes[PointOutcome.ACCEPTED]:
            added.add(key)
        return outcomes

    async def admit(event) -> dict | None:
        """The record of an event, checked at the door: a bad record or bad points are dead-lettered and counted."""
        value = event.value or b""
        if sent is not None:
            checked = sent.take(event.message.partition, event.message.offset, value)
            if checked is not None:
                metrics.points_from_memory.labels(reader="detect").inc()
                return checked.record
        try:
            checked = check_points(value)
        except BadPointsRecord as error:
            await deadletters.refuse(
                event.message, value, stage="detect", kind="bad_points_record", reason=error.reason
            )
            return None
        if checked.problems:
            refused = checked.refused
            metrics.detect_points.labels(outcome="refused").inc(len(checked.problems))
            await deadletters.refuse(
                event.message,
                value,
                stage="detect",
                kind="bad_points",
                reason=refused_points_reason(refused, len(checked) + len(checked.problems)),
            )
        return checked.record

    async def emit(closed: Closed, added: set[str]) -> None:
        """Send scores and alerts; what changed is checkpointed on the next interval (``checkpoint``)."""
        sent = [
            await scores.send(key=key, value=orjson.dumps(record))
            for key, record in closed.records().items()
        ]
        gauges.expose(closed, engine.watched)
        for alert in closed.alerts:
            sent.append(
                await alerts.send(key=alert.id, value=alert.model_dump(mode="json", by_alias=True))
            )
            metrics.anomaly_alerts.labels(
                severity=alert.labels["severity"], status=alert.status
            ).inc()
            stands_on = alert.endsAt if alert.status == "resolved" else alert.startsAt
            metrics.alert_latency.labels(
                severity=alert.labels["severity"], status=alert.status
            ).observe(max(time.time() - stands_on.timestamp(), 0.0))
            log.warning(
                "anomaly %s %s: %s",
                alert.status,
                alert.id,
                alert.annotations.get("description", ""),
            )
        await asyncio.gather(*sent)
        dirty_sources.update(closed.sources | added)
        count_closed(metrics, closed)
        if closed.skipped and not warned["cap"]:
            warned["cap"] = True
            log.warning(
                "detect_max_series=%d reached: new series are skipped (counted in "
                'aiops_detect_points_total{outcome="skipped"}); raise AIOPS_DETECT_MAX_SERIES or '
                "add workers",
                settings.detect_max_series,
            )
        metrics.detect_tracks.set(engine.live_tracks)
        metrics.detect_state_bytes.set(engine.memory_bytes())

    @app.agent(points, name="detect")
    async def detect(stream):
        async for batch in stream.take_events(_BATCH, within=_BATCH_WITHIN_S):
            async with lock:
                cpu = time.process_time()
                now = time.time()
                added: set[str] = set()
                outcomes: Counter[PointOutcome] = Counter()
                for event in batch:
                    partition = event.message.partition
                    offset = event.message.offset
                    if partition not in replayed:
                        await replay_gap(partition, offset)
                    elif offset > processed.get(partition, offset) + 1:
                        # the points topic has no gaps of its own: the consumer skipped these
                        # (Faust drops events it fetched before a rebalance or recovery)
                        await replay(
                            partition, processed[partition] + 1, offset, "the consumer skipped"
                        )
                    processed[partition] = max(processed.get(partition, -1), offset)
                    record = await admit(event)
                    if record is None:
                        outcomes[PointOutcome.UNSCORABLE] += 1
                        continue
                    async with deadletters.on_error(event, stage="detect") as guard:
                        outcomes.update(add(record, partition, now, added))
                    outcomes[PointOutcome.UNSCORABLE] += guard.failed
                for outcome, count in outcomes.items():
                    metrics.detect_points.labels(outcome=outcome.value).inc(count)
                closed = engine.close(now)
                metrics.stage_cpu.labels(stage="detect").inc(time.process_time() - cpu)
                await emit(closed, added)

    @app.timer(1.0, name="detect_close")
    async def detect_close():
        async with lock:
            now = time.time()
            closed = engine.close(now)
            source_of = {name: track.source for name, track in engine.tracks.items()}
            expired, resolved = engine.expire(now)
            closed.alerts.extend(resolved)
            await emit(closed, set())
            gauges.forget(expired)
            for source in {source_of[name] for name in expired}:
                if source in engine.sources:
                    dirty_sources.add(source)
                else:
                    write(_SOURCE + source, source, None)
            metrics.detect_expired.inc(len(expired))
            if time.monotonic() - checkpointed["at"] >= settings.detect_checkpoint_interval_s:
                await checkpoint()

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        """Drop the resources of partitions this worker lost; their new owner recovers them from the table."""
        lost = {tp.partition for tp in revoked if tp.topic == settings.topic_points}
        for key in [k for k, p in partition_of.items() if p in lost]:
            engine.forget_source(key)
            del partition_of[key]
            dirty_sources.discard(key)
        for partition in lost:
            processed.pop(partition, None)
            replayed.discard(partition)


def _generator_url(settings: Settings, series: str, signal: str) -> str:
    """A Prometheus graph of the track's score."""
    return settings.prometheus_graph_url(
        f'aiops_anomaly_score{{series="{series}",signal="{signal}"}}'
    )
