"""SLO overview: per SLO the SLI, budget remaining, burn rate per window, time to exhaustion, firing alerts.

Built on the Sloth-named recording rules in ``storage/prometheus/rules/slos.yml``
(``slo:*`` series with ``sloth_service``, ``sloth_slo``, ``sloth_window`` labels),
which Prometheus evaluates now, and on the streaming evaluator's ``aiops_slo_*``
gauges (labels ``slo``, ``service``, ``window``). The rules compute ratios per
``http_route``; panels show the worst route (``max``), which is what pages.

>>> [p.title for p in panels()][:3]
['SLI (5m)', 'Error budget remaining (30d)', 'Current burn rate (5m)']
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder

from aiops.dashboards.defaults import (
    HTTP_METRIC,
    PROMETHEUS,
    RATE,
    dashboard,
    prom,
    service_variable,
    slo_variable,
    stat,
    thresholds,
    timeseries,
)
from aiops.slo.windows import window_regex

__all__ = ["UID", "build", "panels"]

UID = "aiops-slo-overview"

_SLOTH = 'sloth_service="$service", sloth_slo=~"$slo"'
_STREAM = 'service="$service", slo=~"$slo"'
_BUDGET_COLOURS = thresholds((None, "red"), (0.2, "yellow"), (0.5, "green"))
_BURN_COLOURS = thresholds((None, "green"), (1, "yellow"), (6, "orange"), (14.4, "red"))


def sli():
    return (
        stat(
            "SLI (5m)",
            "Share of good events over the last 5 minutes, per SLO, for the worst route (1 - slo:sli_error:ratio_rate5m). "
            "Compare it with the objective (99.9% availability, 99% latency in the demo spec): below it, the budget burns.",
            "percentunit",
        )
        .decimals(3)
        .thresholds(thresholds((None, "red"), (0.99, "yellow"), (0.999, "green")))
        .with_target(
            prom(
                f"1 - max by (sloth_slo) (slo:sli_error:ratio_rate5m{{{_SLOTH}}})", "{{sloth_slo}}"
            )
        )
    )


def budget_remaining():
    return (
        stat(
            "Error budget remaining (30d)",
            "Fraction of the SLO period's error budget still unspent (slo:period_error_budget_remaining:ratio), worst route. "
            "Green above 50%, yellow 20-50%, red below 20%; below 0 the SLO is already missed for the period.",
            "percentunit",
        )
        .thresholds(_BUDGET_COLOURS)
        .with_target(
            prom(
                f"min by (sloth_slo) (slo:period_error_budget_remaining:ratio{{{_SLOTH}}})",
                "{{sloth_slo}}",
            )
        )
    )


def current_burn_rate():
    return (
        stat(
            "Current burn rate (5m)",
            "How many times faster than sustainable the budget is being spent now (slo:current_burn_rate:ratio, 5m window). "
            "1 spends the budget exactly over the period; 6 pages as a ticket, 14.4 pages at once.",
            "x",
        )
        .thresholds(_BURN_COLOURS)
        .with_target(
            prom(f"max by (sloth_slo) (slo:current_burn_rate:ratio{{{_SLOTH}}})", "{{sloth_slo}}")
        )
    )


def time_to_exhaustion():
    return (
        stat(
            "Time to budget exhaustion",
            "Remaining budget divided by the current (5m) burn rate: when the period's budget is gone if nothing changes. "
            "Empty while nothing burns. Under 2 days is a page, under 5 days a ticket.",
            "s",
        )
        .thresholds(thresholds((None, "red"), (2 * 86400, "orange"), (5 * 86400, "green")))
        .with_target(
            prom(
                "min by (sloth_slo) ("
                f"clamp_min(slo:period_error_budget_remaining:ratio{{{_SLOTH}}}, 0)"
                f" * on (sloth_id) group_left () slo:time_period:days{{{_SLOTH}}} * 86400"
                f" / on (sloth_id, http_route) (slo:current_burn_rate:ratio{{{_SLOTH}}} > 0))",
                "{{sloth_slo}}",
            )
        )
    )


def firing_alerts():
    return (
        stat(
            "Firing SLO alerts",
            "Number of SLO burn-rate alerts firing in Prometheus for this service (ALERTS, from the generated Sloth alert rules). "
            "0 is healthy; details are in Alertmanager and on `aiops alerts tail`.",
            "short",
            width=8,
        )
        .thresholds(thresholds((None, "green"), (1, "red")))
        .with_target(prom(f'count(ALERTS{{alertstate="firing", {_SLOTH}}}) or vector(0)', "firing"))
    )


def burn_rate_by_window():
    return (
        timeseries(
            "Burn rate per window",
            "Error ratio over each alerting window divided by the error budget (1 - objective), per SLO and window. "
            "Multi-window alerts page when a long and a short window both exceed 14.4 (1h and 5m) or 6 (6h and 30m).",
            "x",
        )
        .thresholds(_BURN_COLOURS)
        .with_target(
            prom(
                f'max by (sloth_slo, sloth_window) ({{__name__=~"slo:sli_error:ratio_rate({window_regex()})", '
                f"{_SLOTH}}})"
                f" / on (sloth_slo) group_left () max by (sloth_slo) (slo:error_budget:ratio{{{_SLOTH}}})",
                "{{sloth_slo}} {{sloth_window}}",
            )
        )
    )


def error_ratio():
    return timeseries(
        "Error ratio (5m)",
        "Bad over total events per SLO and route (slo:sli_error:ratio_rate5m): for availability the share of 5xx answers, "
        "for latency the share of requests slower than the threshold. Flat at 0 is healthy.",
        "percentunit",
    ).with_target(prom(f"slo:sli_error:ratio_rate5m{{{_SLOTH}}}", "{{sloth_slo}} {{http_route}}"))


def budget_remaining_over_time():
    return (
        timeseries(
            "Error budget remaining over time",
            "The period's remaining budget per SLO, worst route. A steady slope down is normal spending; a cliff is an incident.",
            "percentunit",
        )
        .thresholds(_BUDGET_COLOURS)
        .with_target(
            prom(
                f"min by (sloth_slo) (slo:period_error_budget_remaining:ratio{{{_SLOTH}}})",
                "{{sloth_slo}}",
            )
        )
    )


def request_rate():
    selector = '{service_name="$service"}'
    return timeseries(
        "Request rate",
        "Requests per second the SLOs are computed on, per route: context for the ratios (few requests make noisy ratios). "
        "Counted from the classic histogram's _count series, or from the native histogram (histogram_count) "
        "when the service exports exponential histograms.",
        "reqps",
    ).with_target(
        prom(
            f"sum by (http_route) (rate({HTTP_METRIC}_count{selector}[{RATE}]))"
            f" or sum by (http_route) (histogram_count(rate({HTTP_METRIC}{selector}[{RATE}])))",
            "{{http_route}}",
        )
    )


def streaming_burn_rate():
    return (
        timeseries(
            "Streaming burn rate per window",
            "The same burn rates computed by the stream processors from Kafka (aiops_slo_burn_rate), per SLO and window. "
            "They should track the Prometheus panels above; a gap means late data or a stalled worker.",
            "x",
        )
        .thresholds(_BURN_COLOURS)
        .with_target(
            prom(f"max by (slo, window) (aiops_slo_burn_rate{{{_STREAM}}})", "{{slo}} {{window}}")
        )
    )


def streaming_error_ratio():
    return timeseries(
        "Streaming error ratio per window",
        "Bad over total events per SLO and window from the stream processors (aiops_slo_error_ratio); NaN means no events.",
        "percentunit",
    ).with_target(
        prom(f"max by (slo, window) (aiops_slo_error_ratio{{{_STREAM}}})", "{{slo}} {{window}}")
    )


def streaming_budget_remaining():
    return (
        stat(
            "Streaming budget remaining",
            "Error budget left over the SLO period as the stream processors see it (aiops_slo_budget_remaining), worst group.",
            "percentunit",
            width=8,
        )
        .thresholds(_BUDGET_COLOURS)
        .with_target(prom(f"min by (slo) (aiops_slo_budget_remaining{{{_STREAM}}})", "{{slo}}"))
    )


def streaming_time_to_exhaustion():
    return (
        stat(
            "Streaming time to exhaustion",
            "Seconds until the budget is spent at the current burn rate, from the stream processors "
            "(aiops_slo_time_to_exhaustion_seconds); +Inf while nothing burns.",
            "s",
            width=8,
        )
        .thresholds(thresholds((None, "red"), (2 * 86400, "orange"), (5 * 86400, "green")))
        .with_target(
            prom(f"min by (slo) (aiops_slo_time_to_exhaustion_seconds{{{_STREAM}}})", "{{slo}}")
        )
    )


def panels():
    """The panels in layout order (built, so their titles can be read)."""
    return [p.build() for p in _builders()]


def _builders():
    return [
        sli(),
        budget_remaining(),
        current_burn_rate(),
        time_to_exhaustion(),
        burn_rate_by_window(),
        error_ratio(),
        budget_remaining_over_time(),
        request_rate(),
        firing_alerts(),
        streaming_budget_remaining(),
        streaming_time_to_exhaustion(),
        streaming_burn_rate(),
        streaming_error_ratio(),
    ]


def build() -> dashboard_builder.Dashboard:
    """The SLO overview dashboard, with ``$service`` and ``$slo`` and SLO alerts as annotations."""
    board = (
        dashboard(
            UID,
            "aiops / SLO overview",
            "Per SLO: SLI, error budget, burn rate per window, time to exhaustion and firing alerts.",
            ["slo"],
        )
        .with_variable(service_variable("sloth_slo_info", "sloth_service"))
        .with_variable(slo_variable())
        .annotation(
            dashboard_builder.AnnotationQuery()
            .name("SLO alerts")
            .datasource(PROMETHEUS)
            .enable(True)
            .icon_color("red")
            .expr(f'ALERTS{{alertstate="firing", {_SLOTH}}}')
        )
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
