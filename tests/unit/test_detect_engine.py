"""The detect engine on hand-made points: groups, service-level totals, attribution, replay, cap and expiry."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta

import numpy as np
import pytest

from aiops.anomaly.alert_policy import AlertPolicies
from aiops.anomaly.engine import (
    DetectEngine,
    PointOutcome,
    gauge,
    resource_key,
    scores_of,
    scores_records,
    signals,
)
from aiops.schemas import alert_id
from aiops.settings import Settings

T0 = 1_800_000_000
STEP = 10
ROUTES = ("/api/checkout", "/api/items", "/api/users")


def histogram(route: str, status: int, count: int, mean_s: float, t: float) -> dict:
    """A histogram delta of the demo's request duration for one route and status over one step."""
    attributes = {"http.route": route, "http.response.status_code": status}
    resource = {"service.name": "demo", "telemetry.sdk.version": "1.0"}
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(attributes.items()))
    return {
        "schema": "aiops.points/v1",
        "series": f"http.server.request.duration{{{labels}}}@{resource_key({'resource': resource})}",
        "metric": "http.server.request.duration",
        "kind": "histogram",
        "unit": "s",
        "resource": resource,
        "attributes": attributes,
        "interval_start_unix_nano": int((t - STEP) * 1e9),
        "time_unix_nano": int(t * 1e9),
        "monotonic": False,
        "reset": False,
        "value": 0.0,
        "count": count,
        "sum": count * mean_s,
        "bounds": [0.1, 1.0],
        "bucket_counts": [count, 0, 0],
    }


def export(step: int, rng: np.random.Generator, errors: int = 0, slow: float = 1.0) -> list[dict]:
    """One export of the demo: every route's 200s, plus ``errors`` 500s on checkout; checkout ``slow``-times slower."""
    t = T0 + STEP * step
    points = [
        histogram(
            route,
            200,
            int(rng.poisson(50)),
            0.05 * (slow if route == ROUTES[0] else 1.0) * rng.uniform(0.9, 1.1),
            t,
        )
        for route in ROUTES
    ]
    points.append(histogram(ROUTES[0], 500, errors, 0.02, t))
    return points


def run(engine: DetectEngine, exports: list[list[dict]]):
    scores, alerts = [], []
    for points in exports:
        t = points[0]["time_unix_nano"] / 1e9
        for point in points:
            assert engine.add(point, now=t) is PointOutcome.ACCEPTED
        closed = engine.close(now=t)
        scores += closed.scores
        alerts += closed.alerts
    closed = engine.close(now=t, force=True)
    return scores + closed.scores, alerts + closed.alerts


def demo_exports(n: int = 200, fault_at: int = 150, **fault) -> list[list[dict]]:
    rng = np.random.default_rng(7)
    return [export(i, rng, **(fault if i >= fault_at else {})) for i in range(n)]


def test_signals_of_an_empty_histogram_interval_have_no_mean():
    point = histogram("/a", 200, 0, 0.1, T0)
    assert signals(point)["rate"] == 0.0 and math.isnan(signals(point)["mean"])


def test_every_point_is_scored_with_the_service_level_totals():
    scores, _ = run(DetectEngine(), demo_exports(n=3))
    per_export = {s.time_unix_nano for s in scores}
    assert len(per_export) == 3
    service = [s for s in scores if s.attributes == {}]
    assert {s.signal for s in service} == {"rate", "mean", "error_percent"}
    first = next(s for s in service if s.time_unix_nano == min(per_export) and s.signal == "rate")
    points = export(0, np.random.default_rng(7))
    assert first.value == pytest.approx(sum(p["count"] for p in points) / STEP)
    assert len(scores) == 3 * (4 * 2 + 3)


