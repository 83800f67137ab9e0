"""A cardinality bomb on a real broker: every cap holds, what it keeps out is counted, the worker keeps serving."""

import time

import httpx
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from aiops.bench.synthetic import START, Fleet
from aiops.kafka_config import client_config
from aiops.settings import Settings
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess

pytestmark = pytest.mark.integration

CAP = 2_000
RESOURCES = 300
SERIES = 60


def samples(settings: Settings) -> dict[tuple[str, tuple], float]:
    """The worker's metrics by (name, sorted labels); the scrape must answer."""
    response = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def total(found: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, pairs), value in found.items()
        if sample == name and all((k, v) in pairs for k, v in labels.items())
    )


def test_a_cardinality_bomb_hits_the_caps_is_counted_and_the_worker_keeps_serving(worker_settings):
    settings = worker_settings(decode_max_streams=CAP, detect_max_series=CAP, decode_max_series=CAP)
    fleet = Fleet(RESOURCES, SERIES, seed=1)  # 300 new pods of 60 series: 18,000 new series
    payloads = [p for i in (1, 2) for p in fleet.round(START + i * 10 * 1_000_000_000)]
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        producer = Producer(client_config(settings))
        for i, payload in enumerate(payloads):
            producer.produce(settings.topic_otlp_metrics, key=str(i).encode(), value=payload)
        assert producer.flush(30) == 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = samples(settings)
            if total(found, "aiops_decode_payloads_total") >= len(payloads):
                break
            time.sleep(1)
        time.sleep(8)  # the last exports close after detect_close_after_s
        found = samples(settings)
        assert total(found, "aiops_decode_payloads_total") == len(payloads)
        assert 0 < total(found, "aiops_decode_streams") <= CAP
        assert total(found, "aiops_decode_points_total", outcome="capped") > 0
        assert 0 < total(found, "aiops_detect_tracks") <= CAP
        assert total(found, "aiops_detect_points_total", outcome="skipped") > 0
        assert total(found, "aiops_detect_points_total", outcome="scored") > 0
        assert worker.pid is not None, "the bomb must not stop the worker"
    finally:
        worker.stop()
