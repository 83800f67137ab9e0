"""Telemetry setup: env handling, the stable-semconv switch, and OTLP/gRPC export on the wire."""

import threading
import time
from concurrent import futures

import grpc
import pytest
from fastapi.testclient import TestClient
from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from aiops_demo import build_resource, build_telemetry, configure_otlp, create_app
from aiops_demo.telemetry import (
    HTTP_DURATION_METRIC,
    LATENCY_BUCKETS_S,
    PROCESS_METRICS,
    export_interval_ms,
    histogram_aggregation,
)


def test_export_interval_from_argument_env_or_default(monkeypatch):
    monkeypatch.delenv("OTEL_METRIC_EXPORT_INTERVAL", raising=False)
    assert export_interval_ms() == 2000
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "750")
    assert export_interval_ms() == 750
    assert export_interval_ms(300) == 300


def test_resource_precedence_argument_then_env_then_default(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=from-env,deployment.environment=ci"
    )
    resource = build_resource()
    assert resource.attributes["service.name"] == "demo-service"
    assert resource.attributes["service.instance.id"] == "from-env"
    assert resource.attributes["deployment.environment"] == "ci"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    assert build_resource().attributes["service.name"] == "shop"
    assert build_resource(service_name="explicit").attributes["service.name"] == "explicit"


def test_stable_http_semconv_even_if_initialised_earlier_without_it(monkeypatch):
    stability = _OpenTelemetrySemanticConventionStability
    monkeypatch.setattr(stability, "_initialized", False)
    monkeypatch.setattr(stability, "_OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING", {})
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    stability._initialize()
    reader = InMemoryMetricReader()
    app = create_app(build_telemetry(build_resource(), [reader], []))
    with TestClient(app) as client:
        client.get("/api/users")
    names = {
        m.name
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert HTTP_DURATION_METRIC in names
    assert "http.server.duration" not in names


class _Receiver(
    metrics_service_pb2_grpc.MetricsServiceServicer, trace_service_pb2_grpc.TraceServiceServicer
):
    """A minimal OTLP/gRPC receiver that keeps what it gets."""

    def __init__(self) -> None:
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.spans: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.got = threading.Event()

    def Export(self, request, context):
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            self.metrics.append(request)
            self.got.set()
            return metrics_service_pb2.ExportMetricsServiceResponse()
        self.spans.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    receiver = _Receiver()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(receiver, server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    yield receiver
    server.stop(grace=None)


def test_otlp_grpc_export_carries_the_duration_histogram(receiver):
    telemetry = configure_otlp(
        build_resource(instance_id="wire"), endpoint=receiver.endpoint, interval_ms=100
    )
    try:
        with TestClient(create_app(telemetry, payment_delay_s=(0.001, 0.001))) as client:
            client.get("/api/users")
            client.post("/api/checkout", json={"user_id": 1, "product_ids": [1]})
        assert receiver.got.wait(5)
    finally:
        telemetry.shutdown()
    deadline = time.monotonic() + 5
    while not receiver.spans and time.monotonic() < deadline:
        time.sleep(0.05)

    resource_metrics = receiver.metrics[-1].resource_metrics[0]
    resource = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
    assert resource["service.name"] == "demo-service"
    assert resource["service.instance.id"] == "wire"
    metrics = {m.name: m for sm in resource_metrics.scope_metrics for m in sm.metrics}
    duration = metrics[HTTP_DURATION_METRIC]
    assert duration.unit == "s"
    point_routes = set()
    for point in duration.histogram.data_points:
        assert tuple(point.explicit_bounds) == LATENCY_BUCKETS_S
        attrs = {a.key: a.value for a in point.attributes}
        point_routes.add(
            (attrs["http.route"].string_value, attrs["http.response.status_code"].int_value)
        )
    assert point_routes == {("/api/users", 200), ("/api/checkout", 200)}
    assert duration.histogram.aggregation_temporality == 2  # cumulative
    assert metrics["demo.checkout.orders"].sum.data_points[0].as_int == 1
    assert {"process.cpu.time", "process.memory.usage"} <= set(metrics), (
        "the service's CPU and memory"
    )
    span_names = {
        s.name
        for req in receiver.spans
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    }
    assert {"GET /api/users", "POST /api/checkout", "checkout.charge_payment"} <= span_names


def test_the_standard_variable_switches_the_duration_to_exponential_over_the_wire(
    receiver, monkeypatch
):
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        "base2_exponential_bucket_histogram",
    )
    telemetry = configure_otlp(
        build_resource(instance_id="exp"), endpoint=receiver.endpoint, interval_ms=100
    )
    try:
        with TestClient(create_app(telemetry, payment_delay_s=(0.001, 0.001))) as client:
            for _ in range(5):
                client.get("/api/users")
        assert receiver.got.wait(5)
    finally:
        telemetry.shutdown()
    resource_metrics = receiver.metrics[-1].resource_metrics[0]
    metrics = {m.name: m for sm in resource_metrics.scope_metrics for m in sm.metrics}
    duration = metrics[HTTP_DURATION_METRIC]
    assert duration.WhichOneof("data") == "exponential_histogram"
    (point,) = duration.exponential_histogram.data_points
    assert point.count == 5 and sum(point.positive.bucket_counts) + point.zero_count == 5
    assert duration.exponential_histogram.aggregation_temporality == 2  # cumulative


def test_an_unknown_histogram_aggregation_is_refused(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "exponential")
    with pytest.raises(ValueError, match="base2_exponential_bucket_histogram"):
        histogram_aggregation()


def _process_metrics(reader: InMemoryMetricReader) -> dict:
    return {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name.startswith("process.")
    }


def test_process_cpu_and_memory_are_reported_and_released_on_shutdown():
    first_reader = InMemoryMetricReader()
    first = build_telemetry(build_resource(), [first_reader], [], process_metrics=True)
    try:
        metrics = _process_metrics(first_reader)
    finally:
        first.shutdown()
    assert set(metrics) == set(PROCESS_METRICS)
    cpu = {p.attributes["type"]: p.value for p in metrics["process.cpu.time"].data.data_points}
    assert set(cpu) == {"user", "system"} and cpu["user"] > 0
    assert metrics["process.cpu.time"].data.is_monotonic
    [memory] = metrics["process.memory.usage"].data.data_points
    assert memory.value > 1_000_000 and metrics["process.memory.usage"].unit == "By"

    second_reader = InMemoryMetricReader()
    second = build_telemetry(build_resource(), [second_reader], [], process_metrics=True)
    try:
        assert set(_process_metrics(second_reader)) == set(PROCESS_METRICS), (
            "after shutdown, the next telemetry reports the process metrics"
        )
    finally:
        second.shutdown()