def test_an_error_burst_alerts_and_names_the_status_code_that_moved():
    # 90 errors per step on ~150 requests: a 7-sigma step of the service's rate (a 60-error,
    # 4.5-sigma step scores about 0.4 by the default detector, below the 0.5 threshold)
    _, alerts = run(DetectEngine(), demo_exports(errors=90))
    firing = [a for a in alerts if a.status == "firing"]
    assert firing, "a burst of 500s where there were none must alert"
    service_level = [
        a for a in firing if "http_route" not in a.labels and a.labels["signal"] == "rate"
    ]
    assert service_level, [a.labels for a in firing]
    alert = service_level[0]
    assert (
        alert.labels["service"] == "demo"
        and alert.labels["metric"] == "http.server.request.duration"
    )
    assert "telemetry_sdk_version" not in alert.labels
    assert alert.id == alert_id(alert.labels, alert.startsAt), (
        "the id is the labels' and start's hash"
    )
    assert alert.annotations["attribution"].startswith("http.response.status_code=500: ")

    assert "expected" in alert.annotations["description"]


@pytest.mark.parametrize("errors", [80, 100, 120])
def test_the_status_that_rose_is_named_before_the_one_that_fell_as_much(errors):
    _, alerts = run(DetectEngine(), demo_exports(errors=errors))
    attributions = [
        a.annotations["attribution"]
        for a in alerts
        if a.status == "firing" and a.annotations.get("attribution")
    ]
    assert attributions and all(
        text.startswith("http.response.status_code=500: ") for text in attributions
    )


def test_a_long_incident_is_still_explained_against_the_time_before_it():
    """The baseline stops learning once the service level is anomalous (only the first point leaks in)."""
    _, alerts = run(DetectEngine(), demo_exports(n=200, fault_at=150, errors=90))
    resolved = [
        a
        for a in alerts
        if a.status == "resolved" and a.labels["signal"] == "rate" and "http_route" not in a.labels
    ]
    assert resolved and resolved[0].endsAt > resolved[0].startsAt + timedelta(seconds=5 * STEP)
    before = re.match(
        r"http.response.status_code=500: (\d+)% ->", resolved[0].annotations["attribution"]
    )
    assert before and int(before.group(1)) <= 2, resolved[0].annotations["attribution"]


def test_a_latency_spike_on_one_route_names_that_route():
    _, alerts = run(DetectEngine(), demo_exports(slow=20.0))
    mean_alerts = [
        a
        for a in alerts
        if a.status == "firing" and a.labels["signal"] == "mean" and "http_route" not in a.labels
    ]
    assert mean_alerts
    assert mean_alerts[0].annotations["attribution"].startswith("http.route=/api/checkout:")


def test_a_steady_service_does_not_alert():
    _, alerts = run(DetectEngine(), demo_exports(fault_at=10**6))
    assert alerts == []


def _legacy_checkpoint(engine: DetectEngine, key: str) -> tuple[dict, dict]:
    """A resource as the previous release checkpointed it: the source, and one entry per track."""
    import base64

    state = engine.export_source(key)
    tracks = {
        name: {
            **saved,
            "resource": engine.sources[key].resource,
            "source": key,
            "detector": base64.b64encode(engine.bank.export_state(name)).decode(),
        }
        for name, saved in state.pop("tracks").items()
    }
    del state["detectors"], state["resource"]
    return {**state, "tracks": sorted(tracks)}, tracks


@pytest.mark.parametrize("release", ["current", "previous"])
def test_a_restored_checkpoint_replays_idempotently_and_scores_as_if_uninterrupted(release):
    exports = demo_exports(errors=60)
    reference, reference_alerts = run(DetectEngine(), exports)

    first = DetectEngine()
    before, alerts_before = run(first, exports[:160])
    key = resource_key(exports[0][0])
    saved = (
        (first.export_source(key), None) if release == "current" else _legacy_checkpoint(first, key)
    )
    checkpoint = json.loads(json.dumps(saved, allow_nan=False))
    second = DetectEngine()
    second.restore_source(key, checkpoint[0], now=0.0, tracks=checkpoint[1])
    replay = exports[150:]  # ten exports already scored come again, as after a restart
    outcomes = [second.add(p, now=0.0) for p in replay[0]]
    assert outcomes == [PointOutcome.LATE] * len(outcomes)
    after, alerts_after = run(second, exports[160:])

    key_of = {(s.track, s.time_unix_nano): s.score for s in reference}
    resumed = before + after
    assert len(resumed) == len(reference)
    assert max(abs(key_of[(s.track, s.time_unix_nano)] - s.score) for s in resumed) == 0.0
    assert [a.id for a in alerts_before + alerts_after] == [a.id for a in reference_alerts]


