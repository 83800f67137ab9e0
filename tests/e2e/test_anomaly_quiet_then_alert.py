"""Anomaly alerts on the live demo stack: quiet under steady load, then an alert within five exports of a fault.

A stack of its own (ports shifted 1000 further than the session's) runs the
stream's default alert policy, with the demo's metric export interval scaled
from two seconds to ``EXPORT_MS``, so that ``STEADY_EXPORTS`` exports (20
minutes of traffic at the demo's two-second interval) pass in three minutes.
The scale is no smaller because a host stall does not shrink with it: on a
busy machine the demo or its load generator stalls for a few hundred
milliseconds now and then, and at 200 ms exports that is two anomalous
exports in a row (a real latency excursion, though of no service's making).
Every metric is scored; by default the request signals alert. Exports are
counted on the scores topic (the service's request-rate track has one score
per export), so a slow start or a busy machine lengthens the test instead of
shortening the steady phase.

Then every route answers 500 (a failing dependency; the request rate stays the
same) and an ``AnomalyDetected`` alert must fire on a request signal within
``ALERT_WITHIN_EXPORTS`` exports of the fault's start: its episode's first
point (``startsAt``) plus the points the policy waits for (``min_points``),
counted in exports, not in wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.conftest import PORT_OFFSET, e2e_settings

from aiops.anomaly.alert_policy import REQUEST_METRICS, AlertPolicies
from aiops.anomaly.engine import scores_of
from aiops.cli.tail import follow
from aiops.schemas.alerts import AlertV1
from aiops.settings import Settings
from aiops.stack.local import down, up

pytestmark = pytest.mark.e2e

EXPORT_MS = 300
STEADY_EXPORTS = 600
ALERT_WITHIN_EXPORTS = 5
LOAD_RPS = 60.0
REQUEST_METRIC = "http.server.request.duration"


@pytest.fixture(scope="module")
def anomaly_stack(tmp_path_factory) -> Iterator[Settings]:
    settings = e2e_settings(
        tmp_path_factory.mktemp("anomaly-stack"),
        port_offset=PORT_OFFSET + 1000,
        otlp_export_interval_ms=EXPORT_MS,
    )
    try:
        up(settings, print, with_load=True, load_rate=LOAD_RPS)
        yield settings
    finally:
        down(settings, print)


def _export_times(settings: Settings) -> Iterator[float]:
    """Epoch seconds of each export of the demo's requests: its service-level rate track's scored points."""
    for record in follow(settings, settings.topic_scores, from_beginning=True, idle_timeout_s=60):
        for score in scores_of(record.value):
            if (
                score["metric"] == REQUEST_METRIC
                and score["signal"] == "rate"
                and not score["attributes"]
                and score["service"] == "demo-service"
            ):
                yield score["time_unix_nano"] / 1e9


def _anomaly_alerts(settings: Settings) -> list[AlertV1]:
    """Every ``AnomalyDetected`` event on the alerts topic so far."""
    return [
        AlertV1.model_validate(record.value)
        for record in follow(
            settings,
            settings.topic_alerts,
            from_beginning=True,
            idle_timeout_s=3,
            keep=lambda r: (r.value or {}).get("labels", {}).get("alertname") == "AnomalyDetected",
        )
    ]


def test_steady_load_raises_no_anomaly_alert_then_an_error_burst_alerts_within_five_exports(
    anomaly_stack,
):
    settings = anomaly_stack
    policy = AlertPolicies.from_mapping(settings.detect_alert_policy).for_metric(REQUEST_METRIC)
    assert policy.alert and STEADY_EXPORTS >= 2 * policy.min_history, (
        "the steady phase must be mostly past the warm-up, or its quiet proves nothing"
    )

    exports = _export_times(settings)
    steady = [next(exports) for _ in range(STEADY_EXPORTS)]

    fault_at = time.time()
    httpx.post(
        f"{settings.demo_url}/faults", json={"route": "*", "error_rate": 1.0, "duration_s": 60}
    ).raise_for_status()
    try:
        firing: list[AlertV1] = []
        deadline = time.monotonic() + 60
        while not firing and time.monotonic() < deadline:
            firing = [
                a
                for a in _anomaly_alerts(settings)
                if a.status == "firing" and a.startsAt.timestamp() >= fault_at
            ]
    finally:
        httpx.delete(f"{settings.demo_url}/faults").raise_for_status()

    during_steady = [a for a in _anomaly_alerts(settings) if a.startsAt.timestamp() < fault_at]
    for alert in during_steady:
        print(alert.status, alert.labels, alert.annotations["description"])
    assert during_steady == [], "steady load must raise no anomaly alert (they are printed above)"
    assert len(set(steady)) == STEADY_EXPORTS, "each export is scored on its own"

    assert firing, "every route answering 500 must raise an anomaly alert"
    first = min(firing, key=lambda a: a.startsAt)
    assert first.labels["service"] == "demo-service" and first.labels["metric"] in REQUEST_METRICS
    after_fault = []
    for t in exports:
        if t > fault_at:
            after_fault.append(t)
        if t >= first.startsAt.timestamp():
            break
    exports_to_alert = len(after_fault) + policy.min_points - 1
    print(
        f"{len(steady)} steady exports over {steady[-1] - steady[0]:.0f}s without an anomaly alert; "
        f"{first.labels['signal']} of {first.labels['metric']} fired "
        f"{exports_to_alert} exports after the fault's start"
    )
    assert exports_to_alert <= ALERT_WITHIN_EXPORTS, (exports_to_alert, first.labels)
