"""``aiops bench engine`` runs end to end (tiny sizes: a smoke test, not a timed test)."""

import typer
from typer.testing import CliRunner

from aiops.bench.engine import run_engine_bench
from aiops.cli.bench import bench_cli


def test_run_engine_bench_times_every_step_and_restores_every_track():
    result = run_engine_bench(resources=3, series=12, exports=3, warmup=2)
    assert result.points == 3 * 12 * 3
    assert set(result.us_per_point) == {"read", "add", "close", "write"}
    assert min(result.us_per_point.values()) > 0
    assert result.tracks > result.points / 3 and result.restored_tracks == result.tracks
    assert result.checkpoint_bytes > 0 and result.bank_bytes > 0
    assert result.gauge_tracks == 3 * 4, "the service-level tracks of each resource have gauges"
    assert result.scrape_bytes > 0


def test_bench_engine_command_prints_steps_checkpoint_and_scrape():
    app = typer.Typer()
    app.add_typer(bench_cli, name="bench")
    args = ["bench", "engine", "--resources", "2", "--series", "10", "--exports", "2"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "$ aiops bench engine --resources 2 --series 10 --exports 2" in out.stdout
    for text in ("CPU us per point: read", "checkpoint of every resource", "scrape of the worker"):
        assert text in out.stdout
