"""The Faust app of the stream processors.

``build_app(settings)`` wires the pure core (``aiops.decode``, ``aiops.slo``,
``aiops.anomaly``) to Kafka through three agents: decode (``decode_agent.py``:
OTLP in, one ``aiops.points/v2`` record per payload and resource out), SLI
(``sli_agent.py``) and detect (``detect_agent.py``). The worker's
``/metrics`` page serves the ``aiops_*`` catalogue of ``metrics.py``, kept
by the agents and by the monitor (``monitor.py``); ``/health`` answers whether it is
alive (``liveness.py``), and it exits non-zero when it is not.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import faust
import mode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from aiops.kafka_config import record_limits
from aiops.settings import Settings
from aiops.stream.deadletter import DeadLetters
from aiops.stream.decode_agent import register_decode_agent
from aiops.stream.detect_agent import register_detect_agent
from aiops.stream.fetch import fetch_transport
from aiops.stream.liveness import watch_liveness
from aiops.stream.metrics import StreamMetrics
from aiops.stream.monitor import monitor_for
from aiops.stream.sent_points import SentPoints
from aiops.stream.sli_agent import register_sli_agent

__all__ = ["build_app"]

log = logging.getLogger(__name__)


def build_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    """A Faust app with the decode, SLI and detect agents, ``/metrics`` and ``/health`` on its web server."""
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
        # the largest record any of our topics takes (aiops.kafka_config.record_limits)
        producer_max_request_size=record_limits(settings).client_bytes,
        consumer_max_fetch_size=record_limits(settings).client_bytes,
        # batches of several records, none over a topic's limit unless one record alone is
        producer_max_batch_size=record_limits(settings).record_bytes,
        producer_linger=settings.kafka_producer_linger_s,
        producer_compression_type=_codec(settings.kafka_compression),
        # an agent that raises crashes the worker (exit 1) instead of restarting in a process that looks healthy
        agent_supervisor=mode.CrashingSupervisor,
    )
    monitor = monitor_for(settings, app, registry, metrics)
    app.monitor = monitor
    # no record stops a partition: unreadable batches and events that break an agent go to the dead letters
    deadletters = DeadLetters(app, settings, metrics)
    app.transport = fetch_transport(app, deadletters.unreadable_batch)
    sent = SentPoints(readers=2)  # the SLI route and detect read every points record
    register_decode_agent(app, settings, metrics, deadletters, sent)
    register_sli_agent(app, settings, metrics, deadletters, sent=sent)
    register_detect_agent(app, settings, metrics, deadletters, sent)

    @app.on_partitions_assigned.connect
    async def keep_own_points(app_: faust.App, assigned: set, **kwargs: Any) -> None:
        """Keep sent points records only for the points partitions this worker now reads."""
        sent.assign(tp.partition for tp in assigned if tp.topic == settings.topic_points)

    monitor.watch_tables(app.tables.values())
    watch_liveness(app, settings.worker_stall_s)

    @app.page("/metrics")
    async def prometheus_metrics(web, request):
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return app


def _codec(name: str) -> str | None:
    """aiokafka's name for a compression setting: ``None`` for none.

    >>> _codec("zstd"), _codec("none")
    ('zstd', None)
    """
    return None if name == "none" else name


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
