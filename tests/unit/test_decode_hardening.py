"""State that cannot be poisoned (issue 13, item 5): bad points are refused one by one and change nothing.

Every property runs over many seeded inputs: the good points of a payload
stream decode exactly as they would without the bad points beside them, and
each bad point is refused with its reason code.
"""

import math
import random
from collections import Counter

import numpy as np
import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from aiops.decode.admission import Limits
from aiops.decode.columnar import SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import check_points
from aiops.decode.points_v2 import FLAG_MONOTONIC, decode
from aiops.decode.rejections import REASONS, bounded_payload, summary
from aiops.decode.series_id import canonical_attributes, series_id
from aiops.settings import Settings
from support.otlp_gen import NOW, SECOND, PayloadGenerator, kv

LIMITS = Limits(NOW, max_future_s=300, max_past_s=0, max_record_bytes=1_000_000)


class Decoder:
    """A decode process: one delta state per resource key, one interner, the points it sent by series id."""

    def __init__(self, limits: Limits | None = LIMITS):
        self.states: dict[str, DeltaState] = {}
        self.interner = SeriesInterner()
        self.limits = limits
        self.rows: dict[int, list[tuple]] = {}
        self.problems: Counter = Counter()

    def state_of(self, key: str) -> DeltaState:
        return self.states.setdefault(key, DeltaState())

    def feed(self, payload: bytes):
        result = decode_payload_v2(payload, self.state_of, self.interner, 4, self.limits)
        for out in result.records:
            for sid, row in rows_of(out.value):
                self.rows.setdefault(sid, []).append(row)
        self.problems.update(p.code for p in result.problems)
        return result


def rows_of(value: bytes) -> list[tuple[int, tuple]]:
    """Each point of an encoded record: its series id and everything sent about it."""
    record = decode(value)
    p = record["points"]
    out = []
    for i, sid in enumerate(p["series_id"]):
        o, e = p["bucket_offsets"][i], p["bucket_offsets"][i + 1]
        row = tuple(
            p[name][i]
            for name in (
                "flags",
                "interval_start_unix_nano",
                "time_unix_nano",
                "value",
                "count",
                "sum",
                "bounds_index",
            )
        )
        out.append((sid, (*row, tuple(p["bucket_counts"][o:e]))))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_good_points_decode_the_same_beside_bad_ones_and_each_bad_one_is_refused(seed):
    generator = PayloadGenerator(seed, steps=60, fault_rate=0.3)
    everything, good_only = Decoder(), Decoder()
    expected: Counter = Counter()
    for i in range(60):
        step = generator.step(i)
        everything.feed(step.payload)
        good_only.feed(step.good)
        expected.update(step.bad)
    assert good_only.problems == Counter(), "the good points are all good"
    assert good_only.rows, "and some are sent"
    for sid, rows in good_only.rows.items():
        assert everything.rows[sid] == rows, sid
    assert everything.problems == expected
    assert {
        "not_finite",
        "out_of_range",
        "future",
        "start_after_time",
        "negative_monotonic",
        "infinite_delta",
        "unreadable",
    } <= expected.keys()
    assert set(everything.problems) <= set(REASONS)


def counter(attributes: dict, value: float, t: int, start: int = NOW - 3600 * SECOND) -> bytes:
    point = pb.NumberDataPoint(
        attributes=[kv(k, v) for k, v in attributes.items()],
        start_time_unix_nano=start,
        time_unix_nano=t,
        as_double=value,
    )
    return payload(
        pb.Metric(
            name="requests",
            unit="1",
            sum=pb.Sum(
                data_points=[point],
                is_monotonic=True,
                aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
            ),
        )
    )


def payload(*metrics) -> bytes:
    resource = Resource(attributes=[kv("service.name", "svc")])
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(
                resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=list(metrics))]
            )
        ]
    ).SerializeToString()


def values_of(decoder: Decoder) -> dict[int, list[float]]:
    return {sid: [row[3] for row in rows] for sid, rows in decoder.rows.items()}


