"""``aiops bench detect`` runs end to end (tiny sizes: a smoke test, not a timed test)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from aiops.core.detectors.fast import TOLERANCE
from aiops.detect_cli import bench_cli, run_bench


def test_run_bench_measures_both_paths_on_the_same_data():
    result = run_bench(series=30, river_series=3, warmup=20, points=4)
    assert result.fast_points == 120 and result.river_points == 12
    assert result.fast_points_per_s > 0 and result.river_points_per_s > 0
    assert result.ratio == result.fast_points_per_s / result.river_points_per_s
    assert result.max_abs_score_difference <= TOLERANCE
    assert result.fast_bytes_per_series < 10_000 < result.river_bytes_per_series


def test_bench_detect_command_prints_rates_and_ratio():
    app = typer.Typer()
    app.add_typer(bench_cli, name="bench")
    args = [
        "bench",
        "detect",
        "--series",
        "20",
        "--river-series",
        "2",
        "--warmup",
        "10",
        "--points",
        "3",
    ]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert (
        "river per-event path:" in text.stdout
        and "numpy fast path:" in text.stdout
        and "ratio" in text.stdout
    )
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert data["fast_series"] == 20 and data["river_series"] == 2
