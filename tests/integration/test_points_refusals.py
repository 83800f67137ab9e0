"""Readers of aiops.points on a real broker: a bad record or bad points are dead-lettered with a reason, counted,
and the rest is scored; the worker keeps going."""

import re
import time

import httpx
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from aiops.anomaly.engine import scores_of
from aiops.bench.synthetic import synthetic_exports
from aiops.cli.tail import follow
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess

pytestmark = pytest.mark.integration


def good_record() -> bytes:
    """One synthetic export of one resource as the decode agent writes it (8 gauges, counters, histograms)."""
    state = DeltaState()
    (first,), (second,) = synthetic_exports(resources=1, series=8, exports=2)
    decode_payload_v2(first, lambda key: state)
    (out,) = decode_payload_v2(second, lambda key: state).records
    return out.value


def test_bad_points_records_and_points_are_dead_lettered_and_the_rest_is_scored(worker_settings):
    settings = worker_settings()
    good = good_record()
    one_bad_point = re.sub(rb'"value":\[[^,\]]+', b'"value":["x"', good, count=1)
    assert one_bad_point != good
    sent = [b"not json", b'{"schema": "aiops.points/v9"}', one_bad_point, good]
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        producer = Producer(client_config(settings))
        for value in sent:
            producer.produce(settings.topic_points, key=b"r-1", value=value)
        assert producer.flush(10) == 0
        dead = []
        for record in follow(
            settings, settings.topic_deadletter, from_beginning=True, idle_timeout_s=60
        ):
            dead.append(DeadLetterV1.model_validate(record.value))
            if len([d for d in dead if d.stage == "detect"]) >= 3:
                break
        by_detect = sorted((d.kind, d.source.offset, d.reason) for d in dead if d.stage == "detect")
        assert [(kind, offset) for kind, offset, _ in by_detect] == [
            ("bad_points", 2),
            ("bad_points_record", 0),
            ("bad_points_record", 1),
        ]
        assert "1 of" in by_detect[0][2] and "not_numeric 1" in by_detect[0][2]
        assert "not JSON" in by_detect[1][2] and "aiops.points/v9" in by_detect[2][2]
        scored = []
        for record in follow(
            settings, settings.topic_scores, from_beginning=True, idle_timeout_s=60
        ):
            scored.extend(scores_of(record.value))
            if scored:
                break
        assert scored, "the good points are scored"
        time.sleep(1)
        exposition = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics").text
        refused = sum(
            s.value
            for family in text_string_to_metric_families(exposition)
            for s in family.samples
            if s.name == "aiops_detect_points_total" and s.labels.get("outcome") == "refused"
        )
        assert refused == 1
        assert worker.pid is not None
    finally:
        worker.stop()