def test_groups_close_on_a_newer_export_or_after_a_quiet_while():
    engine = DetectEngine(close_after_s=5.0)
    engine.add(gauge("q", 1.0, T0), now=100.0)
    assert engine.close(now=101.0).scores == []
    engine.add(gauge("q", 1.0, T0 + 10), now=102.0)
    assert [s.time_unix_nano for s in engine.close(now=102.0).scores] == [T0 * 10**9]
    assert [s.time_unix_nano for s in engine.close(now=107.0).scores] == [(T0 + 10) * 10**9]
    assert engine.add(gauge("q", 1.0, T0 + 5), now=108.0) is PointOutcome.LATE


def test_points_of_one_export_a_little_apart_form_one_group():
    engine = DetectEngine()
    engine.add(gauge("a", 1.0, T0), now=0.0)
    engine.add(gauge("b", 1.0, T0 + 0.002), now=0.0)
    engine.add(gauge("a", 1.0, T0 + 10), now=0.0)
    assert {s.metric for s in engine.close(now=0.0).scores} == {"a", "b"}


def test_tracks_beyond_the_cap_are_skipped_and_counted():
    engine = DetectEngine(max_series=3)
    for i in range(5):
        engine.add(gauge(f"m{i}", 1.0, T0), now=0.0)
    closed = engine.close(now=0.0, force=True)
    assert engine.live_tracks == 3 and closed.skipped == 2 and len(closed.scores) == 3


def test_idle_tracks_expire_and_free_their_rows():
    engine = DetectEngine(idle_s=60.0)
    engine.add(gauge("a", 1.0, T0), now=0.0)
    engine.add(gauge("b", 1.0, T0, service="other"), now=0.0)
    engine.close(now=0.0, force=True)
    engine.add(gauge("a", 1.0, T0 + 50), now=50.0)
    engine.close(now=50.0, force=True)
    assert engine.expire(now=100.0) == (['b{}@{service.name="other"}|value'], [])
    assert engine.live_tracks == 1 and list(engine.sources) == ['{service.name="demo"}']


def test_a_firing_track_that_goes_quiet_resolves_as_no_data():
    engine = DetectEngine(idle_s=60.0)
    exports = demo_exports(
        n=155, errors=60
    )  # the track goes quiet 5 exports into the burst, while firing
    _, alerts = run(engine, exports)
    firing = {a.id for a in alerts if a.status == "firing"} - {
        a.id for a in alerts if a.status == "resolved"
    }
    assert firing
    last = exports[-1][0]["time_unix_nano"] / 1e9
    _, resolved = engine.expire(now=last + 3600)
    assert {a.id for a in resolved} == firing
    assert {a.annotations["resolution"] for a in resolved} == {
        "no_data"
    } and engine.live_tracks == 0


def test_unreadable_records_are_not_scored():
    engine = DetectEngine()
    assert engine.add({"no": "time"}, now=0.0) is PointOutcome.UNSCORABLE
    assert (
        engine.add({**gauge("a", 1.0, T0), "kind": "exemplar"}, now=0.0) is PointOutcome.UNSCORABLE
    )


def test_only_service_level_and_elevated_tracks_are_watched():
    engine = DetectEngine()
    scores, _ = run(engine, demo_exports(n=160, fault_at=155, errors=90))
    service = {s.track for s in scores if s.attributes == {}}
    per_route = {s.track for s in scores if s.attributes}
    assert service and all(engine.watched(name) for name in service)
    elevated = {name for name in per_route if engine.tracks[name].alerter.elevated}
    assert elevated, "the burst of 500s lifts the checkout 500 track"
    assert {name for name in per_route if engine.watched(name)} == elevated
    assert len(elevated) < len(per_route), "a quiet route is on the scores topic only"
    assert not engine.watched("no such track")


