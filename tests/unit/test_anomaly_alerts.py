"""The anomaly alert state machine on hand-made score sequences, and the AlertV1 events it builds."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

import pytest

from aiops.anomaly.alert_policy import (
    AlertPolicies,
    AlertPolicy,
    AnomalyAlerter,
    Transition,
    anomaly_alert,
    anomaly_annotations,
    anomaly_labels,
    run_alerts,
)
from aiops.schemas.alerts import AlertV1


def _kinds(scores, policy, step=60.0):
    events = run_alerts([i * step for i in range(len(scores))], scores, policy)
    return [(e.kind, int(e.at // step)) for e in events]


def test_flapping_around_the_threshold_is_held_by_hysteresis():
    flapping = [0.1, 0.55, 0.45, 0.6, 0.4, 0.52, 0.35, 0.58, 0.1, 0.0]
    assert _kinds(flapping, AlertPolicy(threshold=0.5, clear_threshold=0.3, quiet_points=0)) == [
        ("firing", 1),
        ("resolved", 8),
    ]
    # without hysteresis the same scores flap: this is what the clear threshold prevents
    no_hysteresis = _kinds(
        flapping, AlertPolicy(threshold=0.5, clear_threshold=0.5, quiet_points=0)
    )
    assert [kind for kind, _ in no_hysteresis].count("firing") == 4


def test_short_blips_are_ignored_by_the_minimum_duration():
    policy = AlertPolicy(min_points=3, quiet_points=0)
    assert _kinds([0.0, 0.9, 0.0, 0.8, 0.9, 0.0, 0.0], policy) == []
    events = run_alerts([0, 60, 120, 180, 240, 300], [0.0, 0.9, 0.8, 0.7, 0.2, 0.1], policy)
    assert [(e.kind, e.at, e.since) for e in events] == [("firing", 180, 60), ("resolved", 240, 60)]


def test_minimum_duration_in_seconds():
    policy = AlertPolicy(min_seconds=120, quiet_points=0)
    events = run_alerts([0, 60, 120, 180, 240], [0.0, 0.9, 0.9, 0.9, 0.0], policy)
    assert [(e.kind, e.at, e.since) for e in events] == [("firing", 180, 60), ("resolved", 240, 60)]
    # an irregular gap counts by the clock, not by points
    events = run_alerts([0, 60, 600, 660], [0.0, 0.9, 0.9, 0.0], policy)
    assert [(e.kind, e.at) for e in events] == [("firing", 600), ("resolved", 660)]


def test_refire_is_suppressed_during_the_quiet_period():
    policy = AlertPolicy(quiet_points=5)
    scores = [0.9, 0.1, 0.0, 0.9, 0.1, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0]
    # resolved at point 1; the blip at 3 is inside the quiet period (points 2 to 6); the one at 7 is not
    assert _kinds(scores, policy) == [
        ("firing", 0),
        ("resolved", 1),
        ("firing", 7),
        ("resolved", 8),
    ]


def test_a_lasting_anomaly_fires_when_the_quiet_period_ends():
    policy = AlertPolicy(quiet_points=3)
    scores = [0.9, 0.0, 0.9, 0.9, 0.9, 0.9, 0.0]
    events = run_alerts([float(i) for i in range(len(scores))], scores, policy)
    # resolved at point 1; points 2, 3 and 4 are quiet; the anomaly that started at 2 fires at 5
    assert [(e.kind, e.at, e.since) for e in events] == [
        ("firing", 0.0, 0.0),
        ("resolved", 1.0, 0.0),
        ("firing", 5.0, 2.0),
        ("resolved", 6.0, 2.0),
    ]


def test_quiet_period_in_seconds():
    policy = AlertPolicy(quiet_points=0, quiet_seconds=300)
    events = run_alerts([0, 60, 120, 420, 480], [0.9, 0.0, 0.9, 0.9, 0.0], policy)
    assert [(e.kind, e.at) for e in events] == [
        ("firing", 0),
        ("resolved", 60),
        ("firing", 420),
        ("resolved", 480),
    ]


def test_resolve_carries_the_episode_peak_with_expected_and_actual_at_the_peak():
    alerter = AnomalyAlerter(AlertPolicy())
    points = [
        (0.0, 0.1, 100.0, (100.0, 5.0)),
        (60.0, 0.6, 130.0, (100.0, 5.0)),
        (120.0, 0.9, 160.0, (101.0, 5.0)),
        (180.0, 0.4, 110.0, (102.0, 6.0)),
        (240.0, 0.2, 101.0, (103.0, 6.0)),
    ]
    events = [e for t, s, x, exp in points if (e := alerter.update(t, s, x, exp)) is not None]
    firing, resolved = events
    assert (firing.kind, firing.since, firing.peak_score, firing.actual, firing.expected) == (
        "firing",
        60.0,
        0.6,
        130.0,
        100.0,
    )
    assert (resolved.kind, resolved.at, resolved.since) == ("resolved", 240.0, 60.0)
    assert (
        resolved.peak_score,
        resolved.peak_at,
        resolved.actual,
        resolved.expected,
        resolved.sigma,
    ) == (0.9, 120.0, 160.0, 101.0, 5.0)
    assert not alerter.firing


def test_missing_scores_change_nothing():
    policy = AlertPolicy(min_points=2)
    assert _kinds([0.9, math.nan, 0.9, 0.0], policy) == [("firing", 2), ("resolved", 3)]
    assert _kinds([math.nan] * 5, policy) == []


def test_state_survives_a_pickle_round_trip_mid_episode():
    alerter = AnomalyAlerter(AlertPolicy(min_points=2))
    alerter.update(0.0, 0.9)
    restored = pickle.loads(pickle.dumps(alerter))
    assert restored.update(60.0, 0.9).kind == "firing"
    assert restored.update(120.0, 0.0).kind == "resolved"


@pytest.mark.parametrize(
    "changes", [{"threshold": 0.2}, {"min_points": 0}, {"quiet_seconds": -1}, {"severity": ""}]
)
def test_bad_policies_are_refused(changes):
    with pytest.raises(ValueError):
        AlertPolicy(**{"threshold": 0.5, "clear_threshold": 0.3, **changes})


def test_per_metric_policies_first_matching_pattern_wins():
    policies = AlertPolicies.from_mapping(
        {
            "default": {"threshold": 0.6},
            "overrides": {
                "http.server.*": {"min_points": 3, "severity": "page"},
                "http.*": {"min_points": 5},
            },
        }
    )
    assert policies.for_metric("http.server.request.duration") == AlertPolicy(
        threshold=0.6, min_points=3, severity="page", alert=True
    )
    assert policies.for_metric("http.client.duration").min_points == 5
    assert policies.for_metric("queue.depth") == AlertPolicy(threshold=0.6, alert=False)
    assert AlertPolicies().for_metric("anything") == AlertPolicy(alert=False)
    with pytest.raises(ValueError, match=r"overrides\['x'\]: unknown field\(s\) treshold"):
        AlertPolicies.from_mapping({"overrides": {"x": {"treshold": 0.4}}})


def _episode():
    firing = Transition(
        "firing", 1_800_000_060.0, 1_800_000_000.0, 0.82, 1_800_000_060.0, 310.0, 120.0, 8.0, 0.5, 2
    )
    resolved = Transition(
        "resolved",
        1_800_000_600.0,
        1_800_000_000.0,
        0.95,
        1_800_000_120.0,
        400.0,
        121.0,
        8.0,
        0.5,
        9,
    )
    return firing, resolved


def test_labels_identify_the_series_and_never_lose_the_required_ones():
    labels = anomaly_labels(
        "http.server.request.duration",
        {"service.name": "demo", "http.route": "/pay", "alertname": "x", "2xx": "a"},
        "page",
    )
    assert labels == {
        "alertname": "AnomalyDetected",
        "severity": "page",
        "metric": "http.server.request.duration",
        "service": "demo",
        "http_route": "/pay",
        "_2xx": "a",
    }


def test_annotations_explain_expected_versus_actual_score_threshold_and_since():
    firing, _ = _episode()
    annotations = anomaly_annotations(firing, "http.server.request.duration", "demo")
    assert (
        annotations["summary"] == "http.server.request.duration of demo is above its expected range"
    )
    description = annotations["description"]
    for part in (
        "got 310",
        "expected 120 ± 8",
        "23.8 sigmas above",
        "peak score 0.82",
        "threshold 0.5",
        "since 2027-01-15T08:00:00Z",
    ):
        assert part in description
    assert (annotations["score"], annotations["threshold"], annotations["actual"]) == (
        "0.820",
        "0.5",
        "310",
    )
    with_attribution = anomaly_annotations(
        firing, "m", attribution="http.route=/pay share 12% → 61%"
    )
    assert with_attribution["attribution"].startswith("http.route")
    assert with_attribution["description"].endswith("Moved most: http.route=/pay share 12% → 61%.")


def test_alert_events_are_valid_alertv1_with_one_id_per_episode():
    firing, resolved = _episode()
    attributes = {"service.name": "demo", "http.route": "/pay"}
    fired = anomaly_alert(firing, "latency", attributes, "http://grafana/d/x")
    ended = anomaly_alert(resolved, "latency", attributes, "http://grafana/d/x", firing=fired)
    for event in (fired, ended):
        AlertV1.model_validate_json(event.model_dump_json(by_alias=True))
    assert (fired.status, ended.status, fired.id == ended.id) == ("firing", "resolved", True)
    assert fired.labels["severity"] == "warning" and fired.labels["alertname"] == "AnomalyDetected"
    assert fired.startsAt.timestamp() == firing.since and ended.endsAt.timestamp() == resolved.at
    assert (
        "was anomalous" in ended.annotations["description"]
        and ended.annotations["score"] == "0.950"
    )
    with pytest.raises(ValueError, match="firing event"):
        anomaly_alert(resolved, "latency", attributes)


def test_the_alert_core_imports_no_kafka_or_faust():
    code = (
        "import sys, aiops.anomaly.alert_policy; "
        "bad = [m for m in ('faust', 'confluent_kafka', 'fastapi', 'aiokafka') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("mapping", "metric", "alerts"),
    [
        ({}, "http.server.request.duration", True),
        ({}, "rpc.server.duration", True),
        ({}, "http.server.active_requests", False),
        ({}, "process.cpu.time", False),
        ({"default": {"alert": True}}, "process.cpu.time", True),
        ({"overrides": {"http.server.*": {"alert": False}}}, "http.server.request.duration", False),
        ({"overrides": {"http.server.*": {"min_points": 3}}}, "http.server.request.duration", True),
        ({"overrides": {"queue.*": {"alert": True}}}, "queue.depth", True),
    ],
)
def test_by_default_only_the_request_metrics_alert(mapping, metric, alerts):
    assert AlertPolicies.from_mapping(mapping).for_metric(metric).alert is alerts


def test_no_alert_before_min_history_points_were_scored():
    policy = AlertPolicy(min_history=3)
    alerter = AnomalyAlerter(policy)
    events = [alerter.update(float(t), score) for t, score in enumerate([0.9, 0.9, 0.9, 0.9, 0.1])]
    assert [e.kind if e else None for e in events] == [None, None, None, "firing", "resolved"]
    with pytest.raises(ValueError, match="min_history"):
        AlertPolicy(min_history=-1)


def test_a_dip_then_a_catch_up_is_no_lasting_change_but_two_points_on_one_side_are():
    alerter = AnomalyAlerter(AlertPolicy(min_points=2))
    expected = (12.0, 1.0)
    dip, surge, surge_again = (
        alerter.update(t, 0.9, actual, expected)
        for t, actual in ((0.0, 2.0), (1.0, 22.0), (2.0, 21.0))
    )
    assert dip is None and surge is None, "the other side starts a new run"
    assert surge_again.kind == "firing" and surge_again.since == 1.0
