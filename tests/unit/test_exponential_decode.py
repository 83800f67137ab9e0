"""Exponential histograms through the columnar decode (issue 14, item 1): deltas, resets, scale changes, records."""

import math

import numpy as np
import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from aiops.decode.columnar import ExponentialColumns, SeriesInterner
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import BadPointsRecord, check_points
from aiops.decode.points_v2 import decode, encode, expand_v1
from aiops.schemas import PointsV2, PointV1
from aiops.slo.exponential_histogram import ExponentialHistogram, at_common_scale, downscale
from support.exponential_gen import SdkExponentialExports
from support.otlp_gen import NOW, SECOND, kv

CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def _points(payloads, state=None):
    """Every v1 point the decode publishes for ``payloads``, checked at the door and against both models."""
    state = state or DeltaState()
    out = []
    for payload in payloads:
        result = decode_payload_v2(payload, lambda key: state, SeriesInterner())
        assert result.problems == []
        for record in result.records:
            PointsV2.model_validate(decode(record.value))
            checked = check_points(record.value)
            assert checked.problems == []
            points = checked.points()
            assert points == expand_v1(decode(record.value))
            for point in points:
                PointV1.model_validate(point)
            out += points
    return out


def _histogram(point) -> ExponentialHistogram:
    e = point["exponential"]
    return ExponentialHistogram(
        scale=e["scale"],
        count=point["count"],
        sum=point["sum"],
        zero_count=e["zero_count"],
        zero_threshold=e["zero_threshold"],
        positive_offset=e["positive"]["offset"],
        positive=e["positive"]["bucket_counts"],
        negative_offset=e["negative"]["offset"],
        negative=e["negative"]["bucket_counts"],
    )


def _total(histograms) -> ExponentialHistogram:
    """The sum of histograms, at their coarsest scale, buckets over the union of their ranges."""
    merged = at_common_scale(*histograms)
    low = min(h.positive_offset for h in merged if h.positive)
    high = max(h.positive_offset + len(h.positive) for h in merged if h.positive)
    counts = [0.0] * (high - low)
    for h in merged:
        for k, c in enumerate(h.positive):
            counts[h.positive_offset - low + k] += c
    return ExponentialHistogram(
        scale=merged[0].scale,
        count=sum(h.count for h in merged),
        sum=sum(h.sum for h in merged),
        zero_count=sum(h.zero_count for h in merged),
        positive_offset=low,
        positive=counts,
    )


def _trimmed(h: ExponentialHistogram) -> tuple:
    counts = list(h.positive)
    offset = h.positive_offset
    while counts and counts[0] == 0:
        counts.pop(0)
        offset += 1
    while counts and counts[-1] == 0:
        counts.pop()
    return h.scale, offset, counts, h.count, h.zero_count


@pytest.mark.parametrize("seed", range(3))
def test_cumulative_sdk_points_become_deltas_that_add_up_to_the_last_point_at_its_scale(seed):
    sdk = SdkExponentialExports(seed=seed)
    payloads = [sdk.export(40, spread=0.3 + step) for step in range(5)]  # the SDK lowers its scale
    points = _points(payloads)
    assert {p["kind"] for p in points} == {"exponential_histogram"}
    for route, values in sdk.observed.items():
        mine = [p for p in points if p["attributes"]["http.route"] == route]
        assert len(mine) == 5 and not any(p["reset"] for p in mine)
        assert [p["count"] for p in mine] == [40] * 5
        scales = [p["exponential"]["scale"] for p in mine]
        assert scales == sorted(scales, reverse=True) and scales[0] > scales[-1]
        assert [p["exponential"]["min"] for p in mine[1:]] == [None] * 4  # an interval's: unknown
        assert mine[0]["exponential"]["min"] == min(values[:40])
        total = _total([_histogram(p) for p in mine])
        assert total.count == len(values) and math.isclose(total.sum, sum(values))
        last = decode_payload_v2(payloads[-1], lambda key: DeltaState(), SeriesInterner())
        (whole,) = [
            p
            for r in last.records
            for p in expand_v1(r.record)
            if p["attributes"]["http.route"] == route
        ]
        assert _trimmed(total) == _trimmed(downscale(_histogram(whole), total.scale))
        for p in mine:  # every delta's buckets hold observations of its own interval
            h = _histogram(p)
            assert sum(h.positive) + h.zero_count == h.count and min(h.positive) >= 0


