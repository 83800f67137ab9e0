"""The decode agent on a real Kafka broker refuses bad points one by one and never sends a record over its limit."""

import base64
import math
import time
import uuid

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from prometheus_client.parser import text_string_to_metric_families

from aiops.decode.points_check import check_points
from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from support.otlp_gen import kv

pytestmark = pytest.mark.integration

SECOND = 1_000_000_000


def counter(start: int, *points: tuple[float, int]) -> bytes:
    """One cumulative counter's points (value, time) since ``start``, in one payload."""
    data = [
        pb.NumberDataPoint(
            attributes=[kv("http.route", "/a")],
            start_time_unix_nano=start,
            time_unix_nano=t,
            as_double=value,
        )
        for value, t in points
    ]
    metric = pb.Metric(
        name="requests",
        unit="1",
        sum=pb.Sum(
            data_points=data,
            is_monotonic=True,
            aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
        ),
    )
    resource = pb.ResourceMetrics(
        resource=Resource(attributes=[kv("service.name", "svc")]),
        scope_metrics=[pb.ScopeMetrics(metrics=[metric])],
    )
    return pb.MetricsData(resource_metrics=[resource]).SerializeToString()


def read(settings, topic: str, count: int) -> list[bytes]:
    """The values of the first ``count`` records of ``topic``, as bytes (waiting up to 60 s)."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                values.append(message.value())
    finally:
        consumer.close()
    return values


def test_bad_points_are_dead_lettered_by_reason_and_the_good_ones_go_on(worker_settings):
    settings = worker_settings(max_record_bytes=200_000)
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        now = time.time_ns()
        start = now - 3600 * SECOND
        producer = Producer(client_config(settings))
        payloads = (
            counter(start, (5.0, now - 20 * SECOND)),
            # a NaN, a point dated 2262 and a negative monotonic sum beside a good point
            counter(
                start,
                (math.nan, now - 12 * SECOND),
                (9.0, 2**63 - 1),
                (-4.0, now - 11 * SECOND),
                (8.0, now - 10 * SECOND),
            ),
            b"\x0a" + bytes(settings.max_record_bytes - 1),  # as large as the topic takes, not OTLP
            counter(start, (12.0, now)),
        )
        for payload in payloads:
            producer.produce(settings.topic_otlp_metrics, key=b"k", value=payload)
        assert producer.flush(10) == 0

        values = []
        for value in read(settings, settings.topic_points, 3):
            assert len(value) <= settings.max_record_bytes
            values += [point["value"] for point in check_points(value).points()]
        assert values == [5.0, 3.0, 4.0], "the refused points changed no state"

        dead = read(settings, settings.topic_deadletter, 2)
        assert all(len(value) <= settings.max_record_bytes for value in dead)
        refused, garbage = sorted(
            (DeadLetterV1.model_validate_json(value) for value in dead),
            key=lambda letter: letter.kind == "malformed_payload",
        )
        assert refused.kind == "unreadable_points"
        assert refused.reason.startswith(
            "3 of 4 points refused: future 1, negative_monotonic 1, not_finite 1; e.g. "
        )
        assert garbage.kind == "malformed_payload" and "payload cut to its first" in garbage.reason
        assert len(base64.b64decode(garbage.payload_base64)) <= 75_000

        exposition = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics").text
        refusals = {
            sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
            if sample.name == "aiops_decode_point_problems_total"
        }
        assert refusals == {"future": 1.0, "negative_monotonic": 1.0, "not_finite": 1.0}
        assert worker.pid is not None
    finally:
        worker.stop()


def test_a_quiet_streams_state_expires_counted_and_it_starts_over(worker_settings):
    settings = worker_settings(decode_ttl_s=2.0)
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        now = time.time_ns()
        start = now - 3600 * SECOND
        producer = Producer(client_config(settings))  # one key: one partition, in order
        producer.produce(
            settings.topic_otlp_metrics, key=b"k", value=counter(start, (5.0, now - 30 * SECOND))
        )
        producer.produce(
            settings.topic_otlp_metrics, key=b"k", value=counter(start, (7.0, now - 29 * SECOND))
        )
        assert producer.flush(10) == 0
        assert len(read(settings, settings.topic_points, 2)) == 2
        # event time moves on (another stream, 25 s later): the counter's state is older than the TTL
        other = pb.MetricsData()
        other.ParseFromString(counter(start, (1.0, now - 4 * SECOND)))
        other.resource_metrics[0].scope_metrics[0].metrics[0].name = "other"
        producer.produce(settings.topic_otlp_metrics, key=b"k", value=other.SerializeToString())
        assert producer.flush(10) == 0
        deadline, expired = time.monotonic() + 30, 0.0
        while time.monotonic() < deadline and not expired:
            time.sleep(0.5)
            exposition = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics").text
            expired = sum(
                sample.value
                for family in text_string_to_metric_families(exposition)
                for sample in family.samples
                if sample.name == "aiops_decode_expired_streams_total"
            )
        assert expired >= 1
        producer.produce(
            settings.topic_otlp_metrics, key=b"k", value=counter(start, (9.0, now - 3 * SECOND))
        )
        assert producer.flush(10) == 0
        values = [
            point["value"]
            for value in read(settings, settings.topic_points, 4)
            for point in check_points(value).points()
        ]
        assert values == [5.0, 2.0, 1.0, 9.0], "after expiry the counter counts from its start"
    finally:
        worker.stop()
