"""Application performance: latency distribution, latency by route, throughput, errors by status code, CPU and memory.

The request panels read the demo service's OTel HTTP server histogram
(``http_server_request_duration_seconds_{bucket,count,sum}``, labels
``service_name``, ``http_route``, ``http_response_status_code``,
``http_request_method``). The CPU and memory panels read the process metrics
of opentelemetry-instrumentation-system-metrics
(``process_cpu_time_seconds_total{type}``, ``process_memory_usage_bytes``),
per instance (``service.instance.id``).

>>> [p.title for p in panels()][:2]
['Request rate', 'Error ratio (5xx)']
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import heatmap as heatmap_builder
from grafana_foundation_sdk.builders import piechart as piechart_builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import prometheus as prometheus_model

from aiops.dashboards.defaults import (
    HTTP_METRIC,
    PROMETHEUS,
    RATE,
    dashboard,
    prom,
    route_variable,
    service_variable,
    stat,
    thresholds,
    timeseries,
)

__all__ = ["UID", "build", "panels"]

UID = "aiops-app-performance"

_SEL = 'service_name="$service", http_route=~"$route"'


def request_rate():
    return (
        stat(
            "Request rate",
            "All requests per second to the selected routes: the baseline for capacity and for reading the ratios.",
            "reqps",
        )
        .thresholds(thresholds((None, "blue")))
        .with_target(prom(f"sum(rate({HTTP_METRIC}_count{{{_SEL}}}[{RATE}]))", "requests/s"))
    )


def error_ratio():
    return (
        stat(
            "Error ratio (5xx)",
            "Share of answers with a 5xx status over the rate window. Under 0.1% is healthy; above 1% something is broken.",
            "percentunit",
        )
        .thresholds(thresholds((None, "green"), (0.001, "yellow"), (0.01, "red")))
        .with_target(
            prom(
                f'sum(rate({HTTP_METRIC}_count{{{_SEL}, http_response_status_code=~"5.."}}[{RATE}]) or vector(0))'
                f" / sum(rate({HTTP_METRIC}_count{{{_SEL}}}[{RATE}]))",
                "5xx ratio",
            )
        )
    )


def p95_latency():
    return (
        stat(
            "Latency p95",
            "95th percentile of request duration over all selected routes. Green under 200 ms (the latency SLO's threshold).",
            "s",
        )
        .thresholds(thresholds((None, "green"), (0.2, "yellow"), (0.5, "red")))
        .with_target(
            prom(
                f"histogram_quantile(0.95, sum by (le) (rate({HTTP_METRIC}_bucket{{{_SEL}}}[{RATE}])))",
                "p95",
            )
        )
    )


def status_code_distribution():
    return (
        piechart_builder.Panel()
        .title("Status code distribution")
        .description(
            "Share of answers by HTTP status code over the dashboard's time range. Healthy is almost all 2xx."
        )
        .unit("short")
        .datasource(PROMETHEUS)
        .height(8)
        .span(6)
        .with_target(
            prom(
                f"sum by (http_response_status_code) (increase({HTTP_METRIC}_count{{{_SEL}}}[$__range]))",
                "{{http_response_status_code}}",
                instant=True,
            )
        )
    )


def latency_heatmap():
    return (
        heatmap_builder.Panel()
        .title("Latency distribution")
        .description(
            "Requests per second in each latency bucket over time (the histogram's buckets, not estimates). "
            "Look for a second band (bimodal latency) or a long tail creeping up."
        )
        .unit("reqps")
        .datasource(PROMETHEUS)
        .height(8)
        .span(12)
        .calculate(False)
        .y_axis(heatmap_builder.YAxisConfig().unit("s"))
        .color(heatmap_builder.HeatmapColorOptions().scheme("Oranges").steps(64))
        .with_target(
            prom(f"sum by (le) (rate({HTTP_METRIC}_bucket{{{_SEL}}}[{RATE}]))", "{{le}}").format(
                prometheus_model.PromQueryFormat.HEATMAP
            )
        )
    )


def _quantile(q: float, ref_id: str):
    return prom(
        f"histogram_quantile({q}, sum by (le, http_route) (rate({HTTP_METRIC}_bucket{{{_SEL}}}[{RATE}])))",
        f"p{round(q * 100)} {{{{http_route}}}}",
        ref_id,
    )


def latency_by_route():
    return (
        timeseries(
            "Latency p50 / p95 / p99 by route",
            "Request duration percentiles per route, estimated from the histogram buckets (histogram_quantile). "
            "A p99 far above p50 is a tail problem; one route above the others is the slow endpoint.",
            "s",
        )
        .with_target(_quantile(0.5, "A"))
        .with_target(_quantile(0.95, "B"))
        .with_target(_quantile(0.99, "C"))
    )


def throughput_by_route():
    return timeseries(
        "Throughput by route",
        "Requests per second per route and method: which endpoints carry the traffic.",
        "reqps",
    ).with_target(
        prom(
            f"sum by (http_route, http_request_method) (rate({HTTP_METRIC}_count{{{_SEL}}}[{RATE}]))",
            "{{http_request_method}} {{http_route}}",
        )
    )


def errors_by_status_code():
    return (
        timeseries(
            "Errors by status code",
            "Requests per second answered with a 4xx or 5xx status, per code and route. 4xx are the callers' errors, "
            "5xx the service's own (these spend the availability budget).",
            "reqps",
        )
        .draw_style(common.GraphDrawStyle.BARS)
        .with_target(
            prom(
                f"sum by (http_response_status_code, http_route) "
                f'(rate({HTTP_METRIC}_count{{{_SEL}, http_response_status_code=~"[45].."}}[{RATE}]))',
                "{{http_response_status_code}} {{http_route}}",
            )
        )
    )


def cpu_usage():
    return timeseries(
        "CPU",
        "CPU time the service's process uses per second of wall time, per instance and mode (user, system): "
        "100% is one full core. A rise without more traffic means each request costs more (a hot loop, GC).",
        "percentunit",
    ).with_target(
        prom(
            f'sum by (instance, type) (rate(process_cpu_time_seconds_total{{service_name="$service"}}[{RATE}]))',
            "{{instance}} {{type}}",
        )
    )


def memory_usage():
    return timeseries(
        "Memory",
        "Resident memory of the service's process, per instance. A steady climb that never levels off is a leak; "
        "compare with the container's memory limit.",
        "bytes",
    ).with_target(
        prom(
            'sum by (instance) (process_memory_usage_bytes{service_name="$service"})',
            "{{instance}}",
        )
    )


def _builders():
    return [
        request_rate(),
        error_ratio(),
        p95_latency(),
        status_code_distribution(),
        latency_heatmap(),
        latency_by_route(),
        throughput_by_route(),
        errors_by_status_code(),
        cpu_usage(),
        memory_usage(),
    ]


def panels():
    """The panels in layout order (built)."""
    return [p.build() for p in _builders()]


def build() -> dashboard_builder.Dashboard:
    """The application performance dashboard, with ``$service`` and ``$route``."""
    board = (
        dashboard(
            UID,
            "aiops / Application performance",
            "Latency distribution and percentiles, throughput, errors, CPU and memory of the instrumented service.",
            ["app"],
        )
        .with_variable(service_variable())
        .with_variable(route_variable())
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
