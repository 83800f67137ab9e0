"""The detect agent: every series on ``aiops.points`` scored online, scores and anomaly alerts out.

``register_detect_agent(app, settings, metrics)`` adds to the Faust app:

1. ``detect`` reads ``aiops.points`` in micro-batches (``stream.take_events``)
   and feeds :class:`~aiops.core.detect.DetectEngine`. The decode agent puts
   every point of a resource on one partition, in export order, so one
   worker owns all of a service instance's series and sees each export whole.
   After each batch the engine scores the export groups that are complete,
   all series at once (numpy, :class:`~aiops.core.detectors.fast.FastCombined`).
2. A timer every second scores groups that waited ``detect_close_after_s``
   (the last export before a pause) and expires tracks idle for
   ``detect_idle_s``.

Out: one ``aiops.scores/v1`` record per track and point (keyed by track),
``aiops_anomaly_score`` / ``_expected`` / ``_actual`` gauges, and firing and
resolved ``AnomalyDetected`` events on ``aiops.alerts`` (keyed by episode id).

State: the table ``detect-state`` (JSON values, changelogged) holds per
resource its open groups, clocks and attribution baselines (``source:<key>``)
and per track its detector row and alert state (``track:<name>``), written
after every close once Kafka has acknowledged that close's scores and
alerts. A restarted worker recovers the table, reloads a resource the first
time it sees it, and replays from its committed offset: points the state
already holds are not scored again, so scores match an uninterrupted run.
Delivery is at least once: a kill between the outputs' acknowledgement and
the checkpoint's sends the same scores again, and an alert again with the
same id (Alertmanager and ``aiops alerts tail`` treat it as one alert).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from typing import Any

import faust

from aiops.core.anomaly_alerts import AlertPolicies
from aiops.core.detect import Closed, DetectEngine, PointOutcome, resource_key
from aiops.settings import Settings
from aiops.stream.metrics import StreamMetrics
from aiops.stream.tables import KeyPartitionTable

__all__ = ["DETECT_STATE_TABLE", "register_detect_agent"]

log = logging.getLogger(__name__)

DETECT_STATE_TABLE = "detect-state"
_BATCH = 5000
_BATCH_WITHIN_S = 0.5
_SOURCE = "source:"
_TRACK = "track:"


def register_detect_agent(app: faust.App, settings: Settings, metrics: StreamMetrics) -> None:
    """Add the detect agent and its timer to ``app``; a bad alert policy raises ``ValueError`` here."""
    policies = AlertPolicies.from_mapping(settings.detect_alert_policy)
    points = app.topic(settings.topic_points, key_type=str, value_serializer="json")
    scores = app.topic(
        settings.topic_scores, key_type=str, key_serializer="raw", value_serializer="json"
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
    gauge_labels: dict[str, tuple[str, str, str, str]] = {}

    def load(key: str, partition: int) -> None:
        """Bring a resource into the engine from the table the first time this worker sees it."""
        partition_of[key] = partition
        if key in engine.sources:
            return
        stored = table.get(_SOURCE + key)
        if stored is None:
            return
        tracks = {
            name: saved
            for name in stored["tracks"]
            if (saved := table.get(_TRACK + name)) is not None
        }
        try:
            engine.restore_source(key, stored, tracks, now=time.time())
        except (KeyError, TypeError, ValueError):
            engine.forget_source(key)
            metrics.detect_restore_errors.inc()
            log.error(
                "cannot restore %s from its checkpoint, its tracks start afresh: %s",
                key,
                traceback.format_exc(limit=3),
            )
            return
        log.info(
            "restored %s: %d tracks, %d pending points",
            key,
            len(tracks),
            sum(len(points) for _, points in stored["pending"]),
        )

    def write(name: str, source: str, value: Any) -> None:
        table.partition_of[name] = partition_of[source]
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value

    def checkpoint(closed: Closed, added: set[str]) -> None:
        for key in closed.sources | added:
            if key in engine.sources:
                write(_SOURCE + key, key, engine.export_source(key))
        for name in closed.tracks:
            track = engine.tracks.get(name)
            if track is not None:
                write(_TRACK + name, track.source, engine.export_track(name))

    async def emit(closed: Closed, added: set[str]) -> None:
        """Send scores and alerts, wait until Kafka has them, then checkpoint: outputs are never behind state."""
        sent = []
        for score in closed.scores:
            sent.append(await scores.send(key=score.track, value=score.as_record()))
            labels = gauge_labels.setdefault(
                score.track, (score.series, score.metric, score.service, score.signal)
            )
            metrics.anomaly_score.labels(*labels).set(score.score)
            metrics.anomaly_actual.labels(*labels).set(score.value)
            metrics.anomaly_expected.labels(*labels).set(score.expected)
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
        checkpoint(closed, added)
        await app.producer.flush()
        metrics.detect_points.labels(outcome="scored").inc(len(closed.scores))
        metrics.detect_points.labels(outcome="replayed").inc(closed.replayed)
        metrics.detect_points.labels(outcome="skipped").inc(closed.skipped)
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
                now = time.time()
                added: set[str] = set()
                for event in batch:
                    point = event.value
                    if not isinstance(point, dict):
                        metrics.detect_points.labels(outcome=PointOutcome.UNSCORABLE.value).inc()
                        continue
                    key = resource_key(point)
                    load(key, event.message.partition)
                    outcome = engine.add(point, now)
                    metrics.detect_points.labels(outcome=outcome.value).inc()
                    if outcome is PointOutcome.ACCEPTED:
                        added.add(key)
                await emit(engine.close(now), added)

    @app.timer(1.0, name="detect_close")
    async def detect_close():
        async with lock:
            now = time.time()
            closed = engine.close(now)
            source_of = {name: track.source for name, track in engine.tracks.items()}
            expired, resolved = engine.expire(now)
            closed.alerts.extend(resolved)
            await emit(closed, set())
            for name in expired:
                write(_TRACK + name, source_of[name], None)
                labels = gauge_labels.pop(name, None)
                for gauge in (
                    metrics.anomaly_score,
                    metrics.anomaly_actual,
                    metrics.anomaly_expected,
                ):
                    if labels is not None:
                        gauge.remove(*labels)
            for source in {source_of[name] for name in expired} - set(engine.sources):
                write(_SOURCE + source, source, None)
            metrics.detect_expired.inc(len(expired))

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        """Drop the resources of partitions this worker lost; their new owner recovers them from the table."""
        lost = {tp.partition for tp in revoked if tp.topic == settings.topic_points}
        for key in [k for k, p in partition_of.items() if p in lost]:
            engine.forget_source(key)
            del partition_of[key]


def _generator_url(settings: Settings, series: str, signal: str) -> str:
    """A Prometheus graph of the track's score."""
    return settings.prometheus_graph_url(
        f'aiops_anomaly_score{{series="{series}",signal="{signal}"}}'
    )
