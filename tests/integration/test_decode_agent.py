"""The decode agent on a real Kafka broker: points out, dead letters with reasons, state across restarts."""

import base64
import os
import signal
import time
import uuid

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from prometheus_client.parser import text_string_to_metric_families

from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_of
from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1, PointsV2, PointV1
from aiops.settings import Settings
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess, port_is_free
from aiops.topics import DECODE_STATE_TABLE, changelog_topic

pytestmark = pytest.mark.integration

START = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def counter_payload(value: int, t: int) -> bytes:
    """Resource ``svc``'s counter ``requests{http.route="/a"}`` at ``value``."""
    return counters_payload([({"http.route": "/a"}, value)], t)


def counters_payload(points: list[tuple[dict[str, str], int]], t: int) -> bytes:
    """One payload of resource ``svc``: a cumulative counter ``requests`` point per (attributes, value) at ``t``."""
    metric = pb.Metric(
        name="requests",
        unit="1",
        sum=pb.Sum(
            data_points=[
                pb.NumberDataPoint(
                    attributes=[
                        KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in labels.items()
                    ],
                    start_time_unix_nano=START,
                    time_unix_nano=t,
                    as_int=value,
                )
                for labels, value in points
            ],
            is_monotonic=True,
            aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
        ),
    )
    resource = Resource(
        attributes=[KeyValue(key="service.name", value=AnyValue(string_value="svc"))]
    )
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=[metric])])
        ]
    ).SerializeToString()


@pytest.fixture
def settings(worker_settings):
    return worker_settings()


def send(settings: Settings, *payloads: bytes) -> None:
    """Each payload in a request of its own (a batch of several could pass a small topic limit), delivered."""
    producer = Producer(client_config(settings))
    failed = []
    for payload in payloads:
        producer.produce(
            settings.topic_otlp_metrics,
            key=b"resource-key",
            value=payload,
            on_delivery=lambda error, message: error and failed.append(error),
        )
        assert producer.flush(10) == 0
    assert not failed


def read(settings: Settings, topic: str, count: int) -> list[dict]:
    """The first ``count`` records of ``topic``; on the points topic, its points (each v2 record validated)."""
    records = []
    for record in follow(settings, topic, from_beginning=True, idle_timeout_s=60):
        if topic == settings.topic_points:
            PointsV2.model_validate(record.value)
            records.extend(points_of(record.value))
        else:
            records.append(record.value)
        if len(records) >= count:
            break
    return records[:count]


def test_points_and_dead_letters_flow_and_state_survives_a_restart(settings):
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        garbage = b"\x0a\x05abc"
        send(
            settings,
            counter_payload(5, START + SECOND),
            garbage,
            counter_payload(8, START + 2 * SECOND),
        )
        first = read(settings, settings.topic_points, 2)
        assert [PointV1.model_validate(p).value for p in first] == [5.0, 3.0]
        assert first[0]["series"] == 'requests{http.route="/a"}@{service.name="svc"}'

        (dead,) = read(settings, settings.topic_deadletter, 1)
        DeadLetterV1.model_validate(dead)
        assert (
            dead["kind"] == "malformed_payload" and "not an OTLP metrics payload" in dead["reason"]
        )
        assert base64.b64decode(dead["payload_base64"]) == garbage
        assert dead["source"]["topic"] == settings.topic_otlp_metrics
        assert worker.pid is not None, "a malformed payload must not stop the worker"
        exposition = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics").text
        samples = {
            s.name: s
            for family in text_string_to_metric_families(exposition)
            for s in family.samples
            if s.labels.get("topic") in (None, settings.topic_otlp_metrics)
        }
        assert "aiops_consumer_lag" in samples, "lag per partition of the OTLP topic"
        assert samples["aiops_deadletter_total"].value == 1
        assert samples["aiops_decode_event_delay_seconds_count"].value == 2
        assert "aiops_records_in_total" in samples, "records read per topic and partition"
        assert from_memory(settings, "detect") >= 1, (
            "the detect agent takes the records its own worker sent from memory"
        )

        worker.stop()
        worker.start()
        send(settings, counter_payload(12, START + 3 * SECOND))
        after_restart = read(settings, settings.topic_points, 3)[2]
        assert after_restart["value"] == 4.0, (
            "the restarted worker must remember the last cumulative value"
        )
    finally:
        worker.stop()
    assert port_is_free(settings.faust_web_port)


def test_a_worker_killed_mid_stream_resumes_without_sending_a_point_twice(settings):
    """SIGKILL after two payloads: Faust may not have committed their offsets, so the restarted worker reads
    them again; the delta state written with each payload makes them stale, so they send nothing, and the
    next payload's delta is against the last value decoded."""
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        send(settings, counter_payload(5, START + SECOND), counter_payload(8, START + 2 * SECOND))
        read(settings, settings.topic_points, 2)
        os.killpg(worker.pid, signal.SIGKILL)
        while worker.pid is not None or not port_is_free(settings.faust_web_port):
            time.sleep(0.1)
        worker.start()
        send(settings, counter_payload(12, START + 3 * SECOND))
        values = [p["value"] for p in read(settings, settings.topic_points, 3)]
    finally:
        worker.stop()
    assert values == [5.0, 3.0, 4.0], (
        "no point sent twice, none lost, deltas against the last value"
    )


def test_a_resource_whose_state_passes_the_record_limit_is_saved_in_parts_and_restored_whole(
    worker_settings,
):
    limit = 20_000
    settings = worker_settings(max_record_bytes=limit)
    streams, per_payload = 3_000, 500

    def export(t: int, step: int) -> list[bytes]:
        return [
            counters_payload(
                [({"stream": f"s{i:05d}"}, i * step) for i in range(first, first + per_payload)], t
            )
            for first in range(0, streams, per_payload)
        ]

    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        send(settings, *export(START + SECOND, 1))
        read(settings, settings.topic_points, streams)
        worker.stop()
        worker.start()
        send(settings, *export(START + 2 * SECOND, 3))
        after = read(settings, settings.topic_points, 2 * streams)[streams:]
    finally:
        worker.stop()
    deltas = {p["attributes"]["stream"]: p["value"] for p in after}
    assert len(deltas) == streams
    assert deltas == {f"s{i:05d}": 2.0 * i for i in range(streams)}, (
        "every stream's last cumulative value must survive the restart, however many parts it took"
    )
    saved = raw_records(settings, changelog_topic(settings, DECODE_STATE_TABLE))
    assert any(b"#part" in key for key, _ in saved), f"no state part in {[k for k, _ in saved]}"
    assert max(len(value or b"") for _, value in saved) <= limit


def from_memory(settings: Settings, reader: str, timeout_s: float = 30.0) -> float:
    """``aiops_points_records_from_memory_total`` of ``reader`` once it is non-zero (0 after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        exposition = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics").text
        taken = sum(
            s.value
            for family in text_string_to_metric_families(exposition)
            for s in family.samples
            if s.name == "aiops_points_records_from_memory_total" and s.labels["reader"] == reader
        )
        if taken or time.monotonic() > deadline:
            return taken
        time.sleep(0.5)


def raw_records(settings: Settings, topic: str) -> list[tuple[bytes, bytes | None]]:
    """Every (key, value) of ``topic`` as stored."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"raw-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records, idle = [], 0
    try:
        while idle < 10:
            message = consumer.poll(0.5)
            if message is None or message.error():
                idle += 1
                continue
            idle = 0
            records.append((message.key(), message.value()))
    finally:
        consumer.close()
    return records