@pytest.mark.parametrize("seed", range(20))
def test_an_int_and_a_string_attribute_are_two_series_with_their_own_state(seed):
    rng = random.Random(seed)
    code = rng.choice([200, 404, 500, 0, -1, 2**62])
    as_int, as_text = Decoder(), Decoder()
    both = Decoder()
    total_int = total_text = 0.0
    for step in range(30):
        t = NOW - (30 - step) * 10 * SECOND
        total_int += rng.randint(0, 3)
        total_text += rng.randint(0, 300)
        a, b = counter({"code": code}, total_int, t), counter({"code": str(code)}, total_text, t)
        as_int.feed(a)
        as_text.feed(b)
        for data in rng.sample([a, b], 2):
            both.feed(data)
    assert values_of(both) == values_of(as_int) | values_of(as_text)
    assert len(values_of(both)) == 2


_TRICKY = ['"', "\\", ",", "=", "{", "}", "[", "]", ":", "\n", "\u00e9", "\x00", " ", "a"]


def _value(rng: random.Random):
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 4)))
    if kind == 1:
        return rng.choice([0, 1, 200, -7])
    if kind == 2:
        return rng.choice([0.0, 1.0, 200.0, -0.5, 1e300])
    return rng.choice([True, False])


def test_the_series_text_is_typed_and_escaped_so_distinct_labels_never_share_an_id():
    rng = random.Random(3)
    texts: dict[str, tuple] = {}
    for _ in range(20_000):
        keys = [
            "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 3)))
            for _ in range(rng.randint(0, 3))
        ]
        attributes = {key: _value(rng) for key in keys}
        identity = tuple(sorted((k, type(v).__name__, v) for k, v in attributes.items()))
        text = canonical_attributes(attributes)
        assert texts.setdefault(text, identity) == identity, (text, identity)
    assert len(texts) > 5_000
    assert series_id("m", "sum", {"code": 200}, {}) != series_id("m", "sum", {"code": "200"}, {})
    assert series_id("m", "sum", {"code": 1}, {}) != series_id("m", "sum", {"code": True}, {})
    assert series_id("m", "sum", {"code": 1}, {}) != series_id("m", "sum", {"code": 1.0}, {})


def test_ordinary_string_attribute_ids_are_unchanged():
    """Pinned: the ids of series with string, int, double and bool attributes are those main wrote."""
    assert (
        series_id("http.requests", "sum", {"code": 200}, {"service.name": "demo"})
        == 9008627175300953781
    )
    assert series_id("m", "gauge", {}, {}) == 4892547467933774694


@pytest.mark.parametrize("seed", range(10))
def test_a_histogram_under_a_counters_identity_never_touches_the_counters_state(seed):
    rng = random.Random(seed)
    alone, beside = Decoder(), Decoder()
    total = 0.0
    attributes = {"http.route": "/a", "code": 200}
    for step in range(40):
        t = NOW - (40 - step) * 10 * SECOND
        total += rng.randint(0, 9)
        good = counter(attributes, total, t)
        histogram = pb.HistogramDataPoint(
            attributes=[kv(k, v) for k, v in attributes.items()],
            start_time_unix_nano=t - rng.randint(1, 5) * SECOND,  # later than the counter's
            time_unix_nano=t + rng.randint(0, 2) * SECOND,
            count=3,
            sum=rng.uniform(0, 9),
            bucket_counts=[1, 2],
            explicit_bounds=[0.5],
        )
        collision = payload(
            pb.Metric(
                name="requests",
                unit="1",
                histogram=pb.Histogram(
                    data_points=[histogram],
                    aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
                ),
            )
        )
        alone.feed(good)
        for data in rng.sample([good, collision], 2):
            beside.feed(data)
    counter_id = next(iter(alone.rows))
    assert beside.rows[counter_id] == alone.rows[counter_id]
    assert len(beside.rows) == 2 and beside.problems == Counter()


