"""``aiops.points/v2`` records: they validate against the model and the committed JSON Schema, and bad ones fail."""

import json

import jsonschema
import pytest
from pydantic import ValidationError

from aiops.bench.synthetic import synthetic_exports
from aiops.decode.columnar import SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.points_v2 import columns, decode, encode, expand_v1, points_of, to_record
from aiops.schemas import JSON_DIR, PointsV2, PointV1


@pytest.fixture(scope="module")
def record():
    rounds = synthetic_exports(resources=1, series=40, exports=2, seed=2)
    state, interner = DeltaState(), SeriesInterner()
    state.apply(decode_columns(rounds[0][0], interner).batches[0])
    return decode(encode(to_record(state.apply(decode_columns(rounds[1][0], interner).batches[0]))))


def test_record_validates_against_the_model_and_the_committed_json_schema(record):
    assert len(PointsV2.model_validate(record).points.series_id) == 40
    schema = json.loads((JSON_DIR / "aiops.points.v2.schema.json").read_text())
    jsonschema.validate(record, schema)


def test_expanded_points_are_valid_v1_records(record):
    points = expand_v1(record)
    assert len(points) == 40
    assert {PointV1.model_validate(point).kind for point in points} == {"gauge", "sum", "histogram"}


def test_columns_are_typed_arrays(record):
    cols = columns(record)
    assert cols["series_id"].dtype.name == "int64" and cols["value"].dtype.name == "float64"
    assert len(cols["bucket_offsets"]) == len(cols["series_id"]) + 1


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["points"]["value"].pop(), "points.value has 39 entries for 40 points"),
        (lambda r: r["points"]["series_id"].__setitem__(0, 12345), "has no entry in series"),
        (lambda r: r["points"]["bucket_offsets"].pop(), "bucket_offsets"),
        (lambda r: r["series"]["unit"].pop(), "one entry per series id"),
        (lambda r: r["points"]["bounds_index"].__setitem__(0, -1), "a histogram has bounds"),
        (lambda r: r.__setitem__("schema", "aiops.points/v1"), "aiops.points/v2"),
    ],
)
def test_a_broken_record_is_rejected_with_the_reason(record, change, message):
    broken = json.loads(json.dumps(record))
    change(broken)
    with pytest.raises(ValidationError, match=message.replace("(", "\\(").replace(".", "\\.")):
        PointsV2.model_validate(broken)


def test_points_tail_prints_one_line_per_point_of_a_v2_record(record):
    from aiops.cli.points import _point_line
    from aiops.decode.points_v2 import points_of

    points = points_of(record)
    assert points == expand_v1(record) and len(points) == 40
    assert all(point["metric"] in _point_line(point) for point in points)


def test_only_the_points_of_the_wanted_metrics_are_expanded(record):
    every = expand_v1(record)
    wanted = {"system.cpu.utilization", "no.such.metric"}
    assert points_of(record, wanted) == [p for p in every if p["metric"] in wanted]
    assert points_of(record, set()) == []
    v1 = every[0]
    assert points_of(v1, {v1["metric"]}) == [v1] and points_of(v1, wanted - {v1["metric"]}) == []