def test_a_rate_across_a_counter_reset_is_not_scored_and_its_mean_is():
    rng = np.random.default_rng(7)
    exports = [export(i, rng) for i in range(121)]
    restart = exports.pop()
    # the service restarted: every counter starts again, a short first interval
    for point in restart:
        point["reset"] = True
        point["interval_start_unix_nano"] = point["time_unix_nano"] - 1_000_000_000
    engine = DetectEngine()
    run(engine, exports)
    t = restart[0]["time_unix_nano"] / 1e9
    for point in restart:
        assert engine.add(point, now=t) is PointOutcome.ACCEPTED
    closed = engine.close(now=t, force=True)
    assert closed.scores and {s.signal for s in closed.scores} == {"mean", "error_percent"}, (
        "no rate across the restart; a mean and a ratio do not depend on the interval"
    )
    assert closed.resets == len(restart)
    assert not [a for a in closed.alerts if a.labels.get("signal") == "rate"]


def test_a_burst_of_errors_that_leaves_the_rate_alone_alerts_on_the_error_percentage():
    rng = np.random.default_rng(7)
    exports = []
    for i in range(200):
        points = export(i, rng)
        if (
            i >= 190
        ):  # a fault turns half of checkout's answers into 500s: as many requests as before
            ok, bad = points[0], points[3]
            failed = ok["count"] // 2
            ok["count"] -= failed
            bad["count"] = failed
        exports.append(points)
    scores, alerts = run(DetectEngine(), exports)
    ratio = [s for s in scores if s.signal == "error_percent"]
    assert ratio and max(s.value for s in ratio[:190]) == 0.0
    assert max(s.score for s in ratio[190:]) > 0.5
    firing = [a for a in alerts if a.status == "firing" and a.labels["signal"] == "error_percent"]
    assert firing and firing[0].labels["service"] == "demo"
    assert "http.response.status_code=500" in firing[0].annotations["attribution"]


def _fleet_records(resources: int, series: int, exports: int) -> list[list[dict]]:
    """Synthetic exports decoded to ``aiops.points/v2`` records, as the decode agent writes them."""
    from aiops.bench.synthetic import synthetic_exports
    from aiops.decode.delta_columns import DeltaState
    from aiops.decode.payload_v2 import decode_payload_v2
    from aiops.decode.points_v2 import decode, encode

    states: dict[str, DeltaState] = {}
    rounds = []
    for payloads in synthetic_exports(resources, series, exports, seed=3):
        records = []
        for payload in payloads:
            out = decode_payload_v2(payload, lambda key: states.setdefault(key, DeltaState()))
            records.extend(decode(encode(r.record)) for r in out.records)
        rounds.append(records)
    return rounds


def test_records_in_columns_score_exactly_as_their_points_one_by_one():
    """``add_record`` (columns, plans cached per shape) is ``add`` of every v1 point of the record."""
    from aiops.decode.points_v2 import expand_v1

    policy = {"default": {"alert": True, "min_history": 5}}
    by_record = DetectEngine(policies=AlertPolicies.from_mapping(policy))
    by_point = DetectEngine(policies=AlertPolicies.from_mapping(policy))
    rounds = _fleet_records(resources=3, series=40, exports=40)
    rounds[25][0]["points"]["value"][-1] *= 1000  # one gauge jumps: an alert on both sides
    seen = {"scores": 0, "alerts": 0}
    for i, records in enumerate(rounds):
        now = T0 + 10 * i
        for record in records:
            outcomes = by_record.add_record(record, now)
            assert outcomes[PointOutcome.ACCEPTED] == len(record["points"]["series_id"])
            for point in expand_v1(record):
                by_point.add(point, now)
        a, b = by_record.close(now, force=True), by_point.close(now, force=True)
        assert [s.track for s in a.scores] == [s.track for s in b.scores]
        np.testing.assert_array_equal(
            [(s.time_unix_nano, s.value, s.score) for s in a.scores],
            [(s.time_unix_nano, s.value, s.score) for s in b.scores],
        )
        assert [x.model_dump() for x in a.alerts] == [x.model_dump() for x in b.alerts]
        assert (a.resets, a.replayed, a.skipped) == (b.resets, b.replayed, b.skipped)
        records = a.records()
        assert records == scores_records(b.scores)
        assert [x for r in records.values() for x in scores_of(r)] == [
            s.as_record() for s in b.scores
        ], "a v3 record gives back every score exactly"
        seen["scores"] += len(a.scores)
        seen["alerts"] += len(a.alerts)
    assert seen["scores"] > 3 * 40 * 39 and seen["alerts"] >= 1