@pytest.mark.parametrize(
    "bad_time", [2**64 - 1, 2**63, 2**63 - 1, NOW + 301 * SECOND, NOW + 10**18]
)
def test_a_point_far_ahead_is_refused_and_later_points_are_not_stale(bad_time):
    fresh, poisoned = Decoder(), Decoder()
    poisoned.feed(counter({}, 1.0, NOW - 100 * SECOND))
    result = poisoned.feed(counter({}, 50.0, bad_time))
    assert [p.code for p in result.problems] in (["future"], ["out_of_range"])
    fresh.feed(counter({}, 1.0, NOW - 100 * SECOND))
    for step in range(1, 10):
        for decoder in (fresh, poisoned):
            decoder.feed(counter({}, 1.0 + step, NOW - 100 * SECOND + step * SECOND))
    assert poisoned.rows == fresh.rows
    assert [row[3] for row in next(iter(fresh.rows.values()))] == [1.0] + [1.0] * 9


def test_the_window_is_the_settings_and_the_wall_clock():
    settings = Settings(decode_max_future_s=60, decode_max_past_s=3600)
    limits = Limits(
        NOW, settings.decode_max_future_s, settings.decode_max_past_s, settings.max_record_bytes
    )
    decoder = Decoder(limits)
    for t, code in [(NOW + 61 * SECOND, "future"), (NOW - 3601 * SECOND, "too_old")]:
        (problem,) = decoder.feed(counter({}, 1.0, t, start=t - SECOND)).problems
        assert problem.code == code
    assert not decoder.feed(counter({}, 1.0, NOW + 59 * SECOND)).problems
    assert Settings().decode_max_past_s == 0, "by default a backlog of any age decodes"


@pytest.mark.parametrize("seed", range(20))
def test_monotonic_sums_never_give_a_negative_delta(seed):
    rng = random.Random(seed)
    decoder = Decoder()
    for step in range(80):
        value = rng.choice([rng.uniform(-10, 100), rng.uniform(0, 1e308), float(step), -1e308, 0.0])
        temporality = rng.choice(["cumulative", "delta"])
        point = pb.NumberDataPoint(
            start_time_unix_nano=NOW - 10**13 if rng.random() < 0.9 else NOW - 10**12 + step,
            time_unix_nano=NOW - 10**12 + step * SECOND,
            as_double=value,
        )
        decoder.feed(
            payload(
                pb.Metric(
                    name=f"c.{temporality}",
                    sum=pb.Sum(
                        data_points=[point],
                        is_monotonic=True,
                        aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                        if temporality == "cumulative"
                        else pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
                    ),
                )
            )
        )
    sent = [row for rows in decoder.rows.values() for row in rows]
    assert sent and all(row[0] & FLAG_MONOTONIC for row in sent)
    assert min(row[3] for row in sent) >= 0
    assert all(math.isfinite(row[3]) for row in sent)
    assert decoder.problems["negative_monotonic"] > 0


@pytest.mark.parametrize("seed", range(10))
def test_nan_and_inf_are_refused_per_point_and_the_good_points_go_on(seed):
    rng = random.Random(seed)
    decoder, clean = Decoder(), Decoder()
    refused = 0
    for step in range(40):
        t = NOW - (40 - step) * SECOND
        good = pb.NumberDataPoint(
            attributes=[kv("k", "good")],
            start_time_unix_nano=NOW - 10**12,
            time_unix_nano=t,
            as_double=float(step),
        )
        points = [good]
        if rng.random() < 0.5:
            bad = pb.NumberDataPoint()
            bad.CopyFrom(good)
            bad.time_unix_nano = t + 1
            bad.as_double = rng.choice([math.nan, math.inf, -math.inf])
            points.insert(rng.randrange(2), bad)
            refused += 1
        metric = pb.Metric(
            name="c",
            sum=pb.Sum(
                data_points=points,
                is_monotonic=True,
                aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
            ),
        )
        decoder.feed(payload(metric))
        clean.feed(
            payload(
                pb.Metric(
                    name="c",
                    sum=pb.Sum(
                        data_points=[good],
                        is_monotonic=True,
                        aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
                    ),
                )
            )
        )
    assert decoder.rows == clean.rows
    assert decoder.problems == Counter({"not_finite": refused})