def test_delta_sdk_points_pass_through_with_their_min_and_max():
    sdk = SdkExponentialExports(seed=5, delta=True)
    points = _points([sdk.export(30) for _ in range(3)])
    assert len(points) == 6 and all(p["count"] == 30 for p in points)
    for route, values in sdk.observed.items():
        mine = [p for p in points if p["attributes"]["http.route"] == route]
        assert [p["exponential"]["min"] for p in mine] == [
            min(values[i : i + 30]) for i in (0, 30, 60)
        ]
        assert [p["exponential"]["max"] for p in mine] == [
            max(values[i : i + 30]) for i in (0, 30, 60)
        ]


def _payload(*points, temporality=CUMULATIVE) -> bytes:
    metric = pb.Metric(
        name="latency",
        unit="s",
        exponential_histogram=pb.ExponentialHistogram(
            aggregation_temporality=temporality, data_points=list(points)
        ),
    )
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(
                resource={"attributes": [kv("service.name", "x")]},
                scope_metrics=[pb.ScopeMetrics(metrics=[metric])],
            )
        ]
    ).SerializeToString()


def _point(t, count, positive, offset=0, scale=0, zero=0, start=NOW, negative=(), **fields):
    return pb.ExponentialHistogramDataPoint(
        attributes=[kv("r", "/a")],
        start_time_unix_nano=start,
        time_unix_nano=NOW + t * SECOND,
        count=count,
        sum=float(count),
        scale=scale,
        zero_count=zero,
        positive=pb.ExponentialHistogramDataPoint.Buckets(offset=offset, bucket_counts=positive),
        negative=pb.ExponentialHistogramDataPoint.Buckets(offset=-1, bucket_counts=negative),
        **fields,
    )


def test_resets_replays_and_a_finer_scale_after_a_coarser_one():
    state = DeltaState()
    steps = [
        _point(10, 5, [2, 3], offset=4, scale=1),
        _point(20, 9, [2, 3, 4], offset=4, scale=1),  # grows: delta 4 in bucket 6
        _point(20, 9, [2, 3, 4], offset=4, scale=1),  # replayed: stale
        _point(30, 12, [5, 7], offset=2, scale=0),  # coarser: (2+3, 4+0) before, delta (0, 3)
        _point(40, 20, [1, 5, 7, 3, 4], offset=3, scale=1),  # finer than before: compared at 0
        _point(50, 2, [2], offset=3, scale=1),  # lower count: reset
        _point(60, 3, [2, 1], offset=3, scale=1, start=NOW + 55 * SECOND),  # new start: reset
        _point(70, 4, [1, 2, 1], offset=3, scale=1, start=NOW + 55 * SECOND, zero_threshold=0.5),
    ]
    published = []
    for step in steps:
        result = decode_payload_v2(_payload(step), lambda key: state)
        published.append(
            [
                (
                    p["count"],
                    p["reset"],
                    p["exponential"]["scale"],
                    p["exponential"]["positive"],
                )
                for r in result.records
                for p in expand_v1(r.record)
            ]
        )
    assert published == [
        [(5, False, 1, {"offset": 4, "bucket_counts": [2, 3]})],
        [(4, False, 1, {"offset": 4, "bucket_counts": [0, 0, 4]})],
        [],
        [(3, False, 0, {"offset": 2, "bucket_counts": [0, 3]})],
        # (1, 5, 7, 3, 4) from 3 at scale 1 is (1, 12, 7) from 1 at scale 0, minus (5, 7) from 2
        [(8, False, 0, {"offset": 1, "bucket_counts": [1, 7, 0]})],
        [(2, True, 1, {"offset": 3, "bucket_counts": [2]})],
        [(3, True, 1, {"offset": 3, "bucket_counts": [2, 1]})],
        [(4, True, 1, {"offset": 3, "bucket_counts": [1, 2, 1]})],  # another zero threshold
    ]


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        (_point(10, 5, [2, 3], scale=21), "scale 21 is outside -10..20"),
        (_point(10, 5, [2, 3], zero_threshold=math.nan), "zero threshold is nan"),
        (_point(10, 5, [2, 3], zero_threshold=-1.0), "zero threshold is -1.0"),
        (_point(10, 4, [2, 3]), "buckets add to 5, more than its count 4"),
        (_point(10, 6, [2, 3], zero=2), "buckets add to 7, more than its count 6"),
    ],
)
def test_an_unreadable_point_is_a_problem_and_its_neighbour_is_kept(point, reason):
    good = _point(10, 5, [2, 3])
    good.attributes[0].value.string_value = "/b"
    result = decode_payload_v2(_payload(point, good), lambda key: DeltaState())
    (problem,) = result.problems
    assert reason in problem.reason and problem.attributes == {"r": "/a"}
    assert [p["attributes"] for r in result.records for p in expand_v1(r.record)] == [{"r": "/b"}]