def test_a_record_late_or_without_signals_is_counted_not_queued():
    engine = DetectEngine()
    (first, *_), (second, *_) = _fleet_records(resources=1, series=8, exports=2)
    assert engine.add_record(second, now=0.0)[PointOutcome.ACCEPTED] == 8
    engine.close(now=0.0, force=True)
    assert engine.add_record(first, now=0.0) == {PointOutcome.LATE: 8}
    assert engine.add_record("junk", now=0.0) == {PointOutcome.UNSCORABLE: 1}
    assert engine.close(now=0.0, force=True).scores == []


def test_exports_closer_than_the_group_window_are_each_scored_and_none_is_overwritten():
    engine = DetectEngine()
    for i, value in enumerate([1.0, 2.0, 3.0]):
        t = T0 + 0.2 * i
        engine.add(gauge("a", value, t), now=t)
        engine.add(gauge("b", value, t + 0.001), now=t)
    closed = engine.close(now=T0 + 0.4)
    assert [(s.metric, s.value) for s in closed.scores] == [
        ("a", 1.0),
        ("b", 1.0),
        ("a", 2.0),
        ("b", 2.0),
    ], "the two exports a later one has followed are scored, the newest waits"
    assert [s.value for s in engine.close(now=T0 + 60).scores] == [3.0, 3.0]


def test_records_closer_than_the_group_window_are_each_scored():
    """The same rule for v2 records: a record whose series are in the open group starts the next one."""
    engine = DetectEngine()
    shifted = []
    for i, base in enumerate(_fleet_records(resources=1, series=8, exports=4)[1:]):
        (record,) = base
        times = record["points"]["time_unix_nano"]
        record["points"]["time_unix_nano"] = [times[0] + int(0.2e9) * i - 10 * 10**9 * i] * len(
            times
        )
        record["points"]["interval_start_unix_nano"] = [
            t - int(0.2e9) for t in record["points"]["time_unix_nano"]
        ]
        shifted.append(record)
    now = shifted[0]["points"]["time_unix_nano"][0] / 1e9
    for record in shifted:
        assert engine.add_record(record, now)[PointOutcome.ACCEPTED] == 8
    closed = engine.close(now=now)
    times = sorted({s.time_unix_nano for s in closed.scores})
    assert len(times) == 2, "two exports 0.2 s apart are followed by a later one: both scored"
    assert len(engine.close(now=now + 60).scores) > 0, "the newest waits for the quiet timer"


def test_a_redelivered_export_joins_its_group_and_is_scored_once():
    """The same record again (a restarted decode agent re-sends what it had not committed) is no new export."""
    engine = DetectEngine()
    (first,), (second,) = _fleet_records(resources=1, series=8, exports=3)[1:]
    now = first["points"]["time_unix_nano"][0] / 1e9
    engine.add_record(first, now)
    engine.add_record(first, now)
    assert engine.close(now=now).scores == [], "no later export yet: the group waits"
    engine.add_record(second, now)
    closed = engine.close(now=now)
    assert {s.time_unix_nano for s in closed.scores} == {first["points"]["time_unix_nano"][0]}
    assert len(closed.scores) == len({s.track for s in closed.scores}), "each track scored once"


def _error_percent_run(step_values: list[float]):
    """A flat-zero percentage for 350 points, then ``step_values``, under a policy that waits for two points."""
    engine = DetectEngine(
        policies=AlertPolicies.from_mapping(
            {"default": {"alert": True, "min_points": 2, "min_history": 300}}
        )
    )
    fired, withheld = [], 0
    for i, value in enumerate([0.0] * 350 + step_values):
        t = T0 + STEP * i
        engine.add(gauge("errors.percent", value, t), now=t)
        closed = engine.close(now=t, force=True)
        withheld += closed.withheld
        fired += [i for a in closed.alerts if a.status == "firing"]
    return fired, withheld


