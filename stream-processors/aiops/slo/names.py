"""OpenTelemetry names as Prometheus sees them, through the collector's prometheus exporter.

The collector runs with ``translation_strategy: UnderscoreEscapingWithSuffixes``
(``collector/otelcol-config.yaml``): characters outside ``[a-zA-Z0-9_:]``
become ``_``, the unit becomes a suffix (``s`` → ``_seconds``), monotonic
counters get ``_total`` and histograms are read through ``_bucket``,
``_count`` and ``_sum``. Attribute names become label names the same way
(``http.route`` → ``http_route``); of the resource attributes only
``service.name``, ``service.namespace`` and ``deployment.environment.name``
are labels there (``resource_constant_labels``), next to ``job`` and
``instance``.

>>> prometheus_metric_name("http.server.request.duration", "s", "histogram")
'http_server_request_duration_seconds'
>>> prometheus_label_name("http.response.status_code")
'http_response_status_code'
"""

from __future__ import annotations

import re

__all__ = ["UNIT_SUFFIXES", "prometheus_label_name", "prometheus_metric_name"]

UNIT_SUFFIXES: dict[str, str] = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
"""UCUM units and their Prometheus suffixes (the OpenTelemetry → Prometheus compatibility table)."""

_PER_UNIT = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}


def prometheus_metric_name(metric: str, unit: str, instrument: str) -> str:
    """The Prometheus base name of an OpenTelemetry metric (histograms: without ``_bucket``/``_count``).

    >>> prometheus_metric_name("orders", "{order}", "counter")
    'orders_total'
    >>> prometheus_metric_name("db.io", "By/s", "counter")
    'db_io_bytes_per_second_total'
    """
    name = _sanitize(metric, r"[^a-zA-Z0-9_:]")
    suffix = _unit_suffix(unit)
    if suffix and not name.endswith(f"_{suffix}"):
        name = f"{name}_{suffix}"
    if instrument == "counter" and not name.endswith("_total"):
        name = f"{name}_total"
    return name


def prometheus_label_name(attribute: str) -> str:
    """The Prometheus label name of an OpenTelemetry attribute.

    >>> prometheus_label_name("service.name"), prometheus_label_name("2xx.count")
    ('service_name', 'key_2xx_count')
    """
    name = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    if name[:1].isdigit():
        name = f"key_{name}"
    elif name.startswith("_") and not name.startswith("__"):
        name = f"key{name}"
    return name


def _unit_suffix(unit: str) -> str:
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    if not unit or unit == "1":
        return ""
    if "/" in unit:
        main, _, per = unit.partition("/")
        main_suffix = UNIT_SUFFIXES.get(main, _sanitize(main, r"[^a-zA-Z0-9]")) if main else ""
        per_suffix = _PER_UNIT.get(per, _sanitize(per, r"[^a-zA-Z0-9]"))
        return f"{main_suffix}_per_{per_suffix}" if main_suffix else f"per_{per_suffix}"
    return UNIT_SUFFIXES.get(unit, _sanitize(unit, r"[^a-zA-Z0-9]"))


def _sanitize(text: str, invalid: str) -> str:
    return re.sub(r"__+", "_", re.sub(invalid, "_", text)).strip("_") if text else text