def test_decode_state_of_exponential_streams_survives_a_snapshot():
    state = DeltaState()
    decode_payload_v2(_payload(_point(10, 5, [2, 3], offset=4, scale=1)), lambda key: state)
    restored = DeltaState.restore(encode(state.snapshot()) and decode(encode(state.snapshot())))
    later = _payload(_point(20, 9, [2, 3, 4], offset=4, scale=1))
    (a,) = decode_payload_v2(later, lambda key: state).records
    (b,) = decode_payload_v2(later, lambda key: restored).records
    assert expand_v1(a.record) == expand_v1(b.record) and a.record["points"]["count"].tolist() == [
        4
    ]


def test_a_record_of_mixed_kinds_splits_and_checks_with_its_exponential_columns():
    from aiops.decode.points_split import encode_within

    sdk = SdkExponentialExports(seed=2, routes=tuple(f"/r{i}" for i in range(12)))
    (record,) = decode_payload_v2(sdk.export(20), lambda key: DeltaState()).records
    parts, problems = encode_within(record.record, max_bytes=len(record.value) // 3)
    assert problems == [] and len(parts) > 2
    assert [p for _, _, data in parts for p in expand_v1(decode(data))] == expand_v1(record.record)
    for _, _, data in parts:
        assert check_points(data).problems == []


def _exponential_record() -> dict:
    sdk = SdkExponentialExports(seed=3)
    (record,) = decode_payload_v2(sdk.export(10), lambda key: DeltaState()).records
    return decode(record.value)


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("zero_threshold", None, "not_numeric"),
        ("min", "low", "not_numeric"),
        ("scale", 21, "bad_exponential"),
        ("scale", -11, "bad_exponential"),
        ("zero_threshold", -0.5, "bad_exponential"),
        ("positive_length", 999, "bad_exponential"),
        ("positive_length", -1, "bad_exponential"),
        ("zero_count", 11, "bad_exponential"),  # more in buckets than the count
        ("bounds_index", 0, "bad_exponential"),
    ],
)
def test_check_points_leaves_out_an_exponential_point_that_does_not_fit(column, value, code):
    record = _exponential_record()
    good = expand_v1(record)
    record["points"][column][0] = value
    checked = check_points(encode(record))
    assert [(p.index, p.code) for p in checked.problems] == [(0, code)]
    assert len(checked) == 1 and checked.points() == good[1:]


def test_check_points_refuses_a_record_with_part_of_the_exponential_columns():
    record = _exponential_record()
    del record["points"]["zero_count"]
    with pytest.raises(BadPointsRecord, match="no column zero_count"):
        check_points(encode(record))


def test_a_reader_that_predates_the_columns_leaves_exponential_points_out_by_kind():
    """What a reader from before this change sees: an unknown kind, not a broken record."""
    record = _exponential_record()
    record["series"]["kind"] = ["histogram_v9"] * len(record["series"]["kind"])
    checked = check_points(encode(record))
    assert {p.code for p in checked.problems} == {"unknown_series"} and len(checked) == 0


def test_columns_of_rows_fill_other_rows_with_zeros():
    columns = ExponentialColumns.of_rows(3, [0, 2], [(1, 2, 0.0, 3, 4, 5, 0.5, 9.0)] * 2)
    assert columns.positive_length.tolist() == [4, 0, 4]
    assert columns.select(np.array([False, True, True])).min.tolist() == [0.0, 0.5]
