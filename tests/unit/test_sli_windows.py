"""Event-time ring-buffer windows: roll-over, bucket edges, lateness, draining, memory, checkpoints,
impossible events."""

import json
import math
import pickle
import random

import pytest

from aiops.slo.sli_windows import (
    IMPOSSIBLE_KINDS,
    Arrival,
    EventCounts,
    ImpossibleEvents,
    RollingWindow,
    SliWindows,
    WindowSet,
)
from aiops.slo.windows import DEFAULT_WINDOWS_S

T0 = 1_764_000_000.0  # an event time in seconds (late 2025), a multiple of 300


def test_events_roll_out_of_a_window_exactly_when_they_are_older_than_it():
    w = SliWindows([300], max_lateness_s=0)
    w.add(T0, good=9, total=10)  # bucket (T0 - 5, T0] of the 5 s buckets
    w.advance(T0 + 295)  # window (T0 - 5, T0 + 295]: the whole bucket
    assert w.counts(300) == EventCounts(9, 10)
    w.advance(T0 + 297.5)  # half of the bucket is older than the window: pro-rated
    assert w.counts(300) == EventCounts(4.5, 5)
    w.advance(T0 + 300)  # window (T0, T0 + 300]: the point at T0 is out
    assert w.counts(300) == EventCounts(0, 0)
    assert math.isnan(w.counts(300).error_ratio)


def test_a_bucket_straddling_the_window_start_is_pro_rated():
    r = RollingWindow(60, buckets=6, width=1)  # 10 s buckets (k*10, (k+1)*10]
    r.add(T0 + 10, [10.0])  # bucket (T0, T0 + 10]
    assert r.totals(T0 + 62.5) == pytest.approx(
        (7.5,)
    )  # window (T0 + 2.5, T0 + 62.5] keeps 3/4 of it
    assert r.totals(T0 + 70) == (0.0,)


def test_totals_at_bucket_boundaries_equal_a_brute_force_sum():
    rng = random.Random(3)
    events = [(T0 + rng.uniform(0, 7200), rng.randint(0, 5)) for _ in range(2000)]
    events.sort()
    w = WindowSet([300, 3600], width=1, max_lateness_s=0)
    for t, n in events:
        w.add(t, [n])
    at = w.watermark
    for window in (300, 3600):
        step = window / 60
        boundary = math.ceil(at / step) * step  # read where no bucket straddles the window's start
        expected = sum(n for t, n in events if boundary - window < t <= boundary)
        assert w.totals(window, at=boundary) == pytest.approx((expected,))


def test_totals_between_boundaries_are_within_one_bucket_of_the_truth():
    rng = random.Random(5)
    w = WindowSet([300], width=1, max_lateness_s=0)
    events = sorted((T0 + rng.uniform(0, 900), 1.0) for _ in range(5000))
    for t, n in events:
        w.add(t, [n])
    at = w.watermark + 2.5
    truth = sum(n for t, n in events if at - 300 < t <= at)
    (estimate,) = w.totals(300, at=at)
    per_bucket = 5000 / 900 * 5  # events in one 5 s bucket
    assert abs(estimate - truth) <= per_bucket


def test_late_points_within_the_allowed_lateness_land_in_their_own_bucket():
    w = SliWindows([300, 3600], max_lateness_s=120)
    assert w.add(T0 + 1000, good=1, total=1) is Arrival.ON_TIME
    assert w.add(T0 + 900, good=0, total=5) is Arrival.LATE  # 100 s late
    assert w.counts(300) == EventCounts(1, 6)
    w.advance(T0 + 1250)  # 5m window (T0 + 950, T0 + 1250]: the late point aged out by its own time
    assert w.counts(300) == EventCounts(1, 1)
    assert w.counts(3600) == EventCounts(1, 6)


def test_points_later_than_allowed_are_dropped_and_change_nothing():
    w = SliWindows([300], max_lateness_s=60)
    w.add(T0, good=1, total=1)
    assert w.add(T0 - 60, good=0, total=1) is Arrival.LATE  # exactly at the limit: kept
    assert w.add(T0 - 61, good=0, total=100) is Arrival.DROPPED
    assert w.counts(300) == EventCounts(1, 2)
    assert w.watermark == T0


def test_a_late_point_older_than_a_short_window_still_counts_in_the_long_one():
    w = SliWindows([300, 3600], max_lateness_s=900)
    w.add(T0 + 1000, good=1, total=1)
    assert w.add(T0 + 400, good=0, total=1) is Arrival.LATE  # 600 s late: outside 5m, inside 1h
    assert w.counts(300) == EventCounts(1, 1)
    assert w.counts(3600) == EventCounts(1, 2)


