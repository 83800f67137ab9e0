"""The decode agent on a real Kafka broker: points out, dead letters with reasons, state across restarts."""

import base64

import httpx
import pytest
from confluent_kafka import Producer
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from prometheus_client.parser import text_string_to_metric_families

from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1, PointV1
from aiops.settings import Settings
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess, port_is_free
from aiops.tail import follow

pytestmark = pytest.mark.integration

START = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def counter_payload(value: int, t: int) -> bytes:
    point = pb.NumberDataPoint(
        attributes=[KeyValue(key="http.route", value=AnyValue(string_value="/a"))],
        start_time_unix_nano=START,
        time_unix_nano=t,
        as_int=value,
    )
    metric = pb.Metric(
        name="requests",
        unit="1",
        sum=pb.Sum(
            data_points=[point],
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
    producer = Producer(client_config(settings))
    for payload in payloads:
        producer.produce(settings.topic_otlp_metrics, key=b"resource-key", value=payload)
    assert producer.flush(10) == 0


def read(settings: Settings, topic: str, count: int) -> list[dict]:
    records = []
    for record in follow(settings, topic, from_beginning=True, idle_timeout_s=60):
        records.append(record.value)
        if len(records) == count:
            break
    return records


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
        assert "faust_messages_received_per_topics_partition" in samples

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
