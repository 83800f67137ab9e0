"""Error traces from an injected fault reach Kafka's ``otlp_spans`` as Tempo would store them.

Tempo cannot run here (its module is AGPL), so the test reads the collector's
other trace exporter: the kafka one, OTLP protobuf on ``otlp_spans``. Each
request carries a W3C ``traceparent`` with a trace id of the test's own, so
only the test's requests are looked at: the ones that hit an injected error
must arrive as server spans with status ERROR and their ``http.route`` (what
TraceQL ``{status=error}`` finds), and the healthy ones as spans without an
error status.
"""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from opentelemetry.proto.trace.v1 import trace_pb2

from aiops.kafka_config import client_config
from aiops.settings import Settings

pytestmark = pytest.mark.e2e

FAULTY_ROUTE = "/api/products"
HEALTHY_ROUTE = "/api/users"


def _end_offsets(settings: Settings, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` at its current end: the test reads only what comes after."""
    consumer = Consumer(
        {**client_config(settings), "group.id": "aiops-e2e-error-traces", "log_level": 0}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [
            TopicPartition(
                topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            )
            for p in partitions
        ]
    finally:
        consumer.close()


def _request(client: httpx.Client, route: str) -> tuple[str, int]:
    """One GET with a new trace id of the test's own; returns the trace id (hex) and the status code."""
    trace_id = secrets.token_hex(16)
    response = client.get(
        route, headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    )
    return trace_id, response.status_code


def _server_spans(
    settings: Settings, start: list[TopicPartition], trace_ids: set[str], timeout_s: float = 60.0
) -> dict[str, tuple[trace_pb2.Span, dict[str, str]]]:
    """trace id → (server span, its resource attributes) for each of ``trace_ids`` found on the spans topic."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": "aiops-e2e-error-traces",
            "log_level": 0,
            "enable.auto.commit": False,
        }
    )
    consumer.assign(start)
    found: dict[str, tuple[trace_pb2.Span, dict[str, str]]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < len(trace_ids) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            traces = trace_pb2.TracesData.FromString(message.value())
            for resource_spans in traces.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        trace_id = span.trace_id.hex()
                        if trace_id in trace_ids and span.kind == trace_pb2.Span.SPAN_KIND_SERVER:
                            found[trace_id] = (span, resource)
    finally:
        consumer.close()
    return found


def _attributes(span: trace_pb2.Span) -> dict[str, object]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_an_injected_fault_produces_error_spans_with_the_route_on_the_spans_topic(local_stack):
    settings = local_stack
    start = _end_offsets(settings, settings.topic_otlp_spans)
    httpx.post(
        f"{settings.demo_url}/faults",
        json={"route": FAULTY_ROUTE, "error_rate": 1.0, "duration_s": 60},
        timeout=10,
    ).raise_for_status()
    try:
        with httpx.Client(base_url=settings.demo_url, timeout=10) as client:
            faulty = dict(_request(client, FAULTY_ROUTE) for _ in range(10))
            healthy = dict(_request(client, HEALTHY_ROUTE) for _ in range(5))
    finally:
        httpx.delete(
            f"{settings.demo_url}/faults", params={"route": FAULTY_ROUTE}, timeout=10
        ).raise_for_status()
    assert set(faulty.values()) == {500} and set(healthy.values()) == {200}

    spans = _server_spans(settings, start, set(faulty) | set(healthy))

    missing = sorted((set(faulty) | set(healthy)) - set(spans))
    assert not missing, (
        f"{len(missing)} of the test's traces never reached {settings.topic_otlp_spans}"
    )
    for trace_id in faulty:
        span, resource = spans[trace_id]
        attributes = _attributes(span)
        assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR, span
        assert attributes["http.route"] == FAULTY_ROUTE
        assert attributes["demo.fault.injected"] is True
        assert attributes["http.response.status_code"] == 500
        assert resource["service.name"] == "demo-service"
    for trace_id in healthy:
        span, _ = spans[trace_id]
        assert span.status.code != trace_pb2.Status.STATUS_CODE_ERROR, span
        assert _attributes(span)["http.route"] == HEALTHY_ROUTE
