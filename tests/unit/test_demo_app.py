"""The demo app with in-memory telemetry: exported metrics, spans, faults, health and readiness."""

import random
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiops_demo import FaultState, build_resource, build_telemetry, create_app
from aiops_demo.app import CHECKOUT_ORDERS_METRIC, PAYMENT_SPAN
from aiops_demo.telemetry import HTTP_DURATION_METRIC, LATENCY_BUCKETS_S

ORDER = {"user_id": 1, "product_ids": [1, 2]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Demo:
    """An app wired to in-memory readers, a fake fault clock and a seeded rng."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        self.clock = FakeClock()
        self.faults = FaultState(clock=self.clock, rng=random.Random(0))
        self.telemetry = build_telemetry(
            build_resource(instance_id="test-1"), [self.reader], [SimpleSpanProcessor(self.spans)]
        )
        self.app = create_app(
            self.telemetry, self.faults, payment_delay_s=(0.001, 0.002), rng=random.Random(0)
        )

    def metrics(self) -> dict:
        """Metric name → (unit, data points), across scopes."""
        found = {}
        for rm in self.reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    found[m.name] = (m.unit, list(m.data.data_points))
        return found

    def durations(self) -> dict[tuple[str, str, int], HistogramDataPoint]:
        """(method, route, status) → the duration histogram point."""
        _, points = self.metrics()[HTTP_DURATION_METRIC]
        return {
            (
                p.attributes["http.request.method"],
                p.attributes["http.route"],
                p.attributes["http.response.status_code"],
            ): p
            for p in points
        }


@pytest.fixture
def demo():
    d = Demo()
    yield d
    d.telemetry.shutdown()


@pytest.fixture
def client(demo):
    """A loopback client: it may inject faults without a token (test_demo_fault_access covers the rest)."""
    with TestClient(demo.app, client=("127.0.0.1", 50000)) as c:
        yield c


def test_duration_histogram_follows_stable_http_semconv(demo, client):
    for _ in range(3):
        assert client.get("/api/users").status_code == 200
    for user_id in (7, 8):
        assert client.get(f"/api/users/{user_id}").status_code == 200
    assert client.get("/api/users/999").status_code == 404
    assert client.get("/api/products").status_code == 200
    assert client.post("/api/checkout", json=ORDER).status_code == 200

    metrics = demo.metrics()
    assert "http.server.duration" not in metrics
    unit, _ = metrics[HTTP_DURATION_METRIC]
    assert unit == "s"
    points = demo.durations()
    assert {key: p.count for key, p in points.items()} == {
        ("GET", "/api/users", 200): 3,
        ("GET", "/api/users/{user_id}", 200): 2,
        ("GET", "/api/users/{user_id}", 404): 1,
        ("GET", "/api/products", 200): 1,
        ("POST", "/api/checkout", 200): 1,
    }
    for p in points.values():
        assert tuple(p.explicit_bounds) == LATENCY_BUCKETS_S
        assert sum(p.bucket_counts) == p.count
        assert {"http.route", "http.response.status_code", "http.request.method"} <= set(
            p.attributes
        )


def test_resource_names_the_service(demo, client):
    client.get("/api/users")
    resource = demo.reader.get_metrics_data().resource_metrics[0].resource
    assert resource.attributes["service.name"] == "demo-service"
    assert resource.attributes["service.instance.id"] == "test-1"
    assert resource.attributes["service.version"]


def test_control_endpoints_stay_out_of_the_telemetry(demo, client):
    client.get("/health")
    client.get("/ready")
    client.get("/faults")
    client.get("/api/products")
    assert {route for _, route, _ in demo.durations()} == {"/api/products"}
    assert [s.name for s in demo.spans.get_finished_spans()] == ["GET /api/products"]


def test_checkout_charges_in_a_child_span_and_counts_the_order(demo, client):
    for _ in range(2):
        assert client.post("/api/checkout", json=ORDER).json()["amount"] > 0
    spans = demo.spans.get_finished_spans()
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    payments = [s for s in spans if s.name == PAYMENT_SPAN]
    assert len(servers) == len(payments) == 2
    for server, payment in zip(servers, payments):
        assert payment.parent.span_id == server.context.span_id
        assert payment.context.trace_id == server.context.trace_id
    unit, points = demo.metrics()[CHECKOUT_ORDERS_METRIC]
    assert unit == "{order}"
    assert sum(p.value for p in points) == 2


def test_checkout_of_unknown_user_is_a_404_and_no_order(demo, client):
    assert (
        client.post("/api/checkout", json={"user_id": 5000, "product_ids": [1]}).status_code == 404
    )
    assert CHECKOUT_ORDERS_METRIC not in demo.metrics()


def test_error_fault_answers_500_and_marks_the_span(demo, client):
    response = client.post(
        "/faults", json={"route": "/api/checkout", "error_rate": 1.0, "duration_s": 30}
    )
    assert response.status_code == 201
    assert [client.post("/api/checkout", json=ORDER).status_code for _ in range(3)] == [500] * 3
    assert client.get("/api/users").status_code == 200

    points = demo.durations()
    assert points[("POST", "/api/checkout", 500)].count == 3
    assert points[("POST", "/api/checkout", 500)].attributes["error.type"] == "500"
    assert points[("GET", "/api/users", 200)].count == 1
    failed = [
        s
        for s in demo.spans.get_finished_spans()
        if s.kind == SpanKind.SERVER and s.name == "POST /api/checkout"
    ]
    assert len(failed) == 3
    for span in failed:
        assert span.status.status_code == StatusCode.ERROR
        assert span.attributes["demo.fault.injected"] is True
    assert CHECKOUT_ORDERS_METRIC not in demo.metrics()


def test_latency_fault_shows_in_the_histogram(demo, client):
    client.post("/faults", json={"route": "/api/products", "latency_ms": 120, "duration_s": 30})
    for _ in range(3):
        assert client.get("/api/products").status_code == 200
    client.get("/api/users")
    points = demo.durations()
    slow = points[("GET", "/api/products", 200)]
    assert slow.sum >= 3 * 0.120
    assert sum(slow.bucket_counts[: LATENCY_BUCKETS_S.index(0.1) + 1]) == 0
    assert points[("GET", "/api/users", 200)].sum < 0.120


def test_all_routes_fault_hits_every_api_route(client):
    client.post("/faults", json={"route": "*", "error_rate": 1.0})
    assert client.get("/api/users").status_code == 500
    assert client.get("/api/users/3").status_code == 500
    assert client.get("/health").status_code == 200


def test_faults_expire_and_can_be_listed_and_cleared(demo, client):
    client.post("/faults", json={"route": "/api/users", "latency_ms": 5, "duration_s": 10})
    client.post("/faults", json={"route": "/api/products", "error_rate": 0.5, "duration_s": 60})
    demo.clock.now += 4
    listed = client.get("/faults").json()["faults"]
    assert listed == [
        {"route": "/api/products", "latency_ms": 0.0, "error_rate": 0.5, "remaining_s": 56.0},
        {"route": "/api/users", "latency_ms": 5.0, "error_rate": 0.0, "remaining_s": 6.0},
    ]
    demo.clock.now += 6
    assert [f["route"] for f in client.get("/faults").json()["faults"]] == ["/api/products"]
    assert client.delete("/faults", params={"route": "/api/products"}).json() == {"cleared": 1}
    client.post("/faults", json={"route": "*", "latency_ms": 1})
    assert client.delete("/faults").json() == {"cleared": 1}
    assert client.get("/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    "body",
    [
        {"route": "/api/nope", "error_rate": 1},
        {"route": "/api/users/7", "error_rate": 1},
        {"route": "/api/users", "error_rate": 1.5},
        {"route": "/api/users", "latency_ms": -5},
        {"route": "/api/users", "latency_ms": 5, "duration_s": 0},
        {"route": "/api/users"},
    ],
)
def test_bad_fault_requests_are_422(client, body):
    assert client.post("/faults", json=body).status_code == 422
    assert client.get("/faults").json() == {"faults": []}


def test_health_and_readiness(demo):
    unstarted = TestClient(demo.app)
    assert unstarted.get("/health").json() == {"status": "ok"}
    assert unstarted.get("/ready").status_code == 503
    with TestClient(demo.app) as started:
        assert started.get("/ready").json() == {"ready": True}
    assert unstarted.get("/ready").status_code == 503


def test_demo_imports_nothing_from_aiops():
    probe = (
        "import sys, aiops_demo, aiops_demo.__main__; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiops'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
