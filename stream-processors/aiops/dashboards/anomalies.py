"""Anomalies: online anomaly scores per series (placeholders until ``aiops_anomaly_score`` is exported).

The detect agent will export ``aiops_anomaly_score`` (a score in [0, 1] per
series, higher is more anomalous). Until then these panels show "No data";
the e2e test lists them as waiting for that metric.

>>> [p.title for p in panels()][0]
'Anomaly score per series'
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder

from aiops.dashboards.defaults import PROMETHEUS, dashboard, prom, table, thresholds, timeseries

__all__ = ["UID", "build", "panels"]

UID = "aiops-anomalies"

_SCORE_COLOURS = thresholds((None, "green"), (0.8, "orange"), (0.95, "red"))


def score_per_series():
    return (
        timeseries(
            "Anomaly score per series",
            "The online detectors' combined score per series, in [0, 1] (aiops_anomaly_score): the 10 highest now. "
            "Above 0.8 is unusual, above 0.95 alerts. Red annotations mark scores above 0.95.",
            "percentunit",
            width=24,
        )
        .thresholds(_SCORE_COLOURS)
        .min(0)
        .max(1)
        .with_target(prom("topk(10, max by (series) (aiops_anomaly_score))", "{{series}}"))
    )


def top_anomalies():
    return (
        table(
            "Most anomalous series (last 15m)",
            "Series ranked by their highest score over the last 15 minutes: where to look first.",
            "percentunit",
        )
        .thresholds(_SCORE_COLOURS)
        .with_target(
            prom(
                "topk(20, max by (series) (max_over_time(aiops_anomaly_score[15m])))",
                "{{series}}",
                instant=True,
            )
        )
    )


def _builders():
    return [score_per_series(), top_anomalies()]


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
        .expr("max by (series) (aiops_anomaly_score) > 0.95")
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
