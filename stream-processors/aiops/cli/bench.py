"""``aiops bench``: benchmarks of the hot paths (detect, decode) and of the whole pipeline.

Heavy imports happen inside the commands, so mounting this module costs the
``aiops`` command nothing at start-up.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["bench_cli"]

_Seed = Annotated[int, typer.Option(help="seed of the synthetic values")]
_Json = Annotated[bool, typer.Option("--json", help="print the result as JSON")]

bench_cli = typer.Typer(
    no_args_is_help=True, help="Benchmarks of the hot paths and of the whole pipeline."
)


@bench_cli.command("detect")
def bench_detect(
    series: int = typer.Option(10_000, help="live series in the fast path"),
    river_series: int = typer.Option(
        200,
        help="series in the river path (about 1 MiB each, so fewer; per-event cost does not depend on it)",
    ),
    warmup: int = typer.Option(
        260, help="untimed points per series first (past the trees' first window of 250)"
    ),
    points: int = typer.Option(50, help="timed points per series"),
    season: int = typer.Option(0, help="Holt-Winters season length in points"),
    seed: int = typer.Option(0, help="seed of the data and the trees"),
    json_output: _Json = False,
) -> None:
    """Points per second of the default detector: river per-event path versus the numpy fast path, same data."""
    river_series = min(river_series, series)
    from aiops.bench.detect import run_bench

    result = run_bench(
        series=series,
        river_series=river_series,
        warmup=warmup,
        points=points,
        season=season,
        seed=seed,
        progress=_progress,
    )
    if json_output:
        _echo_json(asdict(result))
        return
    typer.echo(
        f"river per-event path: {result.river_points_per_s:>12,.0f} points/s of CPU time "
        f"(wall {result.river_points_per_wall_s:,.0f}; {result.river_series:,} series, {result.river_points:,} points)\n"
        f"numpy fast path:      {result.fast_points_per_s:>12,.0f} points/s of CPU time "
        f"(wall {result.fast_points_per_wall_s:,.0f}; {result.fast_series:,} series, {result.fast_points:,} points, "
        f"micro-batches of {result.fast_series:,})\n"
        f"ratio fast / river:   {result.ratio:>12,.1f}x\n"
        f"memory per series:    fast {result.fast_bytes_per_series:,} B; river {result.river_bytes_per_series:,} B "
        f"in memory, {result.river_pickle_bytes_per_series:,} B pickled\n"
        f"largest score difference between the paths on the river series: {result.max_abs_score_difference:.1e}"
    )


@bench_cli.command("decode")
def bench_decode(
    resources: int = typer.Option(50, help="service instances, one OTLP payload each per export"),
    series: int = typer.Option(
        100, help="series per resource (histograms, counters, up-down sums, gauges)"
    ),
    exports: int = typer.Option(
        10, help="exports of every resource; the first one warms up, untimed"
    ),
    seed: _Seed = 0,
    encodings: bool = typer.Option(
        False,
        "--encodings",
        help="instead: size and speed of the v2 record's candidate encodings (100 and 5,000 series)",
    ),
    json_output: _Json = False,
) -> None:
    """Points per second of the per-point decode (v1) versus the columnar decode (v2), and bytes per record."""
    from aiops.bench.decode import encoding_table, machine, run_decode_bench

    if encodings:
        rows = encoding_table()
        if json_output:
            _echo_json([asdict(row) for row in rows])
            return
        typer.echo(
            f"$ aiops bench decode --encodings\nmachine: {machine()}\n"
            "| export | encoding | bytes | zlib-1 bytes | encode us | decode to columns us |\n"
            "| --- | --- | ---: | ---: | ---: | ---: |"
        )
        for row in rows:
            typer.echo(
                f"| {row.export} | {row.encoding} | {row.bytes:,} | {row.zlib_bytes:,} | "
                f"{row.encode_us:,.0f} | {row.decode_us:,.0f} |"
            )
        return

    result = run_decode_bench(
        resources=resources,
        series=series,
        exports=exports,
        seed=seed,
        progress=_progress,
    )
    if json_output:
        _echo_json({**asdict(result), "machine": machine()})
        return
    r = result
    typer.echo(
        f"$ aiops bench decode --resources {resources} --series {series} --exports {exports} --seed {seed}\n"
        f"machine: {machine()}\n"
        f"{r.points:,} points timed ({r.timed_exports} exports x {r.resources} resources x {r.series} series), "
        "points/s of process CPU time:\n"
        f"  v1 per-point decode_payload:             {r.v1_decode_per_s:>12,.0f}\n"
        f"  v1 decode + one JSON record per point:   {r.v1_decode_encode_per_s:>12,.0f}\n"
        f"  v2 columnar decode:                      {r.v2_decode_per_s:>12,.0f}  "
        f"({r.v2_decode_per_s / r.v1_decode_per_s:.1f}x v1)\n"
        f"  v2 decode + deltas:                      {r.v2_decode_delta_per_s:>12,.0f}  "
        f"({r.v2_decode_delta_per_s / r.v1_decode_per_s:.1f}x v1)\n"
        f"  v2 decode + deltas + v2 record encoded:  {r.v2_decode_delta_encode_per_s:>12,.0f}  "
        f"({r.v2_decode_delta_encode_per_s / r.v1_decode_encode_per_s:.1f}x v1 with records)\n"
        f"  first sight of a series (labels interned): {r.intern_us_per_series:,.1f} us each, once per process\n"
        f"bytes on aiops.points: v1 {r.v1_bytes_per_record:,.0f} per record ({r.v1_records:,} records, one per point); "
        f"v2 {r.v2_bytes_per_record:,.0f} per record ({r.v2_records:,} records, one per payload and resource)\n"
        f"bytes per point: v1 {r.v1_bytes_per_point:,.0f}, v2 {r.v2_bytes_per_point:,.0f}\n"
        f"v2 decode state (deltas) and label cache: {r.state_bytes_per_series:,.0f} bytes per live series"
    )


@bench_cli.command("engine")
def bench_engine(
    resources: int = typer.Option(50, help="service instances, one points record each per export"),
    series: int = typer.Option(100, help="series per resource"),
    exports: int = typer.Option(20, help="timed exports of every resource"),
    warmup: int = typer.Option(5, help="untimed exports first (tracks created, plans cached)"),
    seed: _Seed = 0,
    json_output: _Json = False,
) -> None:
    """The detect engine alone on decoded records: CPU per point by step, and a whole checkpoint's size and time."""
    from aiops.bench.decode import machine
    from aiops.bench.engine import run_engine_bench

    result = run_engine_bench(
        resources=resources,
        series=series,
        exports=exports,
        warmup=warmup,
        seed=seed,
        progress=_progress,
    )
    if json_output:
        _echo_json({**asdict(result), "machine": machine()})
        return
    r = result
    steps = ", ".join(f"{step} {us:.2f}" for step, us in r.us_per_point.items())
    typer.echo(
        f"$ aiops bench engine --resources {resources} --series {series} --exports {exports} "
        f"--warmup {warmup} --seed {seed}\n"
        f"machine: {machine()}\n"
        f"{r.points:,} points timed, {r.tracks:,} tracks; CPU us per point: {steps}\n"
        f"engine alone: {r.points_per_s:,.0f} points/s of CPU time\n"
        f"checkpoint of every resource: {r.checkpoint_bytes / 2**20:,.1f} MiB of JSON "
        f"({r.checkpoint_bytes / r.tracks:,.0f} B per track) in {r.checkpoint_s:.2f} s; "
        f"restore {r.restore_s:.2f} s; detector bank {r.bank_bytes / 2**20:,.1f} MiB "
        f"({r.bank_bytes / r.tracks:,.0f} B per track)\n"
        f"scrape of the worker's own metrics: {r.scrape_bytes / 1024:,.0f} KiB in "
        f"{1000 * r.scrape_s:.0f} ms, anomaly gauges for {r.gauge_tracks:,} watched tracks"
    )


