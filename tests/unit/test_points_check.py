"""Points records checked at the reader's door (issue 13, item 6, points side), over many broken records."""

import copy
import random

import numpy as np
import orjson
import pytest

from aiops.bench.synthetic import synthetic_exports
from aiops.decode.columnar import SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import POINT_REASONS, BadPointsRecord, check_points
from aiops.decode.points_v2 import decode, encode, expand_v1, to_record
from aiops.schemas import PointsV2
from support.exponential_gen import SdkExponentialExports


def records(exports: int = 3) -> list[bytes]:
    """Encoded records of a few resources over a few exports: deltas, resets-free, histograms and numbers."""
    rounds = synthetic_exports(resources=3, series=12, exports=exports)
    interner, states, out = SeriesInterner(), {}, []
    for payloads in rounds:
        for payload in payloads:
            for batch in decode_columns(payload, interner).batches:
                state = states.setdefault(batch.resource_text, DeltaState())
                out.append(encode(to_record(state.apply(batch))))
    return out


def exponential_records() -> list[bytes]:
    """Records of exponential histograms as the OTel SDK exports them, cumulative (differenced) and delta."""
    out = []
    for delta in (False, True):
        sdk, state = SdkExponentialExports(seed=7, delta=delta), DeltaState()
        for _ in range(3):
            result = decode_payload_v2(sdk.export(15), lambda key, state=state: state)
            out += [record.value for record in result.records]
    return out


GOOD = records() + exponential_records()


def as_lists(checked_record: dict) -> dict:
    return orjson.loads(encode(checked_record))


@pytest.mark.parametrize("data", GOOD)
def test_a_good_record_passes_whole_and_reads_as_before(data):
    checked = check_points(data)
    assert checked.problems == [] and len(checked) == len(decode(data)["points"]["series_id"])
    assert checked.points() == expand_v1(decode(data))
    PointsV2.model_validate(as_lists(checked.record))
    assert (
        checked.columns["flags"].dtype == np.uint8
        and checked.columns["time_unix_nano"].dtype == np.int64
    )


RECORD_FAULTS = {
    "not JSON": lambda r, rng: b"{" + encode(r)[: rng.randint(1, 50)],
    "a list": lambda r, rng: b"[1, 2]",
    "schema": lambda r, rng: {**r, "schema": "aiops.points/v9"},
    "no series": lambda r, rng: {k: v for k, v in r.items() if k != "series"},
    "no metric list": lambda r, rng: {
        **r,
        "series": {k: v for k, v in r["series"].items() if k != "metric"},
    },
    "resource not a mapping": lambda r, rng: {**r, "resource": ["service.name", "x"]},
    "resource value a list": lambda r, rng: {**r, "resource": {"service.name": ["x"]}},
    "bounds as strings": lambda r, rng: {
        **r,
        "bounds": [[str(b) for b in row] for row in r["bounds"]],
    },
    "bounds not increasing": lambda r, rng: {**r, "bounds": [row[::-1] for row in r["bounds"]]},
    "a column short": lambda r, rng: _points(r, value=r["points"]["value"][:-1]),
    "a column missing": lambda r, rng: {
        **r,
        "points": {k: v for k, v in r["points"].items() if k != "time_unix_nano"},
    },
    "bucket_counts one too long": lambda r, rng: _points(
        r, bucket_counts=[*r["points"]["bucket_counts"], 1]
    ),
    "offsets not n + 1": lambda r, rng: _points(
        r, bucket_offsets=r["points"]["bucket_offsets"][:-1]
    ),
    "series lists differ": lambda r, rng: {
        **r,
        "series": {**r["series"], "unit": r["series"]["unit"][:-1]},
    },
}


def _points(record: dict, **columns) -> dict:
    return {**record, "points": {**record["points"], **columns}}


@pytest.mark.parametrize("fault", RECORD_FAULTS)
def test_a_record_that_cannot_be_read_is_refused_whole_with_the_reason(fault):
    rng = random.Random(fault)
    for data in GOOD:
        if fault.startswith("bounds") and not decode(data)["bounds"]:
            continue  # exponential histograms only: no bounds to break
        broken = RECORD_FAULTS[fault](decode(data), rng)
        with pytest.raises(BadPointsRecord) as refused:
            check_points(broken if isinstance(broken, bytes) else encode(broken))
        assert refused.value.reason and len(refused.value.reason) < 500


def _set(record: dict, column: str, i: int, value) -> None:
    record["points"][column][i] = value


def _histogram_rows(record: dict) -> list[int]:
    kinds = dict(zip(record["series"]["id"], record["series"]["kind"]))
    return [i for i, sid in enumerate(record["points"]["series_id"]) if kinds[sid] == "histogram"]


def _number_rows(record: dict, kind: str | None = None) -> list[int]:
    kinds = dict(zip(record["series"]["id"], record["series"]["kind"]))
    return [
        i
        for i, sid in enumerate(record["points"]["series_id"])
        if kinds[sid] in ("gauge", "sum") and kind in (None, kinds[sid])
    ]


def _negative_bucket(record: dict, i: int) -> None:
    p = record["points"]
    p["bucket_counts"][p["bucket_offsets"][i]] = -1


