"""Shared panel options: datasources, panel shapes, thresholds and template variables.

Every panel function in this package starts from one of the shapes here, so a
change of look (height, legend, refresh) is made once. Datasource uids are the
ones fixed in ``grafana/provisioning/datasources/datasources.yaml``.

>>> panel = timeseries("Throughput", "Requests per second.", "reqps").build()
>>> (panel.type_val, panel.datasource.uid, panel.field_config.defaults.unit)
('timeseries', 'prometheus', 'reqps')
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import prometheus as prometheus_builder
from grafana_foundation_sdk.builders import stat as stat_builder
from grafana_foundation_sdk.builders import table as table_builder
from grafana_foundation_sdk.builders import timeseries as timeseries_builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_model

__all__ = [
    "DEMO_SERVICE",
    "HTTP_METRIC",
    "PROMETHEUS",
    "RATE",
    "TEMPO",
    "dashboard",
    "prom",
    "route_variable",
    "service_variable",
    "stat",
    "table",
    "thresholds",
    "timeseries",
]

PROMETHEUS = dashboard_model.DataSourceRef(type_val="prometheus", uid="prometheus")
TEMPO = dashboard_model.DataSourceRef(type_val="tempo", uid="tempo")

RATE = "$__rate_interval"
"""The rate window: Grafana picks at least four scrape intervals (the datasource's ``timeInterval`` is 5s)."""

HTTP_METRIC = "http_server_request_duration_seconds"
"""The demo service's OTel HTTP server histogram, as the collector's Prometheus exporter names it."""

DEMO_SERVICE = "demo-service"

_HEIGHT = 8
_WIDTH = 12


def prom(
    expr: str, legend: str = "__auto", ref_id: str = "A", *, instant: bool = False
) -> prometheus_builder.Dataquery:
    """A Prometheus query target; a range query unless ``instant``."""
    query = (
        prometheus_builder.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .datasource(PROMETHEUS)
    )
    return query.instant() if instant else query.range()


def thresholds(*steps: tuple[float | None, str]) -> dashboard_builder.ThresholdsConfig:
    """Absolute thresholds; the first step's value is ``None`` (the base colour)."""
    return (
        dashboard_builder.ThresholdsConfig()
        .mode(dashboard_model.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_model.Threshold(value=value, color=color) for value, color in steps])
    )


def timeseries(
    title: str, description: str, unit: str, *, width: int = _WIDTH
) -> timeseries_builder.Panel:
    """A time series panel with a table legend showing the last and the max value."""
    return (
        timeseries_builder.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .height(_HEIGHT)
        .span(width)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
    )


def stat(title: str, description: str, unit: str, *, width: int = 6) -> stat_builder.Panel:
    """A single big number (the last value), coloured by its thresholds."""
    return (
        stat_builder.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .height(_HEIGHT)
        .span(width)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def table(title: str, description: str, unit: str, *, width: int = 24) -> table_builder.Panel:
    """A table panel (Prometheus unless the caller sets another datasource)."""
    return (
        table_builder.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .height(_HEIGHT)
        .span(width)
    )


def service_variable(
    metric: str = f"{HTTP_METRIC}_count", label: str = "service_name"
) -> dashboard_builder.QueryVariable:
    """``$service``: one service, taken from the label values of ``metric``; defaults to the demo service."""
    return (
        dashboard_builder.QueryVariable("service")
        .label("Service")
        .description("The service whose metrics the panels show.")
        .datasource(PROMETHEUS)
        .query(f"label_values({metric}, {label})")
        .refresh(dashboard_model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .current(
            dashboard_model.VariableOption(selected=True, text=DEMO_SERVICE, value=DEMO_SERVICE)
        )
    )


def _all_variable(
    name: str, label: str, description: str, query: str
) -> dashboard_builder.QueryVariable:
    """A multi-value variable whose default is All, matched as the regex ``.*``."""
    return (
        dashboard_builder.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(dashboard_model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dashboard_model.VariableOption(selected=True, text="All", value="$__all"))
    )


def route_variable() -> dashboard_builder.QueryVariable:
    """``$route``: the HTTP routes of ``$service`` (default All); queries match it with ``=~``."""
    return _all_variable(
        "route",
        "Route",
        "HTTP routes of the service (regex match).",
        f'label_values({HTTP_METRIC}_count{{service_name="$service"}}, http_route)',
    )


def slo_variable() -> dashboard_builder.QueryVariable:
    """``$slo``: the SLOs of ``$service`` from Sloth's info series (default All)."""
    return _all_variable(
        "slo",
        "SLO",
        "SLOs of the service, as the generated Sloth rules name them.",
        'label_values(sloth_slo_info{sloth_service="$service"}, sloth_slo)',
    )


def dashboard(
    uid: str, title: str, description: str, tags: list[str]
) -> dashboard_builder.Dashboard:
    """A dashboard with the project's time range, refresh, shared crosshair and tags; read-only (it is generated)."""
    return (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["aiops", *tags])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .link(
            dashboard_builder.DashboardLink("aiops dashboards")
            .type(dashboard_model.DashboardLinkType.DASHBOARDS)
            .tags(["aiops"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
