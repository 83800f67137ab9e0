"""The Faust app of the stream processors, and its decode agent.

``build_app(settings)`` wires ``aiops.core`` to Kafka: it reads OTLP payloads
from the metrics topic, keeps each stream's last cumulative point in a table
(changelogged, so a restarted worker resumes without double counting), writes
one record per data point to the points topic keyed by series, and sends
anything it cannot read to the dead-letter topic with the reason. The
worker's ``/metrics`` page serves the ``aiops_*`` catalogue of
``metrics.py``, kept by the agents and by ``AiopsMonitor``.
"""

from __future__ import annotations

import logging
import ssl
import time
import traceback

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from aiops.core import MalformedPayload, decode_payload
from aiops.core.otlp import resource_partition
from aiops.settings import Settings
from aiops.stream.deadletter import deadletter_record
from aiops.stream.detect_agent import register_detect_agent
from aiops.stream.metrics import StreamMetrics
from aiops.stream.monitor import AiopsMonitor
from aiops.stream.sli_agent import register_sli_agent

__all__ = ["DECODE_STATE_TABLE", "build_app"]

log = logging.getLogger(__name__)

DECODE_STATE_TABLE = "decode-state"


def changelog_topic(settings: Settings, table: str) -> str:
    """The name Faust gives a table's changelog topic, so it can be created up front.

    >>> changelog_topic(Settings(), DECODE_STATE_TABLE)
    'aiops-decode-state-changelog'
    """
    return f"{settings.faust_app_id}-{table}-changelog"


def build_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    """A Faust app with the decode agent and a ``/metrics`` page on its web server."""
    registry = registry or CollectorRegistry()
    metrics = StreamMetrics(registry)
    app = faust.App(
        settings.faust_app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        broker_credentials=_credentials(settings),
        store=settings.faust_store,
        datadir=str(settings.stack_dir / "faust"),
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.faust_session_timeout_s,
        broker_heartbeat_interval=max(settings.faust_session_timeout_s / 4, 0.5),
        web_port=settings.faust_web_port,
        web_bind=settings.bind_host,
        web_host=settings.bind_host,
        producer_max_request_size=4 * 1024 * 1024,
    )
    monitor = AiopsMonitor(app, registry, metrics)
    app.monitor = monitor
    otlp_metrics = app.topic(
        settings.topic_otlp_metrics, value_serializer="raw", key_serializer="raw"
    )
    points = app.topic(settings.topic_points, key_type=str, value_serializer="json")
    deadletter = app.topic(settings.topic_deadletter, value_serializer="json")
    decode_state = app.Table(DECODE_STATE_TABLE, default=None, partitions=settings.kafka_partitions)

    async def send_to_deadletter(event, payload: bytes, *, kind: str, reason: str) -> None:
        message = event.message
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

    @app.agent(otlp_metrics)
    async def decode(stream):
        async for event in stream.events():
            payload = event.value or b""
            partition = str(event.message.partition)
            metrics.payloads.labels(partition=partition).inc()
            try:
                result = decode_payload(payload, decode_state)
            except MalformedPayload as error:
                await send_to_deadletter(
                    event, payload, kind="malformed_payload", reason=str(error)
                )
                continue
            except Exception:  # noqa: BLE001 - a decoder bug dead-letters the payload, never stops the worker
                await send_to_deadletter(
                    event, payload, kind="decode_error", reason=traceback.format_exc(limit=3)
                )
                continue
            for point in result.points:
                await points.send(
                    key=point.series,
                    value=point.as_record(),
                    partition=resource_partition(point.resource, settings.kafka_partitions),
                )
            if result.points:
                newest = max(point.time_unix_nano for point in result.points)
                metrics.event_delay.observe(max(time.time() - newest / 1e9, 0.0))
            for outcome, count in result.outcomes.items():
                metrics.points.labels(partition=partition, outcome=outcome.value).inc(count)
            if result.problems:
                metrics.point_problems.inc(len(result.problems))
                reasons = "; ".join(sorted({f"{p.metric}: {p.reason}" for p in result.problems}))
                await send_to_deadletter(
                    event,
                    payload,
                    kind="unreadable_points",
                    reason=f"{len(result.problems)} of {len(result.problems) + len(result.points)} points "
                    f"skipped: {reasons}",
                )

    register_sli_agent(app, settings, metrics)
    register_detect_agent(app, settings, metrics)

    monitor.watch_tables(app.tables.values())

    @app.page("/metrics")
    async def prometheus_metrics(web, request):
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return app


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    protocol = settings.kafka_security_protocol
    ssl_context = None
    if protocol.endswith("SSL"):
        ssl_context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_location or None)
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context) if ssl_context else None
