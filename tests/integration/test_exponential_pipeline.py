"""The demo service switched to exponential histograms, through the real collector and worker, loses nothing.

The demo's telemetry (``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=
base2_exponential_bucket_histogram``) exports over OTLP/gRPC to the ocb-built
collector, whose kafka exporter writes to the session's broker; the worker
decodes. Every request must be in an ``exponential_histogram`` point of the
HTTP duration on the points topic, and none of them dead-lettered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiops.cli.tail import follow
from aiops.decode.points_check import check_points
from aiops.settings import Settings
from aiops.stack.collector import collector_component, ensure_collector
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from aiops_demo import build_resource, configure_otlp, create_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
REQUESTS = 60


def test_every_request_reaches_the_points_topic_as_an_exponential_histogram(
    worker_settings, tmp_path: Path, free_port, monkeypatch
):
    settings = worker_settings(
        **{
            name: free_port()
            for name in (
                "collector_otlp_grpc_port",
                "collector_otlp_http_port",
                "collector_prometheus_port",
                "collector_telemetry_port",
                "collector_health_port",
            )
        }
    )
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        "base2_exponential_bucket_histogram",
    )
    collector = ManagedProcess(
        collector_component(settings, ensure_collector(Settings())), settings
    )
    worker = ManagedProcess(worker_component(settings), settings)
    collector.start()
    worker.start()
    try:
        telemetry = configure_otlp(
            build_resource(service_name="exp-pipeline", instance_id="i-1"),
            endpoint=f"http://127.0.0.1:{settings.collector_otlp_grpc_port}",
            interval_ms=500,
        )
        try:
            with TestClient(create_app(telemetry, payment_delay_s=(0.001, 0.02))) as client:
                for i in range(REQUESTS):
                    client.get("/api/users" if i % 2 else "/api/products")
        finally:
            telemetry.shutdown()
        counted, kinds = _requests_on_points(settings, "exp-pipeline")
        dead = list(
            follow(settings, settings.topic_deadletter, from_beginning=True, idle_timeout_s=2)
        )
    finally:
        worker.stop()
        assert collector.stop()

    assert counted == REQUESTS and kinds == {"exponential_histogram"}
    assert [d.value for d in dead] == [], "nothing dead-lettered (the topics are this test's own)"


def _requests_on_points(settings: Settings, service: str) -> tuple[int, set[str]]:
    """Requests counted by the HTTP duration points of ``service`` (20 s of silence ends the read)."""
    counted, kinds = 0, set()
    for record in follow(settings, settings.topic_points, from_beginning=True, idle_timeout_s=20):
        checked = check_points(record.value)
        assert checked.problems == []
        for point in checked.points():
            if point["metric"] == "http.server.request.duration" and (
                point["resource"].get("service.name") == service
            ):
                counted += point["count"]
                kinds.add(point["kind"])
        if counted >= REQUESTS:
            break
    return counted, kinds
