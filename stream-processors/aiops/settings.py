"""The one settings module: Kafka, topics, ports, paths and intervals.

Every field is read from the environment once, at an entrypoint, as
``AIOPS_<FIELD NAME IN UPPER CASE>``; each field's description names its
variable. The object is frozen and passed down, never re-read.

>>> Settings().topic_points
'aiops.points'
>>> Settings(collector_otlp_grpc_port=14317).collector_otlp_grpc_port
14317
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "PORT_FIELDS", "Settings", "env_var", "environment"]

ENV_PREFIX = "AIOPS_"

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _field(default, description: str, **kwargs) -> FieldInfo:
    """A settings field whose description is filled in with its env var by ``Settings``."""
    return Field(default, description=description, **kwargs)


class Settings(BaseSettings):
    """Where everything lives and how it is named; env-overridable, frozen."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = _field(
        "127.0.0.1:9092", "Kafka bootstrap servers, host:port[,host:port]"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = _field(
        "PLAINTEXT", "Kafka security protocol"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = _field(
        "PLAIN", "SASL mechanism when the security protocol uses SASL"
    )
    kafka_sasl_username: str = _field("", "SASL user name")
    kafka_sasl_password: SecretStr = _field(SecretStr(""), "SASL password")
    kafka_ssl_ca_location: str = _field(
        "",
        "PEM file of the CA that signed the brokers' certificates (SSL protocols; empty: the system's CAs)",
    )
    kafka_partitions: int = _field(
        12,
        "partitions of every topic the project owns (co-partitioned for Faust tables): at most this many "
        "workers share the load",
        ge=1,
    )
    kafka_replication_factor: int = _field(
        1, "replication factor of every topic the project owns", ge=1
    )

    # Topics
    topic_otlp_metrics: str = _field(
        "otlp_metrics", "OTLP metrics from the collector's kafka exporter (otlp_proto)"
    )
    topic_otlp_spans: str = _field(
        "otlp_spans", "OTLP spans from the collector's kafka exporter (otlp_proto)"
    )
    topic_points: str = _field(
        "aiops.points",
        "one decoded data point per record, keyed by series, partitioned by resource",
    )
    topic_sli: str = _field("aiops.sli", "rolling SLI snapshots")
    topic_scores: str = _field("aiops.scores", "anomaly scores per series")
    topic_alerts: str = _field("aiops.alerts", "firing and resolved alert events")
    topic_deadletter: str = _field(
        "aiops.deadletter", "payloads that could not be processed, with the reason"
    )

    # Stream processors
    faust_app_id: str = _field(
        "aiops", "Faust application id (consumer group and state topic prefix)"
    )
    faust_web_port: int = _field(6066, "Faust web server port; serves /metrics for Prometheus")
    faust_store: str = _field("memory://", "Faust table store URL")
    worker_processes: int = _field(
        1,
        "workers `aiops worker` (and so the local stack) runs in the consumer group, one process "
        "and one core each: the i-th (from 0) on faust_web_port + i, its state in "
        "<stack_dir>/worker-i (from the second on); Prometheus scrapes them all",
        ge=1,
    )
    faust_event_metrics: bool = _field(
        False,
        "also serve Faust's own per-event faust_* metrics (event and send latencies, table reads "
        "and writes); their bookkeeping on every event and send costs about 6% of the worker's CPU",
    )
    faust_session_timeout_s: float = _field(
        10.0, "consumer group session timeout; lower makes rebalances faster", gt=0
    )
    worker_stall_s: float = _field(
        120.0,
        "seconds a partition the worker reads may have records waiting without its committed offset moving; "
        "beyond it the worker's /health answers 503 and the process exits non-zero, to be restarted",
        gt=0,
    )
    detect_season: int = _field(
        0,
        "override of the stream's seasons: 0 (the default) finds each track's wall-clock season (hourly, daily, "
        "weekly) from its own timestamps and history; else a season length in points (>= 2) forced on every track",
        ge=0,
    )
    decode_max_future_s: float = _field(
        300.0,
        "data points whose time is further ahead of the wall clock than this are refused by the decode agent "
        'and dead-lettered (aiops_decode_point_problems_total{reason="future"}): one would make its stream\'s '
        "later points stale",
        ge=0,
    )
    decode_max_past_s: float = _field(
        0.0,
        "data points whose time is further behind the wall clock than this are refused by the decode agent "
        'and dead-lettered (aiops_decode_point_problems_total{reason="too_old"}); 0: no limit, the default, '
        "so a backlog after an outage and recorded data still decode (an old point cannot poison a stream: "
        "it is stale against a newer one, and a new stream's next point replaces it)",
        ge=0,
    )
    decode_ttl_s: float = _field(
        3600.0,
        "seconds (event time) after which a cumulative stream without a point is forgotten by the decode "
        "agent; its next point then counts from its start time, as a new stream's",
        gt=0,
    )
    decode_max_streams: int = _field(
        500_000,
        "cap on cumulative streams with delta state per worker, all resources together (a few hundred bytes "
        "each); points of new streams beyond it are skipped and counted "
        '(aiops_decode_points_total{outcome="capped"}), so a cardinality bomb cannot exhaust memory',
        ge=1,
    )
    decode_max_series: int = _field(
        200_000,
        "cap on series whose decoded labels a worker keeps interned (about 1.3 kB each); beyond it the "
        "cache starts over, which costs time, not correctness",
        ge=1,
    )
    max_record_bytes: int = _field(
        1_000_000,
        "largest record value on the topics the project owns, the one size limit: their max.message.bytes "
        "leave room for a key and the batch framing above it (1,048,588 bytes at the default, Kafka's own "
        "default), the collector's max_message_bytes is this, dead-letter topics take twice it, and every "
        "producer's request and consumer's fetch size fit them all (aiops.kafka_config.record_limits)",
        ge=10_000,
    )
    detect_checkpoint_interval_s: float = _field(
        30.0,
        "seconds between the detect agent's checkpoints of what changed (detector rows, alert states, open "
        "groups) and the points-topic offsets they cover; a restart replays the topic from there",
        gt=0,
    )
    detect_max_gauge_tracks: int = _field(
        1_000,
        "cap on tracks with their own aiops_anomaly_* gauges (service-level tracks and tracks above their "
        "alert threshold or firing); every track is on the scores topic either way",
        ge=0,
    )
    detect_max_series: int = _field(
        10_000,
        "cap on live detector tracks per worker; tracks beyond it are skipped "
        'and counted (aiops_detect_points_total{outcome="skipped"})',
        ge=1,
    )
    detect_idle_s: float = _field(
        3600.0,
        "a track unseen this long (wall clock) is forgotten; if it was firing, "
        "its alert resolves as no_data",
        gt=0,
    )
    detect_close_after_s: float = _field(
        5.0,
        "an export group of a resource is scored this long after its first "
        "point when no newer export has arrived",
        gt=0,
    )
    detect_alert_policy: dict[str, Any] = _field(
        {"default": {"min_history": 300, "min_points": 2, "clear_points": 2, "learn_after": 120}},
        'anomaly alert policy as JSON: {"default": {"threshold": 0.5, "clear_threshold": 0.3, "min_points": 1, '
        '"min_seconds": 0, "quiet_points": 10, "quiet_seconds": 0, "severity": "warning", "alert": null, '
        '"min_history": 0, "learn_after": 0, "clear_points": 1}, "overrides": {"<metric glob>": {...}}}; '
        "fields left out keep these defaults; the stream's own default waits for 300 scored points of a series "
        "(its detector's warm-up) before it may alert, fires once two points in a row are anomalous (one "
        "export's blip is often the host's, not the service's), resolves once two in a row are back below the "
        "clear threshold, and learns none of an episode's points until it has lasted 120 points, when its "
        "value becomes the new level (a long incident keeps its alert; a lasting step resolves after 121 "
        "points); a policy you set replaces it; every metric is scored, and where alert is not set only the "
        "request metrics (http.server.request.duration, http.server.duration, rpc.server.duration) raise alerts",
    )

    # SLOs
    slo_file: Path = _field(
        Path(__file__).resolve().parent / "slo" / "examples" / "demo.yaml",
        "the SLO spec (OpenSLO v1 subset) the stream evaluates and the rules come from",
    )
    sli_max_lateness_s: float = _field(
        60.0,
        "event-time lateness up to which a point still lands in its SLI bucket; "
        "later points are dropped and counted",
        ge=0,
    )
    sli_buckets_per_window: int = _field(
        60, "buckets per rolling SLI window (edge error <= 1/buckets of a window)", ge=1
    )
    sli_evaluate_interval_s: float = _field(
        10.0, "how often the sli agent evaluates SLOs: snapshots, gauges, alerts", gt=0
    )
    sli_max_future_s: float = _field(
        300.0,
        "points newer than the wall clock by more than this are ignored and "
        "counted (they would empty the short windows)",
        ge=0,
    )

    # Ports of the local stack
    bind_host: str = _field(
        "127.0.0.1", "address the project's servers listen on (0.0.0.0 in containers)"
    )
    kafka_port: int = _field(9092, "Kafka broker listener port")
    kafka_controller_port: int = _field(9093, "Kafka KRaft controller listener port")
    collector_otlp_grpc_port: int = _field(4317, "collector OTLP gRPC receiver port")
    collector_otlp_http_port: int = _field(4318, "collector OTLP HTTP receiver port")
    collector_prometheus_port: int = _field(
        8889, "collector prometheus exporter port (scraped by Prometheus)"
    )
    collector_telemetry_port: int = _field(8888, "collector's own metrics port")
    collector_health_port: int = _field(13133, "collector health_check extension port")
    prometheus_port: int = _field(9090, "Prometheus web and API port")
    demo_port: int = _field(8000, "demo service HTTP port")
    alertmanager_port: int = _field(
        9095, "Alertmanager web and API port of the local stack (9093 is Kafka's controller)"
    )
    alertmanager_url: str = _field(
        "", "Alertmanager base URL the forwarder posts to; empty: the local stack's"
    )

    # Alertmanager forwarder
    forwarder_group: str = _field(
        "aiops-alertmanager-forwarder", "consumer group of the Alertmanager forwarder"
    )
    forwarder_resend_interval_s: float = _field(
        60.0,
        "how often firing alerts are posted again, so Alertmanager does not time them out",
        gt=0,
    )
    forwarder_max_backoff_s: float = _field(
        30.0, "longest wait between attempts while Alertmanager is down", gt=0
    )
    tempo_otlp_endpoint: str = _field(
        "127.0.0.1:4417", "Tempo OTLP gRPC endpoint the collector sends traces to"
    )
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = _field(
        "zstd",
        "codec the worker compresses the record batches it writes with (points, scores, SLI "
        "events, alerts, changelogs): zstd makes points and scores records about 8x smaller for "
        "less CPU than the socket writes it saves; aiokafka's lz4 runs at level 9, 3x slower",
    )
    kafka_producer_linger_s: float = _field(
        0.01,
        "how long the worker's producer waits to fill a record batch: fewer, larger produce "
        "requests for the broker, at most this much added delay",
        ge=0,
    )
    collector_kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = _field(
        "lz4",
        "codec the collector's kafka exporter compresses its record batches with; the worker "
        "(aiokafka, with cramjam) and the CLI tools (librdkafka) read every one of them",
    )

    # Intervals
    otlp_export_interval_ms: int = _field(
        2000, "OTLP metric export interval of the demo service and load generator", ge=100
    )
    prometheus_scrape_interval_s: int = _field(
        5, "Prometheus scrape interval of the local stack", ge=1
    )
    prometheus_native_histograms: bool = _field(
        False,
        "run the local stack's Prometheus 3 (built once from the Go module proxy, cached) with "
        "native histograms scraped; Debian's 2.42 interpolates inside native buckets linearly",
    )
    demo_histogram_aggregation: Literal[
        "explicit_bucket_histogram", "base2_exponential_bucket_histogram"
    ] = _field(
        "explicit_bucket_histogram",
        "the demo service's histogram aggregation (its OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION)",
    )

    # Local stack
    stack_dir: Path = _field(
        _REPO_ROOT / ".stack", "git-ignored folder for the local stack's logs, data and pid files"
    )
    cache_dir: Path = _field(
        _REPO_ROOT / ".cache", "git-ignored cache for Kafka jars and the collector build"
    )
    repo_root: Path = _field(_REPO_ROOT, "the repository root, where the config files live")

    @property
    def alertmanager_base_url(self) -> str:
        """Where the forwarder posts: ``alertmanager_url``, or the local stack's Alertmanager."""
        return self.alertmanager_url or f"http://127.0.0.1:{self.alertmanager_port}"

    def prometheus_graph_url(self, expr: str) -> str:
        """A link to Prometheus's graph of ``expr``, for an alert's ``generatorURL``.

        >>> Settings(prometheus_port=9090, bind_host="0.0.0.0").prometheus_graph_url("up")
        'http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=0'
        """
        host = "127.0.0.1" if self.bind_host in ("0.0.0.0", "::") else self.bind_host
        return f"http://{host}:{self.prometheus_port}/graph?g0.expr={quote(expr)}&g0.tab=0"

    @property
    def demo_url(self) -> str:
        """Base URL of the demo service."""
        return f"http://127.0.0.1:{self.demo_port}"


def env_var(field_name: str) -> str:
    """The environment variable that sets a field.

    >>> env_var("kafka_port")
    'AIOPS_KAFKA_PORT'
    """
    return ENV_PREFIX + field_name.upper()


def environment(settings: Settings) -> dict[str, str]:
    """The settings as ``AIOPS_*`` variables, mappings as JSON: what a child process needs to see the same values.

    Secrets are revealed (a child needs the password itself), so keep the result out of logs.

    >>> env = environment(Settings(kafka_port=19092, detect_alert_policy={"default": {"alert": True}},
    ...                            kafka_sasl_password="s3cret"))
    >>> env["AIOPS_KAFKA_PORT"], env["AIOPS_DETECT_ALERT_POLICY"], env["AIOPS_KAFKA_SASL_PASSWORD"]
    ('19092', '{"default": {"alert": true}}', 's3cret')
    """
    values = settings.model_dump(mode="json")
    for name in Settings.model_fields:
        if isinstance(secret := getattr(settings, name), SecretStr):
            values[name] = secret.get_secret_value()
    return {
        env_var(name): json.dumps(value) if isinstance(value, dict | list) else str(value)
        for name, value in values.items()
    }


for _name, _info in Settings.model_fields.items():
    _info.description = f"{_info.description} [env: {env_var(_name)}]"

PORT_FIELDS: tuple[str, ...] = tuple(n for n in Settings.model_fields if n.endswith("_port"))
