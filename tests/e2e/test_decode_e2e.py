"""Demo service → collector → Kafka → decode agent → points, and Prometheus scraping the collector."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from aiops.kafka_config import client_config
from aiops_producers.loadgen import run_load

pytestmark = pytest.mark.e2e

DURATION_METRIC = "http.server.request.duration"
LOAD_ROUTES = {"/api/users", "/api/users/{user_id}", "/api/products", "/api/checkout"}


def test_points_account_for_every_request(local_stack):
    settings = local_stack
    start = end_offsets(settings)
    httpx.post(
        f"{settings.demo_url}/faults",
        json={"route": "/api/checkout", "error_rate": 1.0, "duration_s": 600},
    ).raise_for_status()
    sent = run_load(settings.demo_url, rate=40, requests=200, seed=7, progress=False)
    httpx.delete(f"{settings.demo_url}/faults").raise_for_status()
    expected = Counter({key: n for key, n in sent.counts.items() if key[0] in LOAD_ROUTES})
    assert sent.transport_errors == {}
    assert any(status == 500 for _, status in expected), "the checkout fault must produce 500s"

    seen: Counter = Counter()
    for point in points_after(settings, start, deadline_s=120, enough=lambda: +seen == expected):
        if (
            point["metric"] != DURATION_METRIC
            or point["attributes"].get("http.route") not in LOAD_ROUTES
        ):
            continue
        assert (
            point["kind"] == "histogram" and len(point["bucket_counts"]) == len(point["bounds"]) + 1
        )
        assert point["resource"]["service.name"] == "demo-service"
        seen[
            (
                point["attributes"]["http.route"],
                int(point["attributes"]["http.response.status_code"]),
            )
        ] += point["count"]
    assert +seen == expected, "streams that saw no request add zero and are left out"


def end_offsets(settings) -> dict[int, int]:
    """Where each partition of the points topic ends now, once earlier traffic has been exported.

    Other tests in the session drive the demo service too: waiting two export
    intervals lets their last requests reach the topic before the baseline.
    """
    time.sleep(2 * settings.otlp_export_interval_ms / 1000 + 1)
    consumer = Consumer(
        {**client_config(settings), "group.id": f"e2e-{uuid.uuid4().hex[:8]}", "log_level": 0}
    )
    try:
        partitions = (
            consumer.list_topics(settings.topic_points, timeout=10)
            .topics[settings.topic_points]
            .partitions
        )
        return {
            p: consumer.get_watermark_offsets(TopicPartition(settings.topic_points, p), timeout=10)[
                1
            ]
            for p in partitions
        }
    finally:
        consumer.close()


def points_after(settings, offsets: dict[int, int], deadline_s: float, enough) -> Iterator[dict]:
    """The points written after ``offsets``, until ``enough()`` holds or the deadline passes."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign(
        [TopicPartition(settings.topic_points, p, offset) for p, offset in offsets.items()]
    )
    deadline = time.monotonic() + deadline_s
    try:
        while time.monotonic() < deadline and not enough():
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                yield json.loads(message.value())
    finally:
        consumer.close()


def test_prometheus_scrapes_the_collector(local_stack):
    settings = local_stack
    query = 'sum(http_server_request_duration_seconds_count{service_name="demo-service"})'
    deadline = time.monotonic() + 60
    while True:
        result = _prometheus_query(settings.prometheus_port, query)
        if result or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert result and float(result[0]["value"][1]) > 0, f"Prometheus has no {query}"
    up = _prometheus_query(settings.prometheus_port, 'up{job="otel-collector"}')
    assert [float(r["value"][1]) for r in up] == [1.0]


def _prometheus_query(port: int, query: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]