@bench_cli.command("pipeline")
def bench_pipeline(
    rates: str = typer.Option(
        "5000,20000,50000,100000,150000",
        help="points per second to offer, one step each, comma-separated",
    ),
    step_seconds: float = typer.Option(30.0, help="seconds each rate is held"),
    workers: int = typer.Option(1, help="Faust worker processes in the consumer group"),
    resources: int = typer.Option(50, help="service instances, one OTLP payload each per round"),
    series: int = typer.Option(100, help="series per resource"),
    partitions: int = typer.Option(12, help="partitions of every topic of the run"),
    bootstrap: str = typer.Option(
        "",
        help="a running broker to use (default: AIOPS_KAFKA_BOOTSTRAP_SERVERS if it answers, else a new one)",
    ),
    worker_code: str = typer.Option(
        "",
        help="another checkout of this repository whose worker to measure (before/after a change)",
    ),
    churn: bool = typer.Option(
        False,
        "--churn",
        help="every round after the warm-up from new pods: all its series new (a cardinality bomb)",
    ),
    json_output: bool = typer.Option(False, "--json", help="print the steps as JSON"),
) -> None:
    """The whole pipeline through a real Kafka at stepped rates: sustained points/s, delays, memory, CPU by stage."""
    from aiops.bench.decode import machine
    from aiops.bench.pipeline import run_pipeline_bench
    from aiops.settings import Settings

    settings = Settings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    steps = run_pipeline_bench(
        [float(rate) for rate in rates.split(",") if rate.strip()],
        step_s=step_seconds,
        workers=workers,
        resources=resources,
        series=series,
        partitions=partitions,
        settings=settings,
        worker_code=Path(worker_code) if worker_code else None,
        churn=churn,
        progress=_progress,
    )
    if json_output:
        _echo_json([asdict(step) for step in steps])
        return
    typer.echo(
        f"$ aiops bench pipeline --rates {rates} --step-seconds {step_seconds:g} --workers {workers} "
        f"--resources {resources} --series {series} --partitions {partitions}"
        f"{' --worker-code ' + worker_code if worker_code else ''}{' --churn' if churn else ''}\n"
        f"machine: {machine()}\n"
        "| offered points/s | decoded points/s | sustained | lag (records) | delay p50 | delay p99 "
        "| RSS (growth per series) | CPU s: decode / sli / detect / worker other / broker / producer |\n"
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"
    )
    for s in steps:
        delay = "n/a" if s.delay_p50_s is None else f"{s.delay_p50_s:.2f} s"
        tail = "n/a" if s.delay_p99_s is None else f"{s.delay_p99_s:.2f} s"
        cpu = " / ".join(
            f"{s.cpu_s[k]:.1f}"
            for k in ("decode", "sli", "detect", "worker other", "broker", "producer")
        )
        typer.echo(
            f"| {s.offered:,.0f} | {s.decoded_per_s:,.0f} | {'yes' if s.sustained else 'no'} | {s.lag_records:,} "
            f"| {delay} | {tail} | {s.rss_bytes / 2**20:,.0f} MiB ({s.rss_per_series:,.0f} B) | {cpu} (of {s.seconds:.0f} s) |"
        )


def _progress(message: str) -> None:
    """A benchmark's progress line, on stderr so that ``--json`` output stays clean."""
    typer.echo(message, err=True)


def _echo_json(value: Any) -> None:
    """Print a benchmark's result as indented JSON."""
    import json

    typer.echo(json.dumps(value, indent=2))
