"""OpenTelemetry SDK setup of the demo service: providers are built here and passed in.

Nothing here is global: ``configure_otlp()`` returns a ``Telemetry`` (a meter
and a tracer provider) that ``create_app`` instruments with, and tests build
one with in-memory readers through ``build_telemetry``. Both paths share the
resource and the histogram view, so the tests check what production exports.
The OTLP path also reports the process's own CPU and memory
(``process.cpu.time`` by user and system, ``process.memory.usage``: resident memory)
through opentelemetry-instrumentation-system-metrics.

Standard variables honoured: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default
``http://127.0.0.1:4317``, gRPC, insecure for ``http://``),
``OTEL_METRIC_EXPORT_INTERVAL`` (ms, default 2000), ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` (explicit arguments win over them), and
``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION``:
``explicit_bucket_histogram`` (default: the HTTP duration keeps
``LATENCY_BUCKETS_S``) or ``base2_exponential_bucket_histogram`` (every
histogram, the HTTP duration included, is exported as an exponential one).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _StabilityMode,
)
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    Aggregation,
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from aiops_demo._version import __version__

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_EXPORT_INTERVAL_MS",
    "DEFAULT_SERVICE_NAME",
    "HTTP_DURATION_METRIC",
    "LATENCY_BUCKETS_S",
    "PROCESS_METRICS",
    "Telemetry",
    "build_resource",
    "build_telemetry",
    "configure_otlp",
    "export_interval_ms",
    "histogram_aggregation",
    "use_stable_http_semconv",
]

DEFAULT_SERVICE_NAME = "demo-service"
DEFAULT_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_EXPORT_INTERVAL_MS = 2000.0
HTTP_DURATION_METRIC = "http.server.request.duration"
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
"""Bucket bounds of the HTTP duration histogram: the semconv advisory ones, pinned by a view."""

PROCESS_METRICS: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.memory.usage": None,
}
"""The process metrics the service reports, as the system-metrics instrumentation's config."""

_SEMCONV_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
_HISTOGRAM_AGGREGATION = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
HistogramAggregation = Literal["explicit_bucket_histogram", "base2_exponential_bucket_histogram"]
_STABLE_HTTP_MODES = (_StabilityMode.HTTP, _StabilityMode.HTTP_DUP)


