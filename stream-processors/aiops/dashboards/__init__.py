"""Grafana dashboards as code: one small function per panel, rendered to committed JSON.

Each dashboard module (``slo_overview``, ``application``, ``pipeline``,
``tracing``, ``anomalies``) holds one function per panel, each with a title, a
description of what it shows and how to read it, a unit and its query, built
with grafana-foundation-sdk on the shared options in ``defaults``. ``aiops
generate`` calls ``write_dashboards`` into ``grafana/dashboards/`` and
``dashboards_drift`` for ``--check``.
"""

from aiops.dashboards.generate import (
    DASHBOARDS,
    dashboards_drift,
    render,
    render_all,
    validate,
    write_dashboards,
)

__all__ = ["DASHBOARDS", "dashboards_drift", "render", "render_all", "validate", "write_dashboards"]