def _extra_bucket(record: dict, i: int) -> None:
    p = record["points"]
    o = p["bucket_offsets"][i + 1]
    p["bucket_counts"].insert(o, 0)
    p["bucket_offsets"][i + 1 :] = [x + 1 for x in p["bucket_offsets"][i + 1 :]]


def _exponential_rows(record: dict) -> list[int]:
    kinds = dict(zip(record["series"]["id"], record["series"]["kind"]))
    return [
        i
        for i, sid in enumerate(record["points"]["series_id"])
        if kinds[sid] == "exponential_histogram"
    ]


POINT_FAULTS = [  # (code, rows it applies to, change)
    ("unknown_series", _number_rows, lambda r, i: _set(r, "series_id", i, 12345)),
    ("not_numeric", _number_rows, lambda r, i: _set(r, "value", i, "1.5")),
    ("not_numeric", _number_rows, lambda r, i: _set(r, "time_unix_nano", i, 1.5e18)),
    ("not_numeric", _number_rows, lambda r, i: _set(r, "count", i, None)),
    ("not_numeric", _histogram_rows, lambda r, i: _set(r, "sum", i, {"x": 1})),
    (
        "not_numeric",
        _histogram_rows,
        lambda r, i: r["points"]["bucket_counts"].__setitem__(
            r["points"]["bucket_offsets"][i], "3"
        ),
    ),
    ("bad_time", _number_rows, lambda r, i: _set(r, "time_unix_nano", i, 0)),
    ("bad_time", _number_rows, lambda r, i: _set(r, "interval_start_unix_nano", i, -5)),
    (
        "bad_time",
        _histogram_rows,
        lambda r, i: _set(r, "interval_start_unix_nano", i, r["points"]["time_unix_nano"][i] + 1),
    ),
    ("not_finite", _histogram_rows, lambda r, i: _set(r, "sum", i, 1e999)),
    ("negative", _histogram_rows, lambda r, i: _set(r, "count", i, -1)),
    (
        "negative",
        lambda r: _number_rows(r, "sum"),
        lambda r, i: (_set(r, "value", i, -2.0), _set(r, "flags", i, 1)),
    ),
    ("bad_flags", _number_rows, lambda r, i: _set(r, "flags", i, 8)),
    ("bad_histogram", _histogram_rows, _extra_bucket),
    ("bad_histogram", _histogram_rows, lambda r, i: _set(r, "bounds_index", i, 99)),
    (
        "bad_histogram",
        _histogram_rows,
        lambda r, i: _set(r, "count", i, r["points"]["count"][i] + 1),
    ),
    ("bad_histogram", _number_rows, lambda r, i: _set(r, "bounds_index", i, 0)),
    ("bad_exponential", _exponential_rows, lambda r, i: _set(r, "scale", i, 21)),
    ("bad_exponential", _exponential_rows, lambda r, i: _set(r, "zero_threshold", i, -1.0)),
    (
        "bad_exponential",
        _exponential_rows,
        lambda r, i: _set(r, "count", i, r["points"]["count"][i] - 1),
    ),
    ("not_numeric", _exponential_rows, lambda r, i: _set(r, "positive_offset", i, 0.5)),
    ("negative", _exponential_rows, _negative_bucket),
]


@pytest.mark.parametrize("seed", range(6))
def test_each_bad_point_is_left_out_with_its_reason_and_the_others_are_kept(seed):
    rng = random.Random(seed)
    checked_faults = 0
    for data in GOOD * 4:
        record = decode(data)
        before = expand_v1(record)
        broken = copy.deepcopy(record)
        chosen = {}
        for code, rows_of, change in rng.sample(POINT_FAULTS, 4):
            rows = [i for i in rows_of(record) if i not in chosen]
            if rows:
                i = rng.choice(rows)
                change(broken, i)
                chosen[i] = code
        # a dict: JSON bytes cannot carry the NaN or inf of not_finite
        checked = check_points(broken)
        assert {p.index: p.code for p in checked.problems} == chosen
        assert checked.points() == [point for i, point in enumerate(before) if i not in chosen]
        PointsV2.model_validate(as_lists(checked.record))
        checked_faults += len(chosen)
    assert checked_faults > 100


def test_every_reason_is_reachable():
    assert {code for code, _, _ in POINT_FAULTS} == set(POINT_REASONS)


def test_random_bytes_and_flipped_records_raise_only_bad_points_record():
    rng = random.Random(11)
    outcomes = {"refused": 0, "checked": 0}
    for n in range(3_000):
        data = bytearray(rng.choice(GOOD))
        if n % 3 == 0:
            data = bytearray(rng.randbytes(rng.randint(0, 200)))
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.choice(b'0123456789-.e"[]{},:x ')
        try:
            checked = check_points(bytes(data))
        except BadPointsRecord:
            outcomes["refused"] += 1
            continue
        outcomes["checked"] += 1
        if checked.problems == [] and checked.record.get("schema") == "aiops.points/v2":
            PointsV2.model_validate(as_lists(checked.record))
    assert outcomes["refused"] > 1000 and outcomes["checked"] > 100, outcomes


def test_a_v1_point_is_checked_against_its_model():
    (point, *_) = expand_v1(decode(GOOD[0]))
    assert check_points(orjson.dumps(point)).points() == [point]
    with pytest.raises(BadPointsRecord, match="not an aiops.points/v1 point"):
        check_points(orjson.dumps({**point, "time_unix_nano": "soon"}))
