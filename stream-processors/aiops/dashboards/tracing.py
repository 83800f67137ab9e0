"""Tracing: a Tempo search for error traces, and request rate and latency by service.

The trace search panel queries the Tempo datasource (TraceQL ``{status=error}``);
the others read the HTTP server histogram by ``service_name`` and the
collector's span counters from Prometheus.

>>> [p.title for p in panels()][0]
'Error traces'
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import tempo as tempo_builder

from aiops.dashboards.defaults import HTTP_METRIC, RATE, TEMPO, dashboard, prom, table, timeseries

__all__ = ["ERROR_TRACES_QUERY", "UID", "build", "panels"]

UID = "aiops-tracing"

ERROR_TRACES_QUERY = "{status=error}"


def error_traces():
    return (
        table(
            "Error traces",
            "The latest traces with an error span (TraceQL {status=error}) from Tempo. Click a trace id to open its span "
            "timeline: the red span is where the request failed; long spans are where the time went.",
            "short",
        )
        .datasource(TEMPO)
        .with_target(
            tempo_builder.TempoQuery()
            .ref_id("A")
            .datasource(TEMPO)
            .query_type("traceql")
            .query(ERROR_TRACES_QUERY)
            .limit(20)
        )
    )


def request_rate_by_service():
    return timeseries(
        "Request rate by service",
        "Requests per second each instrumented service serves (from its HTTP server histogram): the load on each.",
        "reqps",
    ).with_target(
        prom(f"sum by (service_name) (rate({HTTP_METRIC}_count[{RATE}]))", "{{service_name}}")
    )


def _latency(q: float, ref_id: str):
    return prom(
        f"histogram_quantile({q}, sum by (le, service_name) (rate({HTTP_METRIC}_bucket[{RATE}])))",
        f"p{round(q * 100)} {{{{service_name}}}}",
        ref_id,
    )


def latency_by_service():
    return (
        timeseries(
            "Latency p50 / p95 / p99 by service",
            "Request duration percentiles per service from the histogram buckets. The slow service is the one to open in "
            "the trace search.",
            "s",
        )
        .with_target(_latency(0.5, "A"))
        .with_target(_latency(0.95, "B"))
        .with_target(_latency(0.99, "C"))
    )


def spans_received():
    return (
        timeseries(
            "Span volume",
            "Spans per second the collector receives, and sends per exporter (Tempo, Kafka). Received without sent means "
            "traces are lost between the collector and Tempo.",
            "ops",
            width=24,
        )
        .with_target(
            prom(
                f'sum(rate(otelcol_receiver_accepted_spans{{job="otel-collector-self"}}[{RATE}]))',
                "received",
                "A",
            )
        )
        .with_target(
            prom(
                f'sum by (exporter) (rate(otelcol_exporter_sent_spans{{job="otel-collector-self"}}[{RATE}]))',
                "sent {{exporter}}",
                "B",
            )
        )
    )


def _builders():
    return [error_traces(), request_rate_by_service(), latency_by_service(), spans_received()]


def panels():
    """The panels in layout order (built)."""
    return [p.build() for p in _builders()]


def build() -> dashboard_builder.Dashboard:
    """The tracing dashboard."""
    board = dashboard(
        UID,
        "aiops / Tracing",
        "Error traces from Tempo, and request rate and latency by service.",
        ["tracing"],
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
