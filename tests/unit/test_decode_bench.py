"""``aiops bench decode`` runs end to end (tiny sizes: a smoke test, not a timed test)."""

import json

import typer
from typer.testing import CliRunner

from aiops.bench.decode import run_decode_bench
from aiops.cli.bench import bench_cli


def test_run_decode_bench_times_both_paths_on_the_same_points():
    result = run_decode_bench(resources=3, series=12, exports=3)
    assert result.points == result.v1_points == result.v1_records == 3 * 12 * 2
    assert result.v2_records == 3 * 2
    assert (
        min(result.v1_decode_per_s, result.v2_decode_per_s, result.v2_decode_delta_encode_per_s) > 0
    )
    assert result.v2_bytes_per_point < result.v1_bytes_per_point
    assert 0 < result.state_bytes_per_series < 64_000


def test_bench_decode_command_prints_rates_bytes_and_the_machine():
    app = typer.Typer()
    app.add_typer(bench_cli, name="bench")
    args = ["bench", "decode", "--resources", "2", "--series", "10", "--exports", "3"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "$ aiops bench decode --resources 2 --series 10 --exports 3" in out.stdout
    assert (
        "machine:" in out.stdout
        and "v2 columnar decode:" in out.stdout
        and "bytes per point" in out.stdout
    )
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert data["points"] == 2 * 10 * 2 and "machine" in data


def test_encoding_table_compares_the_candidates_on_the_same_points():
    from aiops.bench.decode import encoding_table

    rows = {row.encoding: row for row in encoding_table((20,))}
    chosen = rows["v2 orjson, numpy columns (chosen)"]
    assert chosen.bytes == rows["v2 orjson, lists"].bytes, (
        "numpy columns write the same JSON as lists"
    )
    assert chosen.bytes * 3 < rows["v1: one orjson record per point"].bytes
    assert all(
        row.encode_us > 0 and row.decode_us > 0 and 0 < row.zlib_bytes for row in rows.values()
    )