def test_windows_drain_when_time_passes_without_data():
    w = SliWindows([300, 3600])
    for i in range(60):
        w.add(T0 + 60 * i, good=99, total=100)
    assert w.counts(3600).total == pytest.approx(6000)
    w.advance(T0 + 59 * 60 + 1800)
    assert w.counts(300) == EventCounts(0, 0)
    assert w.counts(3600).total == pytest.approx(3000)  # the last half hour of points
    w.advance(T0 + 10 * 86400)  # a jump longer than every ring
    assert w.counts(3600) == EventCounts(0, 0)


def test_roll_over_across_a_long_run_keeps_the_latest_window_only():
    w = SliWindows([300], max_lateness_s=0)
    for second in range(0, 3600, 5):  # one event every 5 s for an hour, bad every other minute
        bad = (second // 60) % 2
        w.add(T0 + second + 5, good=1 - bad, total=1)
    assert w.counts(300) == EventCounts(good=pytest.approx(24), total=pytest.approx(60))


def test_memory_is_fixed_and_stated():
    default = SliWindows([*DEFAULT_WINDOWS_S, 30 * 86400])
    assert default.memory_bytes() == 8 * 2 * 61 * 8 == 7808
    before = default.memory_bytes()
    for i in range(10_000):
        default.add(T0 + i * 7.0, good=1, total=1)
    assert default.memory_bytes() == before
    histogram = WindowSet([300, 3600], width=15, buckets_per_window=30)
    assert histogram.memory_bytes() == 8 * 15 * 31 * 2


def test_state_round_trips_through_json_and_pickle():
    w = SliWindows([300, 86400], max_lateness_s=30)
    for i in range(100):
        w.add(T0 + 13.0 * i, good=i % 7 != 0, total=1)
    restored = SliWindows.from_state(json.loads(json.dumps(w.to_state())))
    assert restored.snapshot() == w.snapshot()
    assert restored.watermark == w.watermark and restored.max_lateness_s == 30
    assert pickle.loads(pickle.dumps(w)).snapshot() == w.snapshot()
    restored.add(T0 + 2000, good=1, total=1)  # and it keeps working
    assert restored.counts(300).total == pytest.approx(w.counts(300, at=T0 + 2000).total + 1)


def test_reading_before_the_watermark_or_an_unknown_window_fails_clearly():
    w = SliWindows([300])
    assert w.counts(300) == EventCounts(0, 0)  # nothing seen yet
    w.add(T0, good=1, total=1)
    with pytest.raises(ValueError, match="before the watermark"):
        w.counts(300, at=T0 - 1)
    with pytest.raises(KeyError, match="no 600 s window"):
        w.counts(600)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        RollingWindow(0)
    with pytest.raises(ValueError):
        WindowSet([])
    with pytest.raises(ValueError):
        WindowSet([300], max_lateness_s=-1)
    with pytest.raises(ValueError, match="expected 2 values"):
        SliWindows([300]).add(T0, [1, 2, 3])


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("t", "good", "total", "kind"),
    [
        (1000.0, -1.0, 5.0, "negative"),
        (1000.0, 0.0, -5.0, "negative"),
        (1000.0, NAN, 5.0, "not_finite"),
        (1000.0, 1.0, INF, "not_finite"),
        (1000.0, -INF, 0.0, "not_finite"),
        (NAN, 1.0, 1.0, "not_finite"),
        (INF, 1.0, 1.0, "not_finite"),
        (1000.0, 6.0, 5.0, "good_over_total"),
        (1000.0, 1.0, 0.0, "good_over_total"),
    ],
)
def test_impossible_events_are_refused_and_change_nothing(t, good, total, kind):
    windows = SliWindows([60, 600], max_lateness_s=30)
    windows.add(990.0, good=9, total=10)
    before = windows.to_state()
    with pytest.raises(ImpossibleEvents) as refused:
        windows.add(t, good=good, total=total)
    assert refused.value.kind == kind and kind in IMPOSSIBLE_KINDS
    assert windows.to_state() == before
    assert windows.add(1000.0, good=5, total=5) is Arrival.ON_TIME
    assert windows.counts(60) == EventCounts(good=14.0, total=15.0)


def test_possible_edges_are_counted():
    windows = SliWindows([60])
    assert windows.add(1.0, good=0, total=0) is Arrival.ON_TIME
    assert windows.add(2.0, values=(3.0, 3.0)) is Arrival.ON_TIME
    assert windows.counts(60) == EventCounts(good=3.0, total=3.0)


def test_histogram_buckets_refuse_negative_and_nan_counts():
    latency = WindowSet([300], width=3)
    latency.add(100.0, [1.0, 2.0, 0.0])
    for buckets, kind in (([1.0, -1.0, 0.0], "negative"), ([NAN, 0.0, 0.0], "not_finite")):
        with pytest.raises(ImpossibleEvents, match=kind):
            latency.add(101.0, buckets)
    assert latency.totals(300) == (1.0, 2.0, 0.0)