def test_finite_sums_with_an_infinite_difference_are_refused_and_leave_the_state():
    decoder = Decoder()
    sums = [-1.7e308, 1.7e308, -1.7e308 + 1e292, 1.7e308]
    for step, total in enumerate(sums):
        point = pb.HistogramDataPoint(
            start_time_unix_nano=NOW - 10**12,
            time_unix_nano=NOW - 100 * SECOND + step,
            count=step,
            sum=total,
            bucket_counts=[0, step],
            explicit_bounds=[1.0],
        )
        decoder.feed(
            payload(
                pb.Metric(
                    name="h",
                    histogram=pb.Histogram(
                        data_points=[point],
                        aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
                    ),
                )
            )
        )
    (rows,) = decoder.rows.values()
    assert [row[5] for row in rows] == [sums[0], sums[2] - sums[0]]  # the third against the first
    assert [row[4] for row in rows] == [0, 2]
    assert decoder.problems == Counter({"infinite_delta": 2})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_label_that_is_no_finite_number_is_sent_as_text_the_points_check_accepts(bad):
    """JSON has no NaN: a double label that is one must not make the record unreadable downstream."""
    label = KeyValue(key="ratio", value=AnyValue(double_value=bad))
    point = pb.NumberDataPoint(attributes=[label], time_unix_nano=NOW, as_double=1.0)
    metric = pb.Metric(name="g", gauge=pb.Gauge(data_points=[point]))
    resource = Resource(attributes=[kv("service.name", "svc"), label])
    payload = pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=[metric])])
        ]
    ).SerializeToString()
    (out,) = decode_payload_v2(payload, lambda key: DeltaState()).records
    checked = check_points(out.value)
    assert not checked.problems and len(checked) == 1
    assert checked.record["resource"]["ratio"] == repr(bad)
    assert checked.record["series"]["attributes"] == [{"ratio": repr(bad)}]


def test_restored_state_of_the_other_kind_starts_the_stream_over():
    decoder = Decoder()
    decoder.feed(counter({}, 5.0, NOW - 20 * SECOND))
    (state,) = decoder.states.values()
    (scope,) = state._streams.values()
    (sid,) = scope
    scope[sid] = ["start", NOW - 30 * SECOND, 1, 2.0, (1.0,), [0, 1]]  # a histogram's state
    result = decoder.feed(counter({}, 7.0, NOW - 10 * SECOND))
    assert result.outcomes == Counter({"emitted": 1}) and not result.problems
    assert decoder.rows[sid][-1][3] == 7.0, "counted from its start, as a new stream"


def test_decode_state_expires_and_is_counted_and_an_expired_stream_starts_over():
    decoder = Decoder()
    for step in range(3):
        decoder.feed(counter({"k": step}, 5.0, NOW - 100 * SECOND))
    decoder.feed(counter({"k": 0}, 9.0, NOW - 10 * SECOND))
    (state,) = decoder.states.values()
    assert state.expire(NOW, ttl_s=60) == 2 and state.expired == 2 and len(state) == 1
    restored = DeltaState.restore(state.snapshot())
    assert restored.expired == 2 and len(restored) == 1
    decoder.feed(counter({"k": 1}, 11.0, NOW))
    assert decoder.rows[series_id_of(decoder, {"k": 1})][-1][3] == 11.0


def series_id_of(decoder: Decoder, attributes: dict) -> int:
    return series_id("requests", "sum", attributes, {"service.name": "svc"})


