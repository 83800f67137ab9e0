"""Render the dashboards to JSON with sorted keys, write them, and report drift from the committed files.

``render`` turns a dashboard builder into the JSON Grafana provisions: panel ids
numbered 1.. in layout order, keys sorted, two-space indent, trailing newline.
``validate`` parses that JSON back with the foundation SDK's generated
dashboard model and checks what Grafana and the e2e test rely on.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     paths = write_dashboards(tmp)
...     [p.name for p in paths][:2], dashboards_drift(tmp)
(['aiops-anomalies.json', 'aiops-app-performance.json'], [])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dashboard_model

from aiops.dashboards import anomalies, application, pipeline, slo_overview, tracing

__all__ = ["DASHBOARDS", "dashboards_drift", "render", "render_all", "validate", "write_dashboards"]

DASHBOARDS: dict[str, Callable[[], dashboard_builder.Dashboard]] = {
    module.UID: module.build for module in (slo_overview, application, pipeline, tracing, anomalies)
}
"""Every dashboard by uid (also its file name, ``<uid>.json``)."""


def render(board: dashboard_builder.Dashboard) -> str:
    """The dashboard's JSON text, panel ids numbered in layout order, keys sorted."""
    model = board.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def render_all() -> dict[str, str]:
    """File name → JSON text for every dashboard."""
    return {f"{uid}.json": render(build()) for uid, build in sorted(DASHBOARDS.items())}


def validate(document: dict) -> list[str]:
    """Problems with one dashboard document; empty when it is fine.

    The document must round-trip through the SDK's ``Dashboard`` model (the
    schema Grafana's own types are generated from) unchanged, and every panel
    must carry what the generator promises: an id, a title, a description, a
    unit, a grid position, a datasource and at least one query. The SDK's
    ``from_json`` does not check value types, so the grid position's are
    checked here.

    >>> validate({"title": "x", "panels": [{"type": "stat", "id": 1, "title": "t"}]})  # doctest: +NORMALIZE_WHITESPACE
    ["does not round-trip through the foundation SDK's Dashboard model (missing defaults or unknown fields)",
     "panel 1 't': no description", "panel 1 't': no unit",
     "panel 1 't': gridPos must be integers h, w, x, y within 24 columns: {}",
     "panel 1 't': no datasource", "panel 1 't': no query"]
    """
    problems = []
    model = dashboard_model.Dashboard.from_json(document)
    round_trip = json.loads(json.dumps(model, cls=JSONEncoder))
    if round_trip != document:
        problems.append(
            "does not round-trip through the foundation SDK's Dashboard model (missing defaults or unknown fields)"
        )
    ids = [p.get("id") for p in document.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")
    for panel in document.get("panels", []):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        if not panel.get("description"):
            problems.append(f"{where}: no description")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: no unit")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "hwxy") or grid["x"] + grid["w"] > 24:
            problems.append(
                f"{where}: gridPos must be integers h, w, x, y within 24 columns: {grid}"
            )
        if not panel.get("datasource", {}).get("uid"):
            problems.append(f"{where}: no datasource")
        targets = panel.get("targets") or []
        if not targets or not all(t.get("expr") or t.get("query") for t in targets):
            problems.append(f"{where}: no query")
    return problems


def write_dashboards(directory: str | Path) -> list[Path]:
    """Write every dashboard as ``<uid>.json`` into ``directory`` (created if missing); returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def dashboards_drift(directory: str | Path) -> list[str]:
    """What differs between the generated dashboards and the files in ``directory``: missing, stale or unexpected files."""
    directory = Path(directory)
    expected = render_all()
    drift = []
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            drift.append(f"{path}: missing (run `aiops generate`)")
        elif path.read_text(encoding="utf-8") != text:
            drift.append(f"{path}: differs from the generated dashboard (run `aiops generate`)")
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.name not in expected:
            drift.append(
                f"{path}: not generated by aiops.dashboards (remove it or add a generator)"
            )
    return drift