def test_a_noisy_step_is_not_learnt_before_it_fires_so_two_points_in_a_row_can_confirm_it():
    # 25% errors of 12 requests an export: a new level that scores as news for one point once learnt
    rng = np.random.default_rng(5)
    noisy = [100.0 * rng.binomial(12, 0.25) / 12 for _ in range(50)]
    fired, _ = _error_percent_run(noisy)
    assert fired == [351], "the step's second point confirms it against the time before"


def test_a_one_point_blip_neither_alerts_nor_is_learnt():
    fired, withheld = _error_percent_run([40.0] + [0.0] * 49)
    assert fired == [] and withheld == 1


def test_an_export_sent_again_while_its_group_is_open_is_scored_once():
    def exports(again: bool):
        rng = np.random.default_rng(3)
        for step in range(60):
            points = [gauge(m, 5.0 + rng.normal(), T0 + STEP * step) for m in ("a", "b")]
            yield points + (points if again and step % 7 == 3 else [])

    def scores(again: bool):
        engine = DetectEngine()
        out = {}
        for points in exports(again):
            for point in points:
                engine.add(point, now=0.0)
        for s in engine.close(now=0.0, force=True).scores:
            assert (s.track, s.time_unix_nano) not in out, "scored twice"
            out[(s.track, s.time_unix_nano)] = s.score
        return out

    assert scores(again=True) == scores(again=False)


def _stream_engine(**policy) -> DetectEngine:
    """An engine under the stream's default alert policy (``Settings().detect_alert_policy``), with ``policy`` changes."""
    default = Settings().detect_alert_policy
    return DetectEngine(
        policies=AlertPolicies.from_mapping({"default": {**default["default"], **policy}})
    )


def _service_events(alerts, signal: str) -> list[tuple[str, int]]:
    """``(status, export)`` of the service-level alerts on ``signal``: firing at startsAt, resolved at endsAt."""
    return [
        (
            a.status,
            round(((a.endsAt if a.status == "resolved" else a.startsAt).timestamp() - T0) / STEP),
        )
        for a in alerts
        if a.labels["signal"] == signal and "http_route" not in a.labels
    ]


@pytest.mark.parametrize(
    ("fault", "signal"), [({"errors": 10}, "error_percent"), ({"slow": 3.0}, "mean")]
)
def test_a_long_incident_keeps_its_score_and_its_alert_until_it_ends(fault, signal):
    """60 exports of 14% errors (or 3x latency on one route), then back: one episode, the incident's length.

    Before: learning resumed at the full rate once the alert fired, so the
    incident was learnt as the new normal; the alert resolved within a few
    exports while the errors went on, and the return paged again.
    """
    rng = np.random.default_rng(7)
    exports = [export(i, rng, **(fault if 350 <= i < 410 else {})) for i in range(470)]
    scores, alerts = run(_stream_engine(), exports)
    assert _service_events(alerts, signal) == [("firing", 350), ("resolved", 411)]
    during = [
        s.score
        for s in scores
        if s.signal == signal
        and not s.attributes
        and 351 <= (s.time_unix_nano / 1e9 - T0) / STEP < 410
    ]
    # every point stays above the clear threshold (0.3, so the alert stays open), most above 0.5
    assert len(during) == 59 and min(during) >= 0.3 and float(np.median(during)) >= 0.5


@pytest.mark.parametrize("size", [0.3, 3.0, 3e3, 3e6])
def test_a_lasting_level_step_alerts_once_and_is_learnt_within_the_policys_bound(size):
    """A step of ``size`` on a quiet gauge (noise 0.01) that never goes back: one episode, resolved at its point 122.

    The bound is the stream's default policy: learnt after ``learn_after`` (120)
    points, resolved after ``clear_points`` (2) more points below the clear
    threshold, whatever the step's size.
    """
    policy = Settings().detect_alert_policy["default"]
    engine = _stream_engine(alert=True)
    rng = np.random.default_rng(1)
    values = 10.0 + 0.01 * rng.standard_normal(950)
    values[350:] += size
    events = []
    for i, value in enumerate(values.tolist()):
        t = T0 + STEP * i
        engine.add(gauge("queue.depth", value, t), now=t)
        events += [(a.status, i) for a in engine.close(now=t, force=True).alerts]
    bound = 350 + policy["learn_after"] + policy["clear_points"] - 1
    assert events == [("firing", 351), ("resolved", bound)]
