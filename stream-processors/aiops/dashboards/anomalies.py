"""Anomalies: the detect agent's online scores per track, expected versus actual, and its own state.

Metrics (see ``aiops/stream/metrics.py``): ``aiops_anomaly_score`` (in [0, 1]
per track: ``series`` and ``signal`` rate, mean or value), ``aiops_anomaly_actual``
and ``aiops_anomaly_expected``, ``aiops_detect_tracks`` and
``aiops_detect_points_total``. Service-level tracks have ``{}`` as their
point attributes in ``series``.

>>> [p.title for p in panels()][0]
'Anomaly score per series'
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder

from aiops.dashboards.defaults import PROMETHEUS, dashboard, prom, table, thresholds, timeseries

__all__ = ["UID", "build", "panels"]

UID = "aiops-anomalies"

ALERT_THRESHOLD = 0.5
"""The default anomaly alert threshold (``AlertPolicy.threshold``); an episode resolves below 0.3."""

_SCORE_COLOURS = thresholds((None, "green"), (0.3, "orange"), (ALERT_THRESHOLD, "red"))
_SERVICE_LEVEL = 'series=~".*[{][}]@.*"'
"""Selects the service-level tracks (no point attributes) without regex escapes."""


def score_per_series():
    return (
        timeseries(
            "Anomaly score per series",
            "The detect agent's calibrated score per track (a series' rate, mean or value), in [0, 1]: the 10 "
            "highest now. 0.5 means a 1e-5 tail probability on the track's own history and fires an anomaly "
            "alert by default (red); the episode resolves below 0.3 (orange).",
            "percentunit",
            width=24,
        )
        .thresholds(_SCORE_COLOURS)
        .min(0)
        .max(1)
        .with_target(
            prom("topk(10, max by (series, signal) (aiops_anomaly_score))", "{{series}} {{signal}}")
        )
    )


def top_anomalies():
    return (
        table(
            "Most anomalous series (last 15m)",
            "Tracks ranked by their highest score over the last 15 minutes: where to look first.",
            "percentunit",
        )
        .thresholds(_SCORE_COLOURS)
        .with_target(
            prom(
                "topk(20, max by (series, signal) (max_over_time(aiops_anomaly_score[15m])))",
                "{{series}} {{signal}}",
                instant=True,
            )
        )
    )


def expected_versus_actual():
    return (
        timeseries(
            "Expected versus actual (service level)",
            "Per service and metric, the total request rate (rate) and mean latency (mean) as measured, and the "
            "Holt-Winters forecast the detector judged them by. A gap that opens is what the score measures.",
            "short",
            width=24,
        )
        .with_target(
            prom(
                f"max by (service, metric, signal) (aiops_anomaly_actual{{{_SERVICE_LEVEL}}})",
                "{{service}} {{metric}} {{signal}} actual",
            )
        )
        .with_target(
            prom(
                f"max by (service, metric, signal) (aiops_anomaly_expected{{{_SERVICE_LEVEL}}})",
                "{{service}} {{metric}} {{signal}} expected",
                ref_id="B",
            )
        )
    )


def detector_tracks():
    return timeseries(
        "Detector tracks",
        "Live tracks with detector state in each worker, against the cap AIOPS_DETECT_MAX_SERIES; at the cap, "
        "new series are skipped (see the next panel).",
        "short",
    ).with_target(prom("sum by (instance) (aiops_detect_tracks)", "{{instance}}"))


def detector_points():
    return timeseries(
        "Detector points by outcome",
        "Per second: points queued (accepted), track values scored, and those not scored: late (older than a "
        "scored export), replayed (after a restart), skipped (beyond the cap), unscorable.",
        "ops",
    ).with_target(
        prom("sum by (outcome) (rate(aiops_detect_points_total[$__rate_interval]))", "{{outcome}}")
    )


def _builders():
    return [
        score_per_series(),
        top_anomalies(),
        expected_versus_actual(),
        detector_tracks(),
        detector_points(),
    ]


def panels():
    """The panels in layout order (built)."""
    return [p.build() for p in _builders()]


def build() -> dashboard_builder.Dashboard:
    """The anomalies dashboard; scores above the alert threshold are annotations."""
    board = dashboard(
        UID,
        "aiops / Anomalies",
        "Online anomaly scores per series; annotations where a score crosses the alert threshold.",
        ["anomalies"],
    ).annotation(
        dashboard_builder.AnnotationQuery()
        .name("Score above the alert threshold")
        .datasource(PROMETHEUS)
        .enable(True)
        .icon_color("red")
        .expr(f"max by (series, signal) (aiops_anomaly_score) >= {ALERT_THRESHOLD}")
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
