"""Saved SLI state survives a spec or settings change of its windows (issue 13, item 7).

The state is saved by the windows of then and restored into the windows of
now: kept windows keep their events, added ones start empty and the snapshot
says since when they count, and evaluation works for every key.
"""

import json
from dataclasses import replace

import pytest

from aiops.schemas import SliV2
from aiops.slo.objective import to_objective
from aiops.slo.sli_windows import SliWindows, WindowSet
from aiops.slo.spec import EXAMPLE, parse_slos
from aiops.stream.sli_agent import snapshot_record

T0 = 1_764_000_000.0
HOUR = 3600.0
BEFORE = to_objective(parse_slos(EXAMPLE)[0])
"""The example SLO with the default windows: 5m 30m 1h 2h 6h 1d 3d and 30d."""


def _with_pair(objective, name, short_s, long_s):
    pairs = tuple(
        replace(p, short_s=short_s, long_s=long_s) if p.name == name else p for p in objective.pairs
    )
    return replace(objective, pairs=pairs)


def _stored(buckets_per_window=60):
    """The JSON state of a busy day under the default windows, as the agent saves it before the change."""
    windows = SliWindows(BEFORE.windows_s, buckets_per_window=buckets_per_window)
    for minute in range(24 * 60):
        windows.add(T0 + 60.0 * minute, good=99 if minute % 60 else 90, total=100)
    state = json.loads(json.dumps(windows.to_state()))
    for window in state["windows"]:
        del window["since"]  # saved before windows knew since when they count
    return windows, state


def _restore(objective, state, buckets_per_window=60):
    windows = SliWindows(objective.windows_s, buckets_per_window=buckets_per_window)
    windows.restore(state)
    return windows


def test_a_window_added_by_the_spec_starts_empty_and_the_snapshot_says_since_when():
    before, state = _stored()
    after = _with_pair(BEFORE, "ticket-quick", short_s=7200, long_s=43200)  # 1d becomes 12h
    windows = _restore(after, state)
    watermark = before.watermark

    results = after.evaluate(windows.snapshot())  # raised KeyError for the 12h window before
    assert {r.severity for r in results} == {"page", "ticket"}
    record = snapshot_record(after, (), windows, results)
    SliV2.model_validate(record)
    assert record["windows"]["12h"] == {
        "window_s": 43200.0,
        "good": 0.0,
        "total": 0.0,
        "error_ratio": None,
        "burn_rate": None,
        "complete": False,
        "since_unix": watermark,
    }
    assert "1d" not in record["windows"]
    for name in ("5m", "1h", "2h", "6h", "3d", "30d"):
        window_s = record["windows"][name]["window_s"]
        assert record["windows"][name]["complete"] and record["windows"][name]["since_unix"] is None
        assert windows.counts(window_s) == before.counts(window_s)

    windows.add(watermark + 60, good=50, total=100)
    assert windows.counts(43200).total == 100
    windows.advance(watermark + 43200 - 1)
    assert windows.partial_windows() == {43200.0: watermark}
    windows.advance(watermark + 43200)
    assert windows.partial_windows() == {}
    assert snapshot_record(after, (), windows, [])["windows"]["12h"]["complete"]


def test_a_removed_window_is_dropped_and_the_others_evaluate_as_before():
    before, state = _stored()
    page_only = replace(BEFORE, disabled_severities=frozenset({"ticket"}))
    after = replace(page_only, pairs=tuple(p for p in page_only.pairs if p.severity == "page"))
    windows = _restore(after, state)

    assert windows.windows_s == (300.0, 1800.0, 3600.0, 21600.0, 2592000.0)
    assert windows.partial_windows() == {}
    assert after.evaluate(windows.snapshot()) == page_only.evaluate(before.snapshot())
    SliV2.model_validate(snapshot_record(after, (), windows, after.evaluate(windows.snapshot())))


@pytest.mark.parametrize("buckets_per_window", [30, 60, 90, 120])
def test_a_new_bucket_count_keeps_every_window_within_one_old_bucket(buckets_per_window):
    before, state = _stored()
    windows = _restore(BEFORE, state, buckets_per_window)

    assert windows.partial_windows() == {}
    for window_s in BEFORE.windows_s:
        old, new = before.counts(window_s), windows.counts(window_s)
        one_bucket = 100 * window_s / 60 / 60  # 100 events a minute, 60 old buckets
        assert new.total == pytest.approx(old.total, abs=one_bucket)
        assert new.good <= new.total
    for hours in (1, 6, 24):  # as the rings turn, the new buckets hold the new events exactly
        at = before.watermark + hours * HOUR
        assert windows.counts(3600, at=at).total == pytest.approx(
            before.counts(3600, at=at).total, abs=100
        )


def test_a_window_of_another_width_starts_empty():
    latency = WindowSet([300, 3600], width=4)
    latency.add(T0, [1, 2, 3, 4])
    rebounded = WindowSet([300, 3600], width=6)  # the latency SLO's buckets changed
    rebounded.restore(latency.to_state())
    assert rebounded.totals(300) == (0.0,) * 6
    assert rebounded.partial_windows() == {300.0: T0, 3600.0: T0}


def test_restoring_an_empty_state_leaves_the_new_set_empty_and_complete():
    windows = SliWindows([300, 43200])
    windows.restore(SliWindows([300]).to_state())
    assert windows.watermark is None and windows.partial_windows() == {}
