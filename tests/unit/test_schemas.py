"""Topic schemas: committed JSON Schemas match the models, and what the code writes validates."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from aiops.decode import decode_payload
from aiops.schemas import JSON_DIR, AlertV1, DeadLetterV1, PointV1, SliV2, json_schemas
from aiops.stream.deadletter import deadletter_record

START = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def test_committed_json_schemas_match_the_models():
    expected = json_schemas()
    committed = {path.name: path.read_text() for path in JSON_DIR.glob("*.schema.json")}
    assert committed == expected, "run `aiops generate` and commit the result"


def test_decoded_points_validate():
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

    histogram = pb.Metric(
        name="latency",
        unit="s",
        histogram=pb.Histogram(
            aggregation_temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
            data_points=[
                pb.HistogramDataPoint(
                    start_time_unix_nano=1,
                    time_unix_nano=2,
                    count=3,
                    sum=0.4,
                    bucket_counts=[1, 2],
                    explicit_bounds=[0.1],
                )
            ],
        ),
    )
    gauge = pb.Metric(
        name="cpu",
        gauge=pb.Gauge(data_points=[pb.NumberDataPoint(time_unix_nano=2, as_double=0.5)]),
    )
    payload = pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(scope_metrics=[pb.ScopeMetrics(metrics=[histogram, gauge])])
        ]
    ).SerializeToString()
    points = decode_payload(payload, {}).points
    assert [PointV1.model_validate(p.as_record()).kind for p in points] == ["histogram", "gauge"]


def test_point_with_mismatched_buckets_is_rejected():
    record = {
        "schema": "aiops.points/v1",
        "series": "x{}@{}",
        "metric": "x",
        "kind": "histogram",
        "unit": "s",
        "resource": {},
        "attributes": {},
        "interval_start_unix_nano": 1,
        "time_unix_nano": 2,
        "monotonic": True,
        "reset": False,
        "value": 0.0,
        "count": 1,
        "sum": 0.1,
        "bounds": [0.1],
        "bucket_counts": [1],
    }
    with pytest.raises(ValidationError, match="len\\(bounds\\) \\+ 1"):
        PointV1.model_validate(record)


def test_deadletter_records_validate():
    record = deadletter_record(
        b"\x00",
        reason="r",
        kind="malformed_payload",
        stage="decode",
        topic="t",
        partition=0,
        offset=1,
        timestamp=None,
    )
    assert DeadLetterV1.model_validate(record).source.offset == 1


def test_alert_episode_keeps_its_id_and_round_trips_through_json():
    firing = AlertV1.firing(
        {"alertname": "A", "severity": "page"}, {"summary": "s"}, START, "http://x"
    )
    resolved = firing.resolve(START + timedelta(minutes=5))
    again = AlertV1.model_validate_json(resolved.model_dump_json(by_alias=True))
    assert again == resolved and again.id == firing.id
    assert again.for_alertmanager()["endsAt"].startswith("2026-11-27T21:05")


def test_alert_needs_alertname_and_severity_and_a_consistent_end():
    with pytest.raises(ValidationError, match="severity"):
        AlertV1.firing({"alertname": "A"}, {}, START, "http://x")
    firing = AlertV1.firing({"alertname": "A", "severity": "ticket"}, {}, START, "http://x")
    with pytest.raises(ValidationError, match="endsAt"):
        AlertV1.model_validate({**firing.model_dump(by_alias=True), "status": "resolved"})


def test_a_new_episode_gets_a_new_id():
    labels = {"alertname": "A", "severity": "page"}
    assert (
        AlertV1.firing(labels, {}, START, "u").id
        != AlertV1.firing(labels, {}, START + timedelta(hours=1), "u").id
    )


def test_sli_snapshots_validate_with_and_without_events():
    from aiops.slo.objective import to_objective
    from aiops.slo.sli_windows import SliWindows
    from aiops.slo.spec import EXAMPLE, parse_slos
    from aiops.stream.sli_agent import snapshot_record

    objective = to_objective(parse_slos(EXAMPLE)[0])
    empty = SliWindows(objective.windows_s)
    busy = SliWindows(objective.windows_s)
    busy.add(1000.0, good=990, total=1000)
    for windows in (empty, busy):
        record = snapshot_record(objective, (), windows, objective.evaluate(windows.snapshot()))
        assert SliV2.model_validate(record).slo_id == objective.id