@dataclass(frozen=True)
class Telemetry:
    """The providers one app instruments with; whoever built them shuts them down."""

    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    process_metrics: SystemMetricsInstrumentor | None = None
    """Set when this telemetry reports the process's CPU and memory (one per process at a time)."""

    def shutdown(self) -> None:
        """Flush and stop both providers (pending spans and a last metric export)."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        if self.process_metrics is not None:
            self.process_metrics.uninstrument()


def build_resource(
    service_name: str | None = None,
    service_version: str | None = None,
    instance_id: str | None = None,
) -> Resource:
    """The service's resource: explicit arguments, then the OTEL_* variables, then defaults.

    >>> r = build_resource(service_name="demo-service", instance_id="host-a:8000")
    >>> r.attributes["service.name"], r.attributes["service.instance.id"]
    ('demo-service', 'host-a:8000')
    """
    defaults = {
        SERVICE_NAME: DEFAULT_SERVICE_NAME,
        SERVICE_VERSION: __version__,
        SERVICE_INSTANCE_ID: socket.gethostname(),
    }
    explicit = {
        key: value
        for key, value in (
            (SERVICE_NAME, service_name),
            (SERVICE_VERSION, service_version),
            (SERVICE_INSTANCE_ID, instance_id),
        )
        if value is not None
    }
    from_env = dict(OTELResourceDetector().detect().attributes)
    return Resource.create({**defaults, **from_env, **explicit})


def build_telemetry(
    resource: Resource,
    metric_readers: Sequence[MetricReader],
    span_processors: Sequence[SpanProcessor],
    *,
    process_metrics: bool = False,
    histogram: HistogramAggregation = "explicit_bucket_histogram",
) -> Telemetry:
    """Providers with the given readers and span processors and the latency-bucket view.

    ``process_metrics`` adds the process's CPU and memory (``PROCESS_METRICS``).
    ``histogram`` is the HTTP duration's aggregation: explicit ``LATENCY_BUCKETS_S``,
    or base-2 exponential with the SDK's defaults (160 buckets, scale <= 20).
    The instrumentation is a singleton: only one live ``Telemetry`` per process
    can report them, until its ``shutdown``.
    """
    aggregation: Aggregation = (
        ExponentialBucketHistogramAggregation()
        if histogram == "base2_exponential_bucket_histogram"
        else ExplicitBucketHistogramAggregation(boundaries=LATENCY_BUCKETS_S)
    )
    latency_view = View(instrument_name=HTTP_DURATION_METRIC, aggregation=aggregation)
    tracer_provider = TracerProvider(resource=resource)
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(
        resource=resource, metric_readers=list(metric_readers), views=[latency_view]
    )
    instrumentor = None
    if process_metrics:
        instrumentor = SystemMetricsInstrumentor(config=PROCESS_METRICS)
        instrumentor.instrument(meter_provider=meter_provider)
    return Telemetry(meter_provider, tracer_provider, instrumentor)


def export_interval_ms(value: float | None = None) -> float:
    """The metric export interval: the argument, else ``OTEL_METRIC_EXPORT_INTERVAL``, else 2000.

    >>> export_interval_ms(500)
    500.0
    """
    if value is not None:
        return float(value)
    return float(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_EXPORT_INTERVAL_MS))


def histogram_aggregation(value: str | None = None) -> HistogramAggregation:
    """The histogram aggregation: the argument, else ``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION``.

    Raises ``ValueError`` for a value the OTel specification does not define.

    >>> histogram_aggregation("base2_exponential_bucket_histogram")
    'base2_exponential_bucket_histogram'
    """
    chosen = value or os.environ.get(_HISTOGRAM_AGGREGATION) or "explicit_bucket_histogram"
    if chosen not in get_args(HistogramAggregation):
        raise ValueError(
            f"{_HISTOGRAM_AGGREGATION}={chosen!r}: use one of {', '.join(get_args(HistogramAggregation))}"
        )
    return chosen  # type: ignore[return-value]


def configure_otlp(
    resource: Resource | None = None,
    endpoint: str | None = None,
    interval_ms: float | None = None,
) -> Telemetry:
    """Telemetry that exports metrics (with the process's CPU and memory) and spans over OTLP/gRPC.

    Nothing connects until the first export, so a collector that is down only
    costs failed (logged) exports, never a failed start.
    """
    target = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    insecure = not target.startswith("https://")
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=target, insecure=insecure),
        export_interval_millis=export_interval_ms(interval_ms),
    )
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=target, insecure=insecure))
    return build_telemetry(
        resource or build_resource(),
        [reader],
        [processor],
        process_metrics=True,
        histogram=histogram_aggregation(),
    )


def use_stable_http_semconv() -> None:
    """Make HTTP instrumentations emit the stable conventions (``http.server.request.duration``).

    Adds ``http`` to ``OTEL_SEMCONV_STABILITY_OPT_IN`` unless it already asks for
    ``http`` or ``http/dup``. The instrumentation library reads that variable once
    per process; when something initialised it earlier without ``http``, it is
    re-read here (a private hook of opentelemetry-instrumentation 0.66).
    """
    requested = [s.strip() for s in os.environ.get(_SEMCONV_OPT_IN, "").split(",") if s.strip()]
    if not {"http", "http/dup"} & set(requested):
        os.environ[_SEMCONV_OPT_IN] = ",".join([*requested, "http"])
    stability = _OpenTelemetrySemanticConventionStability
    stability._initialize()
    mode = stability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP
    )
    if mode not in _STABLE_HTTP_MODES:
        stability._initialized = False
        stability._initialize()
