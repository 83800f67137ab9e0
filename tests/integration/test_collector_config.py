"""The real otelcol-aiops binary against collector/otelcol-config.yaml.

The first run builds the collector with ocb (minutes; cached in .cache/collector
afterwards). No Kafka is needed: the collector must start without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from aiops.kafka_config import record_limits
from aiops.settings import Settings
from aiops.stack.collector import (
    CollectorConfigError,
    collector_component,
    collector_env,
    config_path,
    ensure_collector,
    validate_config,
)
from aiops.stack.process import ManagedProcess

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def binary() -> Path:
    return ensure_collector(Settings())


@pytest.fixture
def settings(tmp_path: Path, free_port) -> Settings:
    """Free ports, a stack dir of the test's own, and a Kafka and Tempo that are not there."""
    ports = {
        name: free_port()
        for name in (
            "collector_otlp_grpc_port",
            "collector_otlp_http_port",
            "collector_prometheus_port",
            "collector_telemetry_port",
            "collector_health_port",
        )
    }
    return Settings(
        **ports,
        max_record_bytes=3 * 1024 * 1024,
        collector_kafka_compression="zstd",
        stack_dir=tmp_path / "stack",
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}",
        tempo_otlp_endpoint=f"127.0.0.1:{free_port()}",
        topic_otlp_metrics="test_metrics",
    )


def test_config_is_valid_with_the_local_stack_env(binary: Path, settings: Settings):
    validate_config(binary, config_path(settings), collector_env(settings))


def test_validate_names_an_unknown_key(binary: Path, settings: Settings, tmp_path: Path):
    config = yaml.safe_load(config_path(settings).read_text())
    config["exporters"]["kafka"]["producer"]["max_message_byte"] = 1000
    broken = tmp_path / "otelcol-config.yaml"
    broken.write_text(yaml.safe_dump(config))
    with pytest.raises(CollectorConfigError, match="max_message_byte"):
        validate_config(binary, broken, collector_env(settings))


def test_env_reaches_the_resolved_config(binary: Path, settings: Settings):
    resolved = _print_config(binary, settings)
    kafka = resolved["exporters"]["kafka"]
    assert kafka["brokers"] == settings.kafka_bootstrap_servers.split(",")
    assert kafka["metrics"] == {
        **kafka["metrics"],
        "topic": "test_metrics",
        "encoding": "otlp_proto",
    }
    assert kafka["traces"] == {
        **kafka["traces"],
        "topic": settings.topic_otlp_spans,
        "encoding": "otlp_proto",
    }
    assert kafka["partition_metrics_by_resource_attributes"] is True
    assert kafka["producer"]["allow_auto_topic_creation"] is False
    assert kafka["producer"]["max_message_bytes"] == record_limits(settings).record_bytes
    assert kafka["producer"]["compression"] == settings.collector_kafka_compression
    assert (
        resolved["exporters"]["prometheus"]["endpoint"]
        == f"127.0.0.1:{settings.collector_prometheus_port}"
    )
    assert resolved["exporters"]["otlp_grpc/tempo"]["endpoint"] == settings.tempo_otlp_endpoint
    pipelines = resolved["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["kafka", "prometheus"]
    assert pipelines["metrics"]["processors"][0] == "memory_limiter"


def test_starts_without_kafka_and_serves_received_metrics(binary: Path, settings: Settings):
    process = ManagedProcess(collector_component(settings, binary), settings)
    process.start()
    try:
        _post_otlp_json(settings, "/v1/metrics", _one_counter(service="checkout", value=7))
        exposition = _wait_for(
            f"http://127.0.0.1:{settings.collector_prometheus_port}/metrics", "orders_total"
        )
        sample = next(line for line in exposition.splitlines() if line.startswith("orders_total{"))
        assert (
            'job="checkout"' in sample
            and 'service_name="checkout"' in sample
            and sample.endswith(" 7")
        )
        assert "otelcol_" in _wait_for(
            f"http://127.0.0.1:{settings.collector_telemetry_port}/metrics", "otelcol_"
        )
        assert process.pid is not None, "the collector exited while Kafka was unreachable"
    finally:
        assert process.stop()


def _print_config(binary: Path, settings: Settings) -> dict:
    result = subprocess.run(
        [str(binary), "print-config", "--config", str(config_path(settings))],
        env={**os.environ, **collector_env(settings)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return yaml.safe_load(result.stdout)


def _one_counter(service: str, value: int) -> dict:
    now = str(time.time_ns())
    point = {"asInt": str(value), "startTimeUnixNano": now, "timeUnixNano": now}
    metric = {
        "name": "orders",
        "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [point]},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [metric]}]}]}


def _post_otlp_json(settings: Settings, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.collector_otlp_http_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _wait_for(url: str, text: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    body = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read().decode()
        if text in body:
            return body
        time.sleep(0.2)
    raise AssertionError(
        f"{text!r} not served at {url} within {timeout_s}s; last body:\n{body[:2000]}"
    )