def test_a_point_too_large_to_send_is_refused_before_the_state_and_records_fit():
    limit = 100_000
    decoder = Decoder(Limits(NOW, 300, 0, limit))
    huge = pb.NumberDataPoint(
        attributes=[kv(f"k{i}", "v" * 20) for i in range(5_000)], time_unix_nano=NOW, as_double=1.0
    )
    many = [
        pb.NumberDataPoint(
            attributes=[kv("i", i), kv("pad", "x" * 100)], time_unix_nano=NOW, as_double=i
        )
        for i in range(2_000)
    ]
    result = decoder.feed(payload(pb.Metric(name="g", gauge=pb.Gauge(data_points=[huge, *many]))))
    assert [p.code for p in result.problems] == ["too_large"]
    assert len(result.records) > 2 and all(len(out.value) <= limit for out in result.records)
    assert sum(out.points for out in result.records) == 2_000 == len(decoder.rows)
    assert sorted(row[3] for rows in decoder.rows.values() for row in rows) == [
        float(i) for i in range(2_000)
    ]


def test_the_dead_letter_account_of_refused_points_is_bounded():
    decoder = Decoder()
    points = [
        pb.NumberDataPoint(
            attributes=[kv("k" * 5000, "v" * 5000), kv("i", i)],
            time_unix_nano=NOW,
            as_double=math.nan,
        )
        for i in range(3_000)
    ]
    result = decoder.feed(payload(pb.Metric(name="m" * 10_000, gauge=pb.Gauge(data_points=points))))
    text = summary(result.problems, len(result.problems))
    assert text.startswith("3000 of 3000 points refused: not_finite 3000; e.g. ")
    assert len(text) <= 2000
    prefix, note = bounded_payload(bytes(5_000_000), 1_000_000)
    assert len(prefix) * 4 / 3 <= 500_000 and "5000000 bytes" in note


def test_decode_columns_never_overflows_on_extreme_unsigned_fields():
    point = pb.HistogramDataPoint(
        start_time_unix_nano=2**64 - 1,
        time_unix_nano=2**64 - 1,
        count=2**64 - 1,
        bucket_counts=[2**64 - 1],
        sum=math.nan,
    )
    data = payload(
        pb.Metric(
            name="h",
            histogram=pb.Histogram(
                data_points=[point],
                aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
            ),
        )
    )
    decoded = decode_columns(data, SeriesInterner())
    assert decoded.points == 0 and [p.code for p in decoded.problems] == ["out_of_range"]
    assert decoded.batches[0].time_unix_nano.dtype == np.int64


def test_every_reason_code_is_a_label_value_people_can_look_up():
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from aiops.stream.metrics import StreamMetrics

    metrics = StreamMetrics(CollectorRegistry())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if "aiops_decode_point_problems_total" in line]
    for code in REASONS:
        assert code in metrics.point_problems._documentation and code in row
        metrics.point_problems.labels(reason=code).inc()


def test_a_counter_point_too_large_to_send_leaves_no_state():
    decoder = Decoder(Limits(NOW, 300, 0, 50_000))
    attributes = {f"k{i}": "v" * 20 for i in range(3_000)}
    result = decoder.feed(counter(attributes, 5.0, NOW))
    assert [p.code for p in result.problems] == ["too_large"]
    assert sum(len(state) for state in decoder.states.values()) == 0


def _any_value(rng: random.Random, depth: int = 0):
    from opentelemetry.proto.common.v1.common_pb2 import KeyValueList

    roll = rng.randrange(7 if depth < 2 else 5)
    if roll == 0:
        return AnyValue(
            string_value=rng.choice(["", "a", "a,b", '["a","b"]', "00ff", "[a,b]", "200"])
        )
    if roll == 1:
        return AnyValue(int_value=rng.choice([0, 200, -1]))
    if roll == 2:
        return AnyValue(bytes_value=rng.choice([b"", b"\x00\xff", b"a"]))
    if roll == 3:
        return AnyValue()
    if roll == 4:
        return AnyValue(double_value=rng.choice([0.0, 200.0]))
    if roll == 5:
        return AnyValue(
            array_value=ArrayValue(
                values=[_any_value(rng, depth + 1) for _ in range(rng.randint(0, 2))]
            )
        )
    keys = sorted(
        rng.sample("ab", rng.randint(0, 2))
    )  # a map: repeated keys or their order change nothing
    pairs = [KeyValue(key=key, value=_any_value(rng, depth + 1)) for key in keys]
    return AnyValue(kvlist_value=KeyValueList(values=pairs))


