"""Every codec the collector's kafka exporter can write is read by the worker.

The real otelcol-aiops binary (built by ocb, cached) sends OTLP into the
session's real broker with each ``compression`` setting, and a librdkafka
producer with each codec; one real worker, shared by the module, decodes the
points. Each case also reads the raw record batches back from the broker, so
it fails if the batch was not compressed with the codec under test (a test
that passes with ``none`` proves nothing).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest
from aiokafka import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from confluent_kafka import Producer
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_of
from aiops.kafka_config import client_config
from aiops.settings import Settings
from aiops.stack.collector import collector_component, ensure_collector
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CODECS = {
    "gzip": DefaultRecordBatch.CODEC_GZIP,
    "snappy": DefaultRecordBatch.CODEC_SNAPPY,
    "lz4": DefaultRecordBatch.CODEC_LZ4,
    "zstd": DefaultRecordBatch.CODEC_ZSTD,
}
ROUTES = 50


@pytest.fixture(scope="module")
def binary() -> Path:
    return ensure_collector(Settings())


@pytest.fixture(scope="module")
def worker(worker_settings_in, tmp_path_factory) -> Settings:
    """One worker for every codec: its settings, the worker running."""
    settings = worker_settings_in(tmp_path_factory.mktemp("codecs"))
    process = ManagedProcess(worker_component(settings), settings)
    process.start()
    try:
        yield settings
        assert process.pid is not None, f"the worker exited:\n{process.tail(40)}"
    finally:
        process.stop()


@pytest.mark.parametrize("codec", CODECS)
def test_the_worker_decodes_what_the_collector_compressed(
    codec: str, binary: Path, worker: Settings, tmp_path: Path, free_port
):
    settings = worker.model_copy(
        update={
            "stack_dir": tmp_path,
            "collector_kafka_compression": codec,
            **{
                name: free_port()
                for name in (
                    "collector_otlp_grpc_port",
                    "collector_otlp_http_port",
                    "collector_prometheus_port",
                    "collector_telemetry_port",
                    "collector_health_port",
                )
            },
        }
    )
    service = f"codec-{codec}"
    collector = ManagedProcess(collector_component(settings, binary), settings)
    collector.start()
    try:
        _post_counters(settings, service, routes=ROUTES)
        values = _points_of(settings, service, ROUTES)
    finally:
        assert collector.stop()

    assert values == {
        f'orders{{http.route="/orders/{route}"}}@{{service.name="{service}"}}': route + 1.0
        for route in range(ROUTES)
    }
    assert asyncio.run(_batch_codecs(settings, service.encode())) == {CODECS[codec]}


@pytest.mark.parametrize("codec", CODECS)
def test_the_worker_decodes_what_librdkafka_compressed(codec: str, worker: Settings):
    """The same without the collector: a producer with the codec, as another exporter might write."""
    service = f"librdkafka-{codec}"
    producer = Producer({**client_config(worker), "compression.type": codec})
    producer.produce(worker.topic_otlp_metrics, value=_counters_payload(service, ROUTES))
    assert producer.flush(10) == 0
    values = _points_of(worker, service, ROUTES)
    assert sorted(values.values()) == [route + 1.0 for route in range(ROUTES)]
    assert asyncio.run(_batch_codecs(worker, service.encode())) == {CODECS[codec]}


def _counters_payload(service: str, routes: int) -> bytes:
    """``_post_counters``'s counter as an OTLP protobuf ``MetricsData``, the collector's encoding."""
    now = time.time_ns()
    points = [
        pb.NumberDataPoint(
            attributes=[
                KeyValue(key="http.route", value=AnyValue(string_value=f"/orders/{route}"))
            ],
            start_time_unix_nano=now - 1_000_000_000,
            time_unix_nano=now,
            as_int=route + 1,
        )
        for route in range(routes)
    ]
    metric = pb.Metric(
        name="orders",
        sum=pb.Sum(
            data_points=points,
            is_monotonic=True,
            aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
        ),
    )
    resource = Resource(
        attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))]
    )
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=[metric])])
        ]
    ).SerializeToString()


def _post_counters(settings: Settings, service: str, routes: int) -> None:
    """One counter of ``service`` with ``routes`` points (route i counted i + 1 times).

    Enough alike points that every codec shrinks the batch: the exporter's
    client (franz-go) sends a batch uncompressed when compression would not
    make it smaller.
    """
    now = time.time_ns()
    points = [
        {
            "asInt": str(route + 1),
            "startTimeUnixNano": str(now - 1_000_000_000),
            "timeUnixNano": str(now),
            "attributes": [{"key": "http.route", "value": {"stringValue": f"/orders/{route}"}}],
        }
        for route in range(routes)
    ]
    metric = {
        "name": "orders",
        "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": points},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    body = {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [metric]}]}]}
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.collector_otlp_http_port}/v1/metrics",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _points_of(settings: Settings, service: str, count: int) -> dict[str, float]:
    """Value by series of the first ``count`` decoded points of ``service`` (60 s of silence fails)."""
    values = {}
    for record in follow(settings, settings.topic_points, from_beginning=True, idle_timeout_s=60):
        for point in points_of(record.value):
            if f'service.name="{service}"' in point["series"]:
                values[point["series"]] = point["value"]
        if len(values) >= count:
            return values
    raise AssertionError(f"{len(values)} of {count} points of {service} on {settings.topic_points}")


async def _batch_codecs(settings: Settings, marker: bytes) -> set[int]:
    """The compression codecs of the OTLP topic's record batches that hold ``marker``, read raw."""
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
        codecs = set()
        for partition in cluster.partitions_for_topic(settings.topic_otlp_metrics):
            leader = cluster.leader_for_partition(
                TopicPartition(settings.topic_otlp_metrics, partition)
            )
            request = FetchRequest(
                max_wait_time=100,
                min_bytes=1,
                max_bytes=8 << 20,
                isolation_level=0,
                topics=[(settings.topic_otlp_metrics, [(partition, 0, 8 << 20)])],
            )
            response = await client.send(leader, request)
            for _topic, partitions in response.topics:
                for _partition, _error, _highwater, *data in partitions:
                    records = MemoryRecords(data[-1])
                    while (batch := records.next_batch()) is not None:
                        if any(marker in (record.value or b"") for record in batch):
                            codecs.add(batch.compression_type)
        return codecs
    finally:
        await client.close()
