"""The decode core on payloads built with the OpenTelemetry proto classes."""

import subprocess
import sys

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from aiops.core import MalformedPayload, Outcome, decode_payload

CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
START = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def attrs(**values):
    return [
        KeyValue(key=k.replace("_", "."), value=AnyValue(string_value=str(v)))
        for k, v in values.items()
    ]


def payload(*metrics, service="demo"):
    data = pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(
                resource=Resource(attributes=attrs(service_name=service)),
                scope_metrics=[
                    pb.ScopeMetrics(scope=InstrumentationScope(name="test"), metrics=list(metrics))
                ],
            )
        ]
    )
    return data.SerializeToString()


def counter(value, t, start=START, route="/a", temporality=CUMULATIVE, monotonic=True):
    point = pb.NumberDataPoint(
        attributes=attrs(http_route=route),
        start_time_unix_nano=start,
        time_unix_nano=t,
        as_int=value,
    )
    return pb.Metric(
        name="requests",
        unit="1",
        sum=pb.Sum(
            data_points=[point], aggregation_temporality=temporality, is_monotonic=monotonic
        ),
    )


def histogram(counts, t, start=START, bounds=(0.1, 0.5), total=1.0):
    point = pb.HistogramDataPoint(
        attributes=attrs(http_route="/a"),
        start_time_unix_nano=start,
        time_unix_nano=t,
        count=sum(counts),
        sum=total,
        bucket_counts=list(counts),
        explicit_bounds=list(bounds),
    )
    return pb.Metric(
        name="http.server.request.duration",
        unit="s",
        histogram=pb.Histogram(data_points=[point], aggregation_temporality=CUMULATIVE),
    )


def test_cumulative_sum_becomes_deltas_per_stream():
    states = {}
    first = decode_payload(
        payload(counter(5, START + SECOND), counter(2, START + SECOND, route="/b")), states
    )
    second = decode_payload(
        payload(counter(9, START + 2 * SECOND), counter(2, START + 2 * SECOND, route="/b")), states
    )
    assert [p.value for p in first.points] == [5, 2]
    assert [p.value for p in second.points] == [4, 0]
    assert second.points[0].interval_start_unix_nano == START + SECOND
    assert second.points[0].series == 'requests{http.route="/a"}@{service.name="demo"}'


def test_counter_reset_by_lower_value_and_by_new_start_time():
    states = {}
    decode_payload(payload(counter(10, START + SECOND)), states)
    lower = decode_payload(payload(counter(3, START + 2 * SECOND)), states)
    restarted = decode_payload(
        payload(counter(7, START + 4 * SECOND, start=START + 3 * SECOND)), states
    )
    assert (lower.points[0].value, lower.points[0].reset) == (3, True)
    assert (restarted.points[0].value, restarted.points[0].reset) == (7, True)
    assert restarted.points[0].interval_start_unix_nano == START + 3 * SECOND
    assert lower.outcomes[Outcome.RESET] == 1


def test_replayed_point_is_dropped_as_stale():
    states = {}
    decode_payload(payload(counter(5, START + 2 * SECOND)), states)
    replay = decode_payload(payload(counter(4, START + SECOND)), states)
    assert replay.points == [] and replay.outcomes[Outcome.STALE] == 1
    assert decode_payload(payload(counter(6, START + 3 * SECOND)), states).points[0].value == 1


def test_unknown_start_time_gives_a_baseline_first():
    states = {}
    first = decode_payload(payload(counter(50, START + SECOND, start=0)), states)
    second = decode_payload(payload(counter(53, START + 2 * SECOND, start=0)), states)
    assert first.points == [] and first.outcomes[Outcome.BASELINE] == 1
    assert second.points[0].value == 3


def test_delta_sums_gauges_and_updown_sums_pass_through():
    gauge = pb.Metric(
        name="cpu",
        unit="1",
        gauge=pb.Gauge(data_points=[pb.NumberDataPoint(time_unix_nano=START, as_double=0.25)]),
    )
    result = decode_payload(
        payload(gauge, counter(4, START, temporality=DELTA), counter(-3, START, monotonic=False)),
        {},
    )
    assert [(p.kind, p.value) for p in result.points] == [("gauge", 0.25), ("sum", 4), ("sum", -3)]


def test_histogram_keeps_bounds_and_per_bucket_deltas():
    states = {}
    decode_payload(payload(histogram([1, 2, 0], START + SECOND, total=0.7)), states)
    result = decode_payload(payload(histogram([3, 2, 1], START + 2 * SECOND, total=2.2)), states)
    (point,) = result.points
    assert point.bounds == (0.1, 0.5)
    assert point.bucket_counts == (2, 0, 1)
    assert (point.count, point.sum) == (3, pytest.approx(1.5))


def test_histogram_reset_when_a_bucket_goes_down():
    states = {}
    decode_payload(payload(histogram([5, 5, 0], START + SECOND)), states)
    (point,) = decode_payload(payload(histogram([1, 6, 0], START + 2 * SECOND)), states).points
    assert point.reset and point.bucket_counts == (1, 6, 0)


@pytest.mark.parametrize(
    "metric, reason",
    [
        (
            pb.Metric(
                name="x", gauge=pb.Gauge(data_points=[pb.NumberDataPoint(time_unix_nano=START)])
            ),
            "no value",
        ),
        (
            pb.Metric(name="x", gauge=pb.Gauge(data_points=[pb.NumberDataPoint(as_int=1)])),
            "no time_unix_nano",
        ),
        (
            pb.Metric(
                name="x",
                sum=pb.Sum(data_points=[pb.NumberDataPoint(time_unix_nano=START, as_int=1)]),
            ),
            "no aggregation temporality",
        ),
        (pb.Metric(name="x"), "has no data"),
        (pb.Metric(name="", gauge=pb.Gauge()), "has no name"),
        (
            pb.Metric(
                name="x",
                histogram=pb.Histogram(
                    aggregation_temporality=CUMULATIVE,
                    data_points=[
                        pb.HistogramDataPoint(
                            time_unix_nano=START, count=1, bucket_counts=[1], explicit_bounds=[1.0]
                        )
                    ],
                ),
            ),
            "bucket counts",
        ),
        (
            pb.Metric(
                name="x",
                summary=pb.Summary(data_points=[pb.SummaryDataPoint(time_unix_nano=START)]),
            ),
            "not supported",
        ),
    ],
)
def test_unreadable_points_are_reported_with_a_reason(metric, reason):
    result = decode_payload(payload(metric, counter(1, START + SECOND)), {})
    assert len(result.points) == 1, "the good point still comes through"
    (problem,) = result.problems
    assert reason in problem.reason


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"hello world", b"\x0a\x05abc"])
def test_garbage_bytes_are_a_malformed_payload(garbage):
    with pytest.raises(MalformedPayload, match="not an OTLP metrics payload"):
        decode_payload(garbage, {})


def test_core_imports_no_kafka_faust_or_fastapi():
    code = "import sys, aiops.core, aiops.core.detect; print([m for m in ('faust', 'confluent_kafka', 'fastapi', 'aiokafka') if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
