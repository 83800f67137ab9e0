"""Demo service → collector → Kafka → decode agent → points, and Prometheus scraping the collector."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections import Counter

import httpx
import pytest

from aiops.tail import follow
from aiops_producers.loadgen import run_load

pytestmark = pytest.mark.e2e

DURATION_METRIC = "http.server.request.duration"
LOAD_ROUTES = {"/api/users", "/api/users/{user_id}", "/api/products", "/api/checkout"}


def test_points_account_for_every_request(local_stack):
    settings = local_stack
    httpx.post(f"{settings.demo_url}/faults", json={"route": "/api/checkout", "error_rate": 1.0,
                                                   "duration_s": 600}).raise_for_status()
    sent = run_load(settings.demo_url, rate=40, requests=200, seed=7, progress=False)
    httpx.delete(f"{settings.demo_url}/faults").raise_for_status()
    expected = {key: n for key, n in sent.counts.items() if key[0] in LOAD_ROUTES}
    assert sent.transport_errors == {}
    assert any(status == 500 for _, status in expected), "the checkout fault must produce 500s"

    seen: Counter = Counter()
    deadline = time.monotonic() + 120
    for record in follow(settings, settings.topic_points, from_beginning=True, idle_timeout_s=60):
        if time.monotonic() > deadline:
            break
        point = record.value
        if point["metric"] != DURATION_METRIC or point["attributes"].get("http.route") not in LOAD_ROUTES:
            continue
        assert point["kind"] == "histogram" and len(point["bucket_counts"]) == len(point["bounds"]) + 1
        assert point["resource"]["service.name"] == "demo-service"
        seen[(point["attributes"]["http.route"], int(point["attributes"]["http.response.status_code"]))] += point["count"]
        if seen == expected:
            break
    assert dict(seen) == expected


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
