"""Latency SLIs and percentiles from exponential histograms (issue 14, item 2, stream side)."""

import math
import random

import pytest

from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import check_points
from aiops.schemas import SliV2
from aiops.slo.exponential_histogram import (
    ExponentialHistogram,
    as_prometheus_ingests,
    downscale,
    sum_histograms,
)
from aiops.slo.exponential_windows import ExponentialWindows
from aiops.slo.matchers import Matcher
from aiops.slo.objective import (
    LatencyIndicator,
    RatioIndicator,
    Selector,
    exponential_of,
    to_objective,
)
from aiops.slo.quantile import native_count_at_or_below, native_histogram_quantile
from aiops.slo.sli_windows import SliWindows
from aiops.slo.spec import EXAMPLE, parse_slos
from aiops.stream.sli_agent import _route, snapshot_record
from support.exponential_gen import SdkExponentialExports

NATIVE = Selector("latency", "s", "histogram", histogram="native")


def _sdk_points(seed=0, exports=4, n=50):
    sdk, state = SdkExponentialExports(seed=seed), DeltaState()
    points = []
    for step in range(exports):
        for record in decode_payload_v2(
            sdk.export(n, spread=0.5 + step / 2), lambda k: state
        ).records:
            points += check_points(record.value).points()
    return sdk, points


def test_good_events_of_exponential_points_are_histogram_fraction_times_count():
    _, points = _sdk_points()
    latency = LatencyIndicator(NATIVE, threshold=0.05, buckets=())
    for point in points:
        good, total = latency.events(point)
        h = as_prometheus_ingests(exponential_of(point))
        assert total == point["count"] and good == native_count_at_or_below(0.05, h)
        assert 0 <= good <= total and latency.interpolates(point)


def test_good_events_add_up_close_to_the_observed_truth():
    sdk, points = _sdk_points(seed=1, exports=6)
    latency = LatencyIndicator(NATIVE, threshold=0.05, buckets=())
    good = sum(latency.events(p)[0] for p in points)
    truth = sum(v <= 0.05 for values in sdk.observed.values() for v in values)
    assert abs(good - truth) <= 0.1 * truth  # interpolation inside one bucket, not exact


def test_a_ratio_sli_counts_exponential_points_by_their_count():
    _, points = _sdk_points(seed=2)
    ratio = RatioIndicator(
        total=Selector("latency", "s", "histogram"),
        bad=Selector("latency", "s", "histogram", (Matcher.parse('http.route="/b"'),)),
    )
    events = [ratio.events(p) for p in points]
    assert sum(total for _, total in events) == sum(p["count"] for p in points)
    assert sum(good for good, _ in events) == sum(
        p["count"] for p in points if p["attributes"]["http.route"] == "/a"
    )


def _random_histogram(rng: random.Random) -> ExponentialHistogram:
    counts = [rng.choice([0, 1, 2, 5]) for _ in range(rng.randint(1, 12))]
    zero = rng.choice([0, 0, 3])
    return ExponentialHistogram(
        scale=rng.randint(-1, 4),
        count=sum(counts) + zero,
        zero_count=zero,
        positive_offset=rng.randint(-30, 10),
        positive=counts,
    )


@pytest.mark.parametrize("seed", range(5))
def test_windows_hold_the_sum_of_what_they_were_given_at_its_coarsest_scale(seed):
    rng = random.Random(seed)
    windows = ExponentialWindows([60, 600], buckets_per_window=6, max_lateness_s=1000)
    given = [(float(t), _random_histogram(rng)) for t in range(0, 600, 7)]
    for t, h in given:
        windows.add(t, h)
    windows = ExponentialWindows.from_state(windows.to_state())
    for window_s in (600, 60):  # read at a bucket boundary: no bucket pro-rated
        inside = [h for t, h in given if t > 600.0 - window_s]
        got = windows.histogram(window_s, at=600.0)
        want = downscale(sum_histograms(*inside), got.scale)
        assert got.scale <= min(h.scale for h in inside)
        assert got.zero_count == pytest.approx(want.zero_count)
        assert _dense(got) == pytest.approx(_dense(want), abs=1e-9)
        for q in (0.5, 0.95, 0.99):
            assert native_histogram_quantile(q, got) == pytest.approx(
                native_histogram_quantile(q, want), rel=1e-12
            )


def _dense(h):
    return {h.positive_offset + k: c for k, c in enumerate(h.positive) if c}


def test_windows_stay_within_their_bucket_budget_by_going_coarser():
    windows = ExponentialWindows([60], max_buckets=20)
    windows.add(1.0, ExponentialHistogram(scale=3, count=2, positive_offset=0, positive=[1, 1]))
    windows.add(2.0, ExponentialHistogram(scale=3, count=1, positive_offset=100, positive=[1]))
    h = windows.histogram(60)
    assert len(h.positive) <= 20 and h.scale < 3 and h.count == 3


def _native_objective():
    objective = to_objective(parse_slos(EXAMPLE)[0])
    return objective.__class__(
        **{
            **objective.__dict__,
            "indicator": LatencyIndicator(NATIVE, threshold=0.05, buckets=()),
            "group_by": (),
        }
    )


def test_routed_events_carry_buckets_and_the_snapshot_says_the_count_was_interpolated():
    objective = _native_objective()
    sdk, points = _sdk_points(seed=3)
    routed = {}
    for point in points:
        _route(routed, objective, point, objective.events(point))
    windows = SliWindows(objective.windows_s, max_lateness_s=10**6)
    latency = ExponentialWindows((300, 3600), max_lateness_s=10**6)
    for event in routed.values():
        assert event["interpolated"] is True
        windows.add(event["t"], good=event["good"], total=event["total"])
        e = event["exponential"]
        latency.add(
            event["t"],
            ExponentialHistogram(
                scale=e["scale"],
                count=e["zero_count"] + sum(e["counts"]),
                zero_count=e["zero_count"],
                positive_offset=e["offset"],
                positive=e["counts"],
            ),
        )
    record = snapshot_record(
        objective, (), windows, objective.evaluate(windows.snapshot()), latency, True
    )
    SliV2.model_validate(record)
    assert record["interpolated"] is True
    observed = sorted(v for values in sdk.observed.values() for v in values)
    p95 = record["latency"]["1h"]["p95"]
    truth = observed[math.ceil(0.95 * len(observed)) - 1]
    assert record["windows"]["1h"]["total"] == len(observed)
    assert abs(p95 - truth) / truth < 0.1  # within a bucket of the truth (scale >= 3: 9%)
