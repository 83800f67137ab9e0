"""An exponential histogram is scored as a classic one is (issue 14, item 1, detect side): rate and mean."""

from aiops.anomaly.engine import DetectEngine, PointOutcome, signals
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import check_points
from support.exponential_gen import SdkExponentialExports


def _records(exports: int):
    sdk, state = SdkExponentialExports(seed=4, delta=False), DeltaState()
    return [
        check_points(record.value).record
        for _ in range(exports)
        for record in decode_payload_v2(sdk.export(25), lambda key: state).records
    ]


def test_an_exponential_point_has_the_rate_and_mean_of_a_classic_one():
    (record,) = _records(1)
    point = check_points(record).points()[0]
    classic = {**point, "kind": "histogram", "exponential": None}
    assert signals(point) == signals(classic) and set(signals(point)) == {"rate", "mean"}


def test_the_engine_scores_the_rate_and_mean_of_exponential_records():
    engine = DetectEngine()
    scores = []
    for record in _records(3):
        now = record["points"]["time_unix_nano"].max() / 1e9
        assert engine.add_record(record, now=now) == {PointOutcome.ACCEPTED: 2}
        scores += engine.close(now=now + 10, force=True).scores
    assert {(s.metric, s.signal) for s in scores if s.attributes} == {
        ("latency", "rate"),
        ("latency", "mean"),
    }
