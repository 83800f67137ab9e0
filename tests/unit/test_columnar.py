"""The columnar data plane (decode, series ids, deltas) against the per-point reference on random inputs."""

import json
import math
import os
import random
import subprocess
import sys

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from aiops.bench.synthetic import synthetic_exports
from aiops.decode import MalformedPayload, decode_metrics, decode_payload, flatten
from aiops.decode.columnar import KINDS, SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.otlp import ExponentialBuckets, Observation, PointProblem
from aiops.decode.points_v2 import decode as decode_v2
from aiops.decode.points_v2 import encode as encode_v2
from aiops.decode.points_v2 import expand_v1, to_record
from aiops.decode.series_id import series_id

CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
SECOND = 1_000_000_000
BOUNDS = [(0.1, 0.5), (0.1, 0.5, 1.0)]


def _kv(key, value):
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def random_payload(rng: random.Random, step: int) -> bytes:
    """A payload of a few streams whose points jump around: resets, replays, missing starts, bad points."""

    def start():
        return rng.choice([0, 1000 * SECOND, 1000 * SECOND, 1000 * SECOND, (1000 + step) * SECOND])

    def t():
        return (2000 + step + rng.choice([0, 0, 0, -1, -2, 1])) * SECOND

    def number_points(kind):
        points = []
        for route in rng.sample(["/a", "/b", "/c"], rng.randint(0, 3)):
            point = pb.NumberDataPoint(
                attributes=[_kv("route", route), _kv("code", 200)],
                start_time_unix_nano=start(),
                time_unix_nano=t(),
            )
            roll = rng.random()
            if roll < 0.03:
                point.time_unix_nano = 0
            if roll > 0.97:
                point.as_double = math.nan
            elif roll > 0.95:
                pass  # no value
            elif rng.random() < 0.5:
                point.as_int = step * 3 + rng.randint(0, 10)  # jitter > step: resets
            else:
                point.as_double = step * 2.5 + rng.uniform(0, 8)
            points.append(point)
        return points

    def histogram_points():
        points = []
        for route in rng.sample(["/a", "/b"], rng.randint(0, 2)):
            bounds = rng.choice(BOUNDS) if rng.random() < 0.1 else BOUNDS[0]
            counts = [step + rng.randint(-2, 3) for _ in range(len(bounds) + 1)]
            counts = [max(c, 0) for c in counts]
            total = sum(counts)
            if rng.random() < 0.03:
                total += 1  # counts do not add up: a problem
            points.append(
                pb.HistogramDataPoint(
                    attributes=[_kv("route", route)],
                    start_time_unix_nano=start(),
                    time_unix_nano=t(),
                    count=total,
                    sum=step * 0.7 + rng.uniform(-1, 1),
                    bucket_counts=counts,
                    explicit_bounds=bounds,
                )
            )
        return points

    def exponential_points():
        points = []
        for route in rng.sample(["/a", "/b"], rng.randint(0, 2)):
            scale = rng.choice([3, 3, 3, 2, 1])  # lower now and then, as an SDK's
            offset = (8 << scale >> 3) + rng.randint(-1, 0)
            positive = [max(0, step + rng.randint(-2, 3)) for _ in range(rng.randint(1, 5))]
            negative = [max(0, step // 2 + rng.randint(-1, 1)) for _ in range(rng.randint(0, 2))]
            zero = max(0, step // 3 + rng.randint(-1, 1))
            total = sum(positive) + sum(negative) + zero
            if rng.random() < 0.03:
                total -= 1  # more in buckets than the count: a problem
            point = pb.ExponentialHistogramDataPoint(
                attributes=[_kv("route", route)],
                start_time_unix_nano=start(),
                time_unix_nano=t(),
                count=total,
                sum=step * 0.7 + rng.uniform(-1, 1),
                scale=scale,
                zero_count=zero,
                zero_threshold=rng.choice([0.0] * 9 + [1e-3]),
                positive=pb.ExponentialHistogramDataPoint.Buckets(
                    offset=offset, bucket_counts=positive
                ),
                negative=pb.ExponentialHistogramDataPoint.Buckets(
                    offset=rng.randint(-2, 0), bucket_counts=negative
                ),
            )
            if rng.random() < 0.5:
                point.min, point.max = -1.0, 9.0
            points.append(point)
        return points

    metrics = [
        pb.Metric(name="cpu", unit="1", gauge=pb.Gauge(data_points=number_points("gauge"))),
        pb.Metric(
            name="latency.exp",
            unit="s",
            exponential_histogram=pb.ExponentialHistogram(
                data_points=exponential_points(), aggregation_temporality=CUMULATIVE
            ),
        ),
        pb.Metric(
            name="latency.exp.delta",
            unit="s",
            exponential_histogram=pb.ExponentialHistogram(
                data_points=exponential_points(), aggregation_temporality=DELTA
            ),
        ),
        pb.Metric(
            name="requests",
            unit="1",
            sum=pb.Sum(
                data_points=number_points("sum"),
                aggregation_temporality=CUMULATIVE,
                is_monotonic=True,
            ),
        ),
        pb.Metric(
            name="active",
            unit="1",
            sum=pb.Sum(
                data_points=number_points("sum"),
                aggregation_temporality=CUMULATIVE,
                is_monotonic=False,
            ),
        ),
        pb.Metric(
            name="sent",
            unit="By",
            sum=pb.Sum(
                data_points=number_points("sum"), aggregation_temporality=DELTA, is_monotonic=True
            ),
        ),
        pb.Metric(
            name="latency",
            unit="s",
            histogram=pb.Histogram(
                data_points=histogram_points(), aggregation_temporality=CUMULATIVE
            ),
        ),
        pb.Metric(
            name="latency.delta",
            unit="s",
            histogram=pb.Histogram(data_points=histogram_points(), aggregation_temporality=DELTA),
        ),
    ]
    if rng.random() < 0.1:
        metrics.append(
            pb.Metric(
                name="q", summary=pb.Summary(data_points=[pb.SummaryDataPoint(time_unix_nano=1)])
            )
        )
    rng.shuffle(metrics)
    resources = []
    for service in rng.sample(["a", "b"], rng.randint(1, 2)):
        scopes = [
            pb.ScopeMetrics(scope=InstrumentationScope(name=scope), metrics=metrics)
            for scope in rng.sample(["s1", "s2"], rng.randint(1, 2))
        ]
        resources.append(
            pb.ResourceMetrics(
                resource=Resource(attributes=[_kv("service.name", service)]), scope_metrics=scopes
            )
        )
    return pb.MetricsData(resource_metrics=resources).SerializeToString()


def test_columns_hold_the_same_points_and_problems_as_flatten():
    rng = random.Random(7)
    for step in range(200):
        payload = random_payload(rng, step)
        reference = list(flatten(decode_metrics(payload)))
        decoded = decode_columns(payload, SeriesInterner())
        observations = [item for item in reference if isinstance(item, Observation)]
        problems = [item for item in reference if isinstance(item, PointProblem)]
        assert [(p.metric, p.reason) for p in decoded.problems] == [
            (p.metric, p.reason) for p in problems
        ]
        rows = []
        for batch in decoded.batches:
            for i in range(len(batch)):
                labels = batch.labels[int(batch.series_id[i])]
                kind = KINDS[batch.kind[i]]
                rows.append(
                    (
                        labels.metric,
                        kind,
                        labels.unit,
                        batch.resource,
                        labels.attributes,
                        batch.scopes[batch.scope_index[i]],
                        int(batch.start_time_unix_nano[i]),
                        int(batch.time_unix_nano[i]),
                        bool(batch.cumulative[i]),
                        bool(batch.monotonic[i]),
                        float(batch.value[i]),
                        int(batch.count[i]),
                        float(batch.sum[i]),
                        batch.bounds[batch.bounds_index[i]] if kind == "histogram" else (),
                        *_buckets_of(batch, i, kind),
                    )
                )
        assert rows == [
            (
                o.metric,
                o.kind,
                o.unit,
                o.resource,
                o.attributes,
                o.scope,
                o.start_time_unix_nano,
                o.time_unix_nano,
                o.cumulative,
                o.monotonic,
                o.value,
                o.count,
                o.sum,
                o.bounds,
                o.bucket_counts,
                o.exponential,
            )
            for o in observations
        ]


def _buckets_of(batch, i: int, kind: str) -> tuple:
    """A row's explicit bucket counts and its ``ExponentialBuckets`` (min, max None for NaN), as ``Observation`` holds them."""
    o, e = batch.bucket_offsets[i], batch.bucket_offsets[i + 1]
    counts = tuple(batch.bucket_counts[o:e].tolist())
    if kind != "exponential_histogram":
        return counts, None
    x = batch.exponential
    split = int(x.positive_length[i])
    low, high = float(x.min[i]), float(x.max[i])
    return (), ExponentialBuckets(
        int(x.scale[i]),
        int(x.zero_count[i]),
        float(x.zero_threshold[i]),
        int(x.positive_offset[i]),
        counts[:split],
        int(x.negative_offset[i]),
        counts[split:],
        None if math.isnan(low) else low,
        None if math.isnan(high) else high,
    )


def _columns_as_v1(point_batch):
    """The v1 point fields of each row of a ``PointBatch`` (what ``Point`` holds, minus the series text)."""
    from aiops.decode.otlp import series_key

    rows = []
    for i in range(len(point_batch)):
        labels = point_batch.labels[int(point_batch.series_id[i])]
        kind = KINDS[point_batch.kind[i]]
        rows.append(
            (
                series_key(labels.metric, labels.attributes, point_batch.resource),
                kind,
                int(point_batch.interval_start_unix_nano[i]),
                int(point_batch.time_unix_nano[i]),
                bool(point_batch.monotonic[i]),
                bool(point_batch.reset[i]),
                float(point_batch.value[i]),
                int(point_batch.count[i]),
                float(point_batch.sum[i]),
                point_batch.bounds[point_batch.bounds_index[i]] if kind == "histogram" else (),
                *_buckets_of(point_batch, i, kind),
            )
        )
    return rows


@pytest.mark.parametrize("seed", range(5))
def test_column_deltas_equal_the_per_point_deltas_on_random_inputs(seed):
    rng = random.Random(seed)
    states, state = {}, DeltaState()
    outcomes_v1, outcomes_v2 = {}, {}
    for step in range(150):
        payload = random_payload(rng, step)
        reference = decode_payload(payload, states)
        rows, expanded = [], []
        for batch in decode_columns(payload, SeriesInterner()).batches:
            points = state.apply(batch)
            rows += _columns_as_v1(points)
            expanded += expand_v1(decode_v2(encode_v2(to_record(points))))
            for key, count in points.outcomes.items():
                outcomes_v2[key] = outcomes_v2.get(key, 0) + count
        for key, count in reference.outcomes.items():
            outcomes_v1[key.value] = outcomes_v1.get(key.value, 0) + count
        assert rows == [
            (
                p.series,
                p.kind,
                p.interval_start_unix_nano,
                p.time_unix_nano,
                p.monotonic,
                p.reset,
                p.value,
                p.count,
                p.sum,
                p.bounds,
                p.bucket_counts,
                p.exponential,
            )
            for p in reference.points
        ], step
        assert expanded == [json.loads(json.dumps(p.as_record())) for p in reference.points], step
    assert outcomes_v2 == outcomes_v1
    assert {"reset", "stale", "baseline"} <= outcomes_v2.keys(), (
        "the random inputs exercise every rule"
    )
    assert len(state) == len(states)


def test_state_of_quiet_series_expires_and_is_counted():
    rounds = synthetic_exports(resources=2, series=20, exports=3)
    state = DeltaState()
    for payload in rounds[0] + rounds[1]:
        for batch in decode_columns(payload).batches:
            state.apply(batch)
    live = len(state)
    assert live == 2 * (
        5 + 6
    )  # histograms and monotonic counters keep state; gauges and up-down sums none
    newest = 1_764_000_000_000_000_000 + 20 * SECOND
    assert state.expire(newest, ttl_s=60) == 0
    for batch in decode_columns(rounds[2][0]).batches:  # only the first resource goes on
        state.apply(batch)
    assert state.expire(newest + 10 * SECOND, ttl_s=5) == live // 2
    assert (len(state), state.expired) == (live // 2, live // 2)
    again = DeltaState.restore(state.snapshot())
    assert (len(again), again.expired) == (len(state), state.expired)


def test_series_ids_are_typed_and_stable_across_processes():
    labels = (
        "http.server.request.duration",
        "histogram",
        {"code": 200, "route": "/a"},
        {"service.name": "x"},
    )
    assert series_id(*labels) != series_id(
        labels[0], labels[1], {"code": "200", "route": "/a"}, labels[3]
    )
    assert series_id(*labels) != series_id(labels[0], "sum", *labels[2:])
    assert series_id("m", "gauge", {"a": "1"}, {}) != series_id("m", "gauge", {}, {"a": "1"})
    assert series_id("m", "gauge", {"a": 1.0}, {}) != series_id("m", "gauge", {"a": 1}, {})
    assert series_id("m", "gauge", {"a": True}, {}) != series_id("m", "gauge", {"a": 1}, {})
    code = (
        "from aiops.decode.series_id import series_id; "
        "print(series_id('http.server.request.duration', 'histogram', {'route': '/a', 'code': 200}, "
        "{'service.name': 'x'}))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outs == {str(series_id(*labels))}


def test_columnar_ids_match_series_id_of_the_labels():
    ((payload,),) = synthetic_exports(resources=1, series=12, exports=1)
    (batch,) = decode_columns(payload, SeriesInterner()).batches
    for sid, labels in batch.labels.items():
        assert sid == series_id(labels.metric, labels.kind, labels.attributes, batch.resource)


def test_interner_is_bounded_and_ids_survive_a_clear():
    interner = SeriesInterner(capacity=10)
    rounds = synthetic_exports(resources=3, series=8, exports=2)
    first = [decode_columns(p, interner).batches[0].series_id.tolist() for p in rounds[0]]
    second = [decode_columns(p, interner).batches[0].series_id.tolist() for p in rounds[1]]
    assert first == second and interner.clears >= 1 and len(interner) <= 10 + 8


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"hello world", b"\x0a\x05abc"])
def test_garbage_bytes_are_a_malformed_payload(garbage):
    with pytest.raises(MalformedPayload, match="not an OTLP metrics payload"):
        decode_columns(garbage)


def test_columnar_modules_import_no_kafka_or_faust():
    code = (
        "import sys, aiops.decode.columnar, aiops.decode.delta_columns, aiops.decode.series_id, aiops.decode.payload_v2, "
        "aiops.decode.points_v2, aiops.bench.decode, aiops.bench.synthetic; "
        "print([m for m in ('faust', 'confluent_kafka', 'fastapi', 'aiokafka') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_decode_payload_v2_sends_what_decode_payload_sends_on_the_same_partitions():
    from aiops.decode.otlp import resource_partition
    from aiops.decode.payload_v2 import decode_payload_v2

    rng = random.Random(11)
    states, by_resource = {}, {}
    for step in range(60):
        payload = random_payload(rng, step)
        reference = decode_payload(payload, states)
        out = decode_payload_v2(
            payload,
            lambda key: by_resource.setdefault(key, DeltaState()),
            SeriesInterner(),
            partitions=12,
        )
        expanded = [
            (record.partition, point)
            for record in out.records
            for point in expand_v1(record.record)
        ]
        assert [point for _, point in expanded] == [
            json.loads(json.dumps(p.as_record())) for p in reference.points
        ]
        assert [partition for partition, _ in expanded] == [
            resource_partition(p.resource, 12) for p in reference.points
        ]
        assert out.points == len(reference.points)
        assert {k.value: v for k, v in reference.outcomes.items()} == dict(out.outcomes)
        assert [p.reason for p in out.problems] == [p.reason for p in reference.problems]


def test_state_is_capped_and_skips_are_counted_until_expiry_makes_room():
    rounds = synthetic_exports(resources=2, series=20, exports=2)
    state = DeltaState(max_streams=15)
    first = [state.apply(b) for p in rounds[0] for b in decode_columns(p).batches]
    assert len(state) == 15 and state.capped == 2 * 11 - 15
    assert sum(b.outcomes["capped"] for b in first) == state.capped
    assert sum(len(b) for b in first) == 2 * 20 - state.capped, "capped points are not sent"
    newest = 1_764_000_000_000_000_000 + 10 * SECOND
    assert state.expire(newest + 60 * SECOND, ttl_s=30) == 15
    [state.apply(b) for b in decode_columns(rounds[1][0]).batches]
    assert len(state) == 11


def test_interner_forgets_series_unseen_for_a_generation_and_keeps_the_others():
    interner = SeriesInterner()
    rounds = synthetic_exports(resources=2, series=10, exports=3)
    ids = [decode_columns(p, interner).batches[0].series_id.tolist() for p in rounds[0]]
    assert len(interner) == 20 and interner.rotate() == 0
    again = decode_columns(rounds[1][0], interner).batches[
        0
    ]  # only the first resource is seen again
    assert again.series_id.tolist() == ids[0] and set(again.labels) == set(ids[0])
    assert interner.rotate() == 10 and interner.forgotten == 10 and len(interner) == 10
    assert decode_columns(rounds[2][1], interner).batches[0].series_id.tolist() == ids[1], (
        "re-interned, same ids"
    )