def test_arrays_maps_bytes_and_empty_values_are_typed_in_the_series_id():
    rng = random.Random(5)
    ids: dict[int, bytes] = {}
    for _ in range(3_000):
        value = _any_value(rng)
        point = pb.NumberDataPoint(
            attributes=[KeyValue(key="k", value=value)], time_unix_nano=NOW, as_double=1.0
        )
        decoded = decode_columns(
            payload(pb.Metric(name="g", gauge=pb.Gauge(data_points=[point]))), SeriesInterner()
        )
        (sid,) = decoded.batches[0].series_id.tolist()
        wire = value.SerializeToString(deterministic=True)
        assert ids.setdefault(sid, wire) == wire, (value, ids[sid])
    assert len(ids) > 50
    strings = [AnyValue(string_value=text) for text in ("[a,b]", '["a","b"]', "00ff", "")]
    others = [
        AnyValue(
            array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(string_value="b")])
        ),
        AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a,b")])),
        AnyValue(bytes_value=b"\x00\xff"),
        AnyValue(),
    ]
    texts = {}
    for value in strings + others:
        point = pb.NumberDataPoint(
            attributes=[KeyValue(key="k", value=value)], time_unix_nano=NOW, as_double=1.0
        )
        (batch,) = decode_columns(
            payload(pb.Metric(name="g", gauge=pb.Gauge(data_points=[point]))), SeriesInterner()
        ).batches
        texts[int(batch.series_id[0])] = batch.labels[int(batch.series_id[0])].attributes["k"]
    assert len(texts) == 8
    assert sorted(texts.values()) == sorted(
        ["[a,b]", '["a","b"]', "00ff", "", '["a","b"]', '["a,b"]', "00ff", ""]
    )


@pytest.mark.parametrize("seed", range(5))
def test_a_points_record_is_at_most_six_times_its_payload_so_small_payloads_skip_the_size_check(
    seed,
):
    from aiops.decode.points_split import slice_record
    from aiops.decode.points_v2 import encode as encode_record
    from aiops.decode.points_v2 import to_record

    def ratio(attributes: list, name: str) -> tuple[int, int]:
        point = pb.HistogramDataPoint(
            attributes=attributes,
            start_time_unix_nano=NOW - 10**12,
            time_unix_nano=NOW,
            count=2**63 - 1,
            sum=-1.2345678901234567e-300,
            bucket_counts=[2**63 - 1, 0],
            explicit_bounds=[-1.2345678901234567e-300],
        )
        data = payload(
            pb.Metric(
                name=name,
                unit="\x01",
                histogram=pb.Histogram(
                    data_points=[point],
                    aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
                ),
            )
        )
        (batch,) = decode_columns(data, SeriesInterner()).batches
        record = to_record(DeltaState().apply(batch))
        return len(encode_record(slice_record(record, 0, 1))), len(data)

    rng = random.Random(seed)
    for _ in range(200):
        attributes = [
            kv(
                rng.choice(["", "k", "\x01" * rng.randint(1, 50)]) + str(i),
                rng.choice(["", "\x01" * rng.randint(1, 200), '"\\', 0, -(2**63), 1e-300, True]),
            )
            for i in range(rng.randint(0, 20))
        ]
        size, payload_bytes = ratio(attributes, "\x01" * rng.randint(1, 30))
        assert size <= 6 * payload_bytes + 4_096
    size, payload_bytes = ratio([kv("\x01" * 100 + str(i), "\x01" * 500) for i in range(20)], "m")
    assert 5 * payload_bytes < size <= 6 * payload_bytes, (
        "escaped control characters come near the bound"
    )
