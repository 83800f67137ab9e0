"""Detection on the command line: ``aiops score`` (CSV in, scores out) and ``aiops bench detect``.

Mount in ``aiops/cli.py``::

    cli.command("score")(score_command)
    cli.add_typer(bench_cli, name="bench")

Heavy imports (river, numpy, the detectors) happen inside the commands, so
mounting this module costs the ``aiops`` command nothing at start-up.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TextIO

import typer

__all__ = ["BenchResult", "CsvError", "bench_cli", "read_series", "run_bench", "score_command"]

bench_cli = typer.Typer(no_args_is_help=True, help="Benchmarks of the hot paths.")


class CsvError(ValueError):
    """Bad input for ``aiops score``: the message starts with the line number."""


def _timestamp(text: str) -> float:
    """Seconds since the epoch from a number or an ISO 8601 date-time (naive means UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_series(
    lines: Iterable[str],
    warn: Callable[[str], None] | None = None,
    times: list[float] | None = None,
) -> Iterator[float]:
    """The values of a ``timestamp,value`` CSV, checked row by row; raises :class:`CsvError`.

    The header must name ``timestamp`` and ``value`` columns (other columns are
    ignored). Timestamps are numbers (epoch seconds) or ISO 8601. A value is a
    number; an empty value, ``nan`` or ``NaN`` is a missing point (score 0).
    Blank lines are skipped.

    A timestamp before the previous row's is an error, unless ``warn`` is
    given: then the rows are kept in arrival order (a clock that stepped back
    an hour is common in real files) and ``warn`` is called once, naming the
    first such line and, at the end, how many there were. ``times``, if
    given, receives each yielded row's timestamp (epoch seconds).

    >>> list(read_series(["timestamp,value", "1,2.5", "2,", "2,3"]))
    [2.5, nan, 3.0]
    >>> list(read_series(["timestamp,value", "5,1", "4,1"]))
    Traceback (most recent call last):
    ...
    aiops.detect_cli.CsvError: line 3: timestamp 4 is before the previous row's 5 (rows must be in time order)
    >>> list(read_series(["timestamp,value", "5,1", "4,2", "3,3"], warn=print))
    line 3: timestamp 4 is before the previous row's 5; scoring rows in arrival order (2 rows step back)
    [1.0, 2.0, 3.0]
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    names = [name.strip().lower() for name in header or []]
    if "timestamp" not in names or "value" not in names:
        shown = ",".join(header) if header else "nothing"
        raise CsvError(
            f"line 1: expected a header naming 'timestamp' and 'value' columns, got {shown!r}"
        )
    t_col, v_col = names.index("timestamp"), names.index("value")
    previous: float | None = None
    previous_text = ""
    first_back = ""
    backs = 0
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            raise CsvError(f"line {line}: expected {len(names)} columns, got {len(row)}")
        t_text, v_text = row[t_col].strip(), row[v_col].strip()
        try:
            t = _timestamp(t_text)
        except ValueError:
            raise CsvError(
                f"line {line}: timestamp {t_text!r} is neither a number nor an ISO 8601 date-time"
            ) from None
        if previous is not None and t < previous:
            if warn is None:
                raise CsvError(
                    f"line {line}: timestamp {t_text} is before the previous row's {previous_text} "
                    "(rows must be in time order)"
                )
            backs += 1
            if backs == 1:
                first_back = (
                    f"line {line}: timestamp {t_text} is before the previous row's {previous_text}"
                )
        previous, previous_text = t, t_text
        if times is not None:
            times.append(t)
        if v_text == "":
            yield math.nan
            continue
        try:
            yield float(v_text)
        except ValueError:
            raise CsvError(f"line {line}: value {v_text!r} is not a number") from None
    if backs and warn is not None:
        warn(
            f"{first_back}; scoring rows in arrival order ({backs} row{'s' if backs > 1 else ''} step back)"
        )


def score_command(
    season: int = typer.Option(
        None,
        help="season length in points of the Holt-Winters forecaster; 0: none [default: AIOPS_DETECT_SEASON, "
        "else the hourly, daily or weekly cycle found in the first 15% of rows (at most 750), else none]",
    ),
    detector_name: str = typer.Option(
        None,
        "--detector",
        help="detector name from the registry [default: the stream's default detector]",
    ),
) -> None:
    """Score a series: CSV 'timestamp,value' on stdin, one score in [0, 1] per row on stdout.

    Uses the stream's default detector (or ``--detector``); each row is scored
    from the rows before it. 0.5 means a tail probability of 1e-5 on this
    series' own history. Without --season or AIOPS_DETECT_SEASON, the season
    is the strongest wall-clock cycle (hourly, daily, weekly) of the first 15%
    of rows (at most 750: NAB's probationary period), converted to points at
    the file's own interval. Empty or 'nan' values are missing points (score 0).
    Rows whose time steps back are scored in arrival order, with one warning
    naming the line. Bad input stops with the line number and exit code 1,
    before anything is written.
    """
    import inspect

    from aiops.core.detectors import REGISTRY, default_detector
    from aiops.settings import Settings

    auto_season = season is None and not Settings().detect_season
    if season is None:
        season = Settings().detect_season
    if detector_name is not None and detector_name not in REGISTRY:
        typer.echo(
            f"error: unknown detector {detector_name!r}; choose from {', '.join(sorted(REGISTRY))}",
            err=True,
        )
        raise typer.Exit(code=1)
    try:
        times: list[float] = []
        values = list(
            read_series(
                sys.stdin, lambda message: typer.echo(f"warning: {message}", err=True), times
            )
        )
    except CsvError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    if auto_season:
        from aiops.core.detectors.seasonality import wall_clock_season

        history = min(int(0.15 * len(values)), 750)
        season = wall_clock_season(times[:history], values[:history])
    try:
        if detector_name is None:
            detector = default_detector(season=season)
        else:
            cls = REGISTRY[detector_name]
            takes_season = "season" in inspect.signature(cls.__init__).parameters
            detector = cls(season=season) if takes_season else cls()
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    out: TextIO = sys.stdout
    lines = []
    for value in values:
        lines.append(f"{detector.score_one(value):.6f}\n")
        detector.learn_one(value)
    out.write("".join(lines))
    out.flush()


@dataclass(frozen=True)
class BenchResult:
    """What ``aiops bench detect`` measured."""

    fast_series: int
    fast_points: int
    fast_points_per_s: float
    fast_points_per_wall_s: float
    river_series: int
    river_points: int
    river_points_per_s: float
    river_points_per_wall_s: float
    ratio: float
    fast_bytes_per_series: int
    river_bytes_per_series: int
    river_pickle_bytes_per_series: int
    max_abs_score_difference: float


def _bench_data(series: int, points: int, seed: int):
    """Realistic-ish series: per-series level and noise, a daily-like cycle, a few spikes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    level = rng.lognormal(3.0, 2.0, series)[:, None]
    noise = level * rng.uniform(0.01, 0.2, series)[:, None]
    t = np.arange(points)[None, :]
    data = level + 0.3 * level * np.sin(2 * np.pi * t / 720 + rng.uniform(0, 6.3, series)[:, None])
    data = data + noise * rng.standard_normal((series, points))
    spikes = rng.random((series, points)) < 0.001
    data[spikes] += 10 * noise.repeat(points, axis=1)[spikes]
    return data


def _river_memory(params: dict, data, count: int) -> tuple[int, int]:
    """Bytes per warmed-up river-path detector: traced allocations and pickled size."""
    import pickle
    import tracemalloc

    from aiops.core.detectors import CombinedDetector

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    detectors = [CombinedDetector(**params) for _ in range(count)]
    for i, detector in enumerate(detectors):
        for value in data[i]:
            detector.learn_one(float(value))
    traced = (tracemalloc.get_traced_memory()[0] - before) // count
    tracemalloc.stop()
    return traced, len(pickle.dumps(detectors[0]))


def run_bench(
    series: int = 10_000,
    river_series: int = 200,
    warmup: int = 260,
    points: int = 50,
    season: int = 0,
    seed: int = 0,
    progress=lambda message: None,
) -> BenchResult:
    """Time the river per-event path and the fast path on the same data, after the same warm-up.

    Rates are points per second of this process's CPU time (one core: numpy's
    element-wise operations and gathers are single-threaded), so a busy
    machine does not skew them; wall-clock rates are reported next to them.

    Both paths get ``warmup`` points per series untimed (past the trees' first
    window), then ``points`` more per series, timed. The fast path scores one
    micro-batch per step with a point of every one of ``series`` series, by
    key; the river path scores ``river_series`` series (the first ones of the
    same data), one ``score_one`` + ``learn_one`` per event, the detector
    looked up by key as a stream would.
    """
    from aiops.core.detectors import CombinedDetector, FastCombined

    params = {"season": season, "seed": seed}
    data = _bench_data(series, warmup + points, seed)
    keys = [f"series-{i}" for i in range(series)]

    progress(f"fast path: warming up {series:,} series with {warmup} points each")
    bank = FastCombined(capacity=series, **params)
    for step in range(warmup):
        bank.score_learn(keys, data[:, step])
    progress(f"fast path: timing {points} micro-batches of {series:,} points")
    fast_scores = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(warmup, warmup + points):
        fast_scores.append(bank.score_learn(keys, data[:, step]).scores[:river_series])
    fast_wall, fast_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    progress(f"river path: warming up {river_series:,} series with {warmup} points each")
    detectors = {key: CombinedDetector(**params) for key in keys[:river_series]}
    river_data = data[:river_series].tolist()
    for key, values in zip(keys, river_data):
        detector = detectors[key]
        for value in values[:warmup]:
            detector.learn_one(value)
    progress(
        f"river path: timing {points} points for each of {river_series:,} series, one event at a time"
    )
    events = [
        (key, values[step])
        for step in range(warmup, warmup + points)
        for key, values in zip(keys, river_data)
    ]
    river_scores = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for key, value in events:
        detector = detectors[key]
        river_scores.append(detector.score_one(value))
        detector.learn_one(value)
    river_wall, river_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    import numpy as np

    difference = (
        float(np.max(np.abs(np.asarray(river_scores) - np.concatenate(fast_scores))))
        if river_scores
        else 0.0
    )
    progress("measuring memory per river-path detector")
    traced, pickled = _river_memory(params, data[:, :warmup], min(5, river_series))
    fast_rate = series * points / max(fast_cpu, 1e-9)
    river_rate = len(events) / max(river_cpu, 1e-9)
    return BenchResult(
        fast_series=series,
        fast_points=series * points,
        fast_points_per_s=fast_rate,
        fast_points_per_wall_s=series * points / fast_wall,
        river_series=river_series,
        river_points=len(events),
        river_points_per_s=river_rate,
        river_points_per_wall_s=len(events) / river_wall,
        ratio=fast_rate / river_rate,
        fast_bytes_per_series=bank.bytes_per_series,
        river_bytes_per_series=traced,
        river_pickle_bytes_per_series=pickled,
        max_abs_score_difference=difference,
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
    json_output: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Points per second of the default detector: river per-event path versus the numpy fast path, same data."""
    import json

    river_series = min(river_series, series)
    result = run_bench(
        series=series,
        river_series=river_series,
        warmup=warmup,
        points=points,
        season=season,
        seed=seed,
        progress=lambda message: typer.echo(message, err=True),
    )
    if json_output:
        typer.echo(json.dumps(asdict(result), indent=2))
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
