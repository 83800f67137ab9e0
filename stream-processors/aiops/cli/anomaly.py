"""Anomaly detection on the command line: ``aiops score``, ``aiops replay``, ``aiops evaluate``.

- ``score``: a ``timestamp,value`` CSV in, one score per row out;
- ``replay``: the detector and the alert logic offline on a CSV, as the stream runs them;
- ``evaluate``: detectors of the registry on a labelled corpus, with NAB's rules;

Heavy imports (river, numpy, the detectors, matplotlib) happen inside the
commands, so mounting this module costs the ``aiops`` command nothing at start-up.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from aiops.anomaly.alert_policy import AlertPolicy

__all__ = [
    "CsvError",
    "Replay",
    "evaluate_command",
    "plot_replay",
    "read_series",
    "read_timestamped",
    "replay",
    "replay_command",
    "score_command",
]

_POLICY = AlertPolicy()  # the defaults of the replay options


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
    >>> list(read_series(["timestamp,value", "5,1", "4,2"]))
    Traceback (most recent call last):
    ...
    aiops.cli.anomaly.CsvError: line 3: timestamp 4 is before the previous row's 5 (rows must be in time order)
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


def _detector_or_exit(name: str, season: int):
    """``build_detector(name or the default, season)``; an unknown name or a bad season exits 1 with the reason."""
    from aiops.anomaly.detectors.registry import DEFAULT_DETECTOR, build_detector

    try:
        return build_detector(name or DEFAULT_DETECTOR, season=season)
    except KeyError as error:
        typer.echo(f"error: {error.args[0]}", err=True)
        raise typer.Exit(code=1) from None
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


def score_command(
    detector: str = typer.Option(
        "",
        "--detector",
        help="a detector of the registry (aiops evaluate lists them) [default: the stream's]",
    ),
    season: int = typer.Option(
        None,
        help="season length in points of the Holt-Winters forecaster; 0: none [default: AIOPS_DETECT_SEASON, "
        "else the hourly, daily or weekly cycle found in the first 15% of rows (at most 750), else none]",
    ),
) -> None:
    """Score a series: CSV 'timestamp,value' on stdin, one score per row on stdout.

    Uses the stream's default detector unless ``--detector`` names another;
    each row is scored from the rows before it. With the default, a score is
    in [0, 1] and 0.5 means a tail probability of 1e-5 on this series' own
    history. Without --season or AIOPS_DETECT_SEASON, the season is the
    strongest wall-clock cycle (hourly, daily, weekly) of the first 15% of rows
    (at most 750: NAB's probationary period), converted to points at the
    file's own interval. Empty or 'nan' values are missing points (score 0).
    Rows whose time steps back are scored in arrival order, with one warning
    naming the line. Bad input stops with the line number and exit code 1,
    before anything is written.
    """
    from aiops.anomaly.detectors.seasonality import wall_clock_season
    from aiops.settings import Settings

    auto_season = season is None and not Settings().detect_season
    if season is None:
        season = Settings().detect_season
    times: list[float] = []
    try:
        values = list(
            read_series(
                sys.stdin, lambda message: typer.echo(f"warning: {message}", err=True), times
            )
        )
    except CsvError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    if auto_season:
        history = min(int(0.15 * len(values)), 750)
        season = wall_clock_season(times[:history], values[:history])
    scorer = _detector_or_exit(detector, season)
    out: TextIO = sys.stdout
    lines = []
    for value in values:
        lines.append(f"{scorer.score_one(value):.6f}\n")
        scorer.learn_one(value)
    out.write("".join(lines))
    out.flush()


def read_timestamped(lines: Sequence[str]) -> tuple[list[float], list[float]]:
    """Timestamps (epoch seconds) and values of a ``timestamp,value`` CSV, validated as ``aiops score`` does.

    Raises :class:`CsvError` with the line number on bad input.

    >>> read_timestamped(["timestamp,value", "2026-11-27T21:00:00,1.5", "", "2026-11-27T21:01:00,"])
    ([1795813200.0, 1795813260.0], [1.5, nan])
    """
    values = list(read_series(lines))  # validates: header, numbers, time order
    reader = csv.reader(lines)
    names = [name.strip().lower() for name in next(reader)]
    column = names.index("timestamp")
    timestamps = [
        _timestamp(row[column].strip())
        for row in reader
        if row and any(cell.strip() for cell in row)
    ]
    return timestamps, values


@dataclass(frozen=True)
class Replay:
    """What a replay computed, point by point, and the alert transitions."""

    timestamps: list[float]
    values: list[float]
    scores: list[float]
    expected: list[float]  # NaN before the forecaster is initialised
    sigma: list[float]
    transitions: list  # of aiops.anomaly.alert_policy.Transition
    policy: object  # AlertPolicy


def replay(
    timestamps: Sequence[float],
    values: Sequence[float],
    season: int = 0,
    policy=None,
    detector: str = "",
) -> Replay:
    """Run a detector (default: the stream's) and the alert state machine over a series, causally, as the stream does.

    ``detector`` names one of the registry; one without a forecast (all but the
    default) leaves the expected band empty.

    >>> import random
    >>> rng = random.Random(1)
    >>> values = [rng.gauss(100, 2) for _ in range(400)]
    >>> values[300] = 160.0
    >>> result = replay([60.0 * i for i in range(400)], values)
    >>> [(e.kind, e.since) for e in result.transitions][:1]
    [('firing', 18000.0)]
    """
    from aiops.anomaly.alert_policy import AnomalyAlerter
    from aiops.anomaly.detectors.registry import DEFAULT_DETECTOR, build_detector

    policy = policy or AlertPolicy()
    scorer = build_detector(detector or DEFAULT_DETECTOR, season=season)
    forecast_of = getattr(scorer, "expected", lambda: None)
    alerter = AnomalyAlerter(policy)
    scores, expected, sigma, transitions = [], [], [], []
    for t, x in zip(timestamps, values):
        forecast = forecast_of()
        score = scorer.score_one(x)
        scorer.learn_one(x)
        scores.append(score)
        expected.append(forecast[0] if forecast else math.nan)
        sigma.append(forecast[1] if forecast else math.nan)
        event = alerter.update(t, score, None if math.isnan(x) else x, forecast)
        if event is not None:
            transitions.append(event)
    return Replay(list(timestamps), list(values), scores, expected, sigma, transitions, policy)


def _spans(result: Replay) -> list[tuple[float, float | None]]:
    """(since, resolved at or None) per episode."""
    spans: list[tuple[float, float | None]] = []
    for event in result.transitions:
        if event.kind == "firing":
            spans.append((event.since, None))
        elif spans:
            spans[-1] = (spans[-1][0], event.at)
    return spans


def plot_replay(result: Replay, path: Path, k: float = 3.0, title: str = "") -> None:
    """A PNG: the series with the expected band (forecast ± k·sigma) and alert spans above, the score below."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt
    import numpy as np

    times = [datetime.fromtimestamp(t, UTC) for t in result.timestamps]
    forecast, sigma = np.asarray(result.expected), np.asarray(result.sigma)
    end = times[-1] if times else None
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, height_ratios=(3, 1))
    top.plot(times, result.values, lw=0.8, color="black", label="value")
    top.plot(times, forecast, lw=0.8, color="tab:blue", label="expected")
    top.fill_between(
        times,
        forecast - k * sigma,
        forecast + k * sigma,
        color="tab:blue",
        alpha=0.2,
        label=f"expected ± {k:g}σ",
    )
    bottom.plot(times, result.scores, lw=0.8, color="tab:purple", label="score")
    policy = result.policy
    bottom.axhline(policy.threshold, color="tab:red", lw=0.8, ls="--", label="threshold")
    bottom.axhline(policy.clear_threshold, color="tab:orange", lw=0.8, ls=":", label="clear")
    for i, (since, until) in enumerate(_spans(result)):
        stop = datetime.fromtimestamp(until, UTC) if until is not None else end
        start = datetime.fromtimestamp(since, UTC)
        for axis in (top, bottom):
            axis.axvspan(
                start,
                stop,
                color="tab:red",
                alpha=0.25,
                label="alert" if i == 0 and axis is top else None,
            )
    bottom.set_ylim(0, 1.05)
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small")
    bottom.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def _episodes(result: Replay) -> Iterable[dict]:
    firing = None
    for event in result.transitions:
        if event.kind == "firing":
            if firing is not None:
                yield {"firing": firing, "resolved": None}
            firing = event
        else:
            yield {"firing": firing, "resolved": event}
            firing = None
    if firing is not None:
        yield {"firing": firing, "resolved": None}


def replay_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="CSV with a 'timestamp,value' header"),
    ],
    plot: Annotated[
        Path | None,
        typer.Option(help="also write a PNG: series, expected band, score, alert spans"),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="print the AlertV1 events as JSON lines")
    ] = False,
    detector: Annotated[
        str,
        typer.Option(
            help="a detector of the registry (aiops evaluate lists them) [default: the stream's]"
        ),
    ] = "",
    season: Annotated[
        int | None,
        typer.Option(
            help="season length in points of the Holt-Winters forecaster; 0: none [default: AIOPS_DETECT_SEASON or 0]"
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="metric name in the alerts [default: the file's stem]")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="score at or above which a point is anomalous")
    ] = _POLICY.threshold,
    clear_threshold: Annotated[
        float, typer.Option(help="score below which a firing alert resolves (hysteresis)")
    ] = _POLICY.clear_threshold,
    min_points: Annotated[
        int, typer.Option(help="consecutive anomalous points before firing")
    ] = _POLICY.min_points,
    min_seconds: Annotated[
        float, typer.Option(help="seconds since the first anomalous point before firing")
    ] = _POLICY.min_seconds,
    quiet_points: Annotated[
        int, typer.Option(help="points after a resolve during which nothing fires")
    ] = _POLICY.quiet_points,
    quiet_seconds: Annotated[
        float, typer.Option(help="seconds after a resolve during which nothing fires")
    ] = _POLICY.quiet_seconds,
    band: Annotated[
        float, typer.Option(help="k of the plotted expected band, forecast ± k·sigma")
    ] = 3.0,
) -> None:
    """Run a detector (default: the stream's) and the alert logic offline on a CSV; print the alerts (and plot them)."""
    from rich.console import Console
    from rich.table import Table

    from aiops.anomaly.alert_policy import anomaly_alert
    from aiops.settings import Settings

    if season is None:
        season = Settings().detect_season
    try:
        policy = AlertPolicy(
            threshold, clear_threshold, min_points, min_seconds, quiet_points, quiet_seconds
        )
        timestamps, values = read_timestamped(file.read_text().splitlines())
        result = replay(timestamps, values, season=season, policy=policy, detector=detector)
    except KeyError as error:
        typer.echo(f"error: {error.args[0]}", err=True)
        raise typer.Exit(code=1) from None
    except (CsvError, ValueError) as error:
        typer.echo(f"error: {file}: {error}", err=True)
        raise typer.Exit(code=1) from None
    metric = metric or file.stem
    url = file.resolve().as_uri()
    if plot is not None:
        plot_replay(
            result,
            plot,
            k=band,
            title=f"{metric}: {sum(e.kind == 'firing' for e in result.transitions)} alert(s)",
        )
    if json_output:
        for episode in _episodes(result):
            fired = anomaly_alert(episode["firing"], metric, generator_url=url, policy=policy)
            typer.echo(fired.model_dump_json(by_alias=True))
            if episode["resolved"] is not None:
                resolved = anomaly_alert(
                    episode["resolved"], metric, generator_url=url, policy=policy, firing=fired
                )
                typer.echo(resolved.model_dump_json(by_alias=True))
        return
    from datetime import UTC, datetime

    def when(t: float | None) -> str:
        return (
            "still firing"
            if t is None
            else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")
        )

    table = Table(
        "since",
        "fired",
        "resolved",
        "peak score",
        "actual",
        "expected ± sigma",
        title=f"alerts on {metric}",
    )
    for episode in _episodes(result):
        fired, resolved = episode["firing"], episode["resolved"]
        peak = resolved or fired
        expected = "n/a" if peak.expected is None else f"{peak.expected:.4g} ± {peak.sigma:.3g}"
        actual = "n/a" if peak.actual is None else f"{peak.actual:.4g}"
        table.add_row(
            when(fired.since),
            when(fired.at),
            when(resolved.at if resolved else None),
            f"{peak.peak_score:.3f}",
            actual,
            expected,
        )
    console = Console()
    console.print(table)
    count = sum(1 for event in result.transitions if event.kind == "firing")
    console.print(
        f"{count} alert(s) over {len(values)} points; threshold {threshold:g}, clear {clear_threshold:g}"
    )
    if plot is not None:
        console.print(f"plot: {plot}")


def evaluate_command(
    corpus: Annotated[
        str,
        typer.Option(
            help="'default' (48 generated files, about a minute), 'tiny' (6 generated files), "
            "'aeon' (2 public labelled files from the aeon package: pip install -e '.[eval]'), "
            "'all' (default and aeon), 'v2' (30 production-like files), 'v2-train' (v2, seeds 0-2: "
            "choose defaults here), 'v2-heldout' (v2, seeds 10-12: report here) or 'quiet' (the "
            "quiet-series checks: share of rows >= 0.5 after 15%, target <= 0.2%)"
        ),
    ] = "default",
    seed: Annotated[int, typer.Option(help="seed of the corpus")] = 0,
    detector: Annotated[
        list[str] | None,
        typer.Option(
            help="detector name from the registry (repeatable) [default: the four reported]"
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(help="worker processes")] = min(2, os.cpu_count() or 1),
    markdown: Annotated[
        Path | None, typer.Option(help="also write the table as markdown to this file")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print every row as JSON")] = False,
) -> None:
    """Score detectors on a labelled corpus with the Numenta Anomaly Benchmark's rules, on every profile."""
    from rich.console import Console
    from rich.table import Table

    from aiops.anomaly.detectors.registry import EVALUATED, REGISTRY
    from aiops.anomaly.evaluation.corpus import default_corpus, tiny_corpus
    from aiops.anomaly.evaluation.corpus_v2 import HELD_OUT_SEEDS, TRAIN_SEEDS, corpus_v2
    from aiops.anomaly.evaluation.packaged import PackageMissing, aeon_corpus
    from aiops.anomaly.evaluation.run import evaluate, markdown_table, quiet_shares

    builders = {
        "default": default_corpus,
        "tiny": tiny_corpus,
        "aeon": lambda seed: aeon_corpus(),
        "all": lambda seed: default_corpus(seed) + aeon_corpus(),
        "v2": corpus_v2,
        "v2-train": lambda seed: [file for s in TRAIN_SEEDS for file in corpus_v2(s)],
        "v2-heldout": lambda seed: [file for s in HELD_OUT_SEEDS for file in corpus_v2(s)],
        "quiet": None,
    }
    if corpus not in builders:
        typer.echo(f"error: unknown corpus {corpus!r}; choose from {', '.join(builders)}", err=True)
        raise typer.Exit(code=1)
    names = detector or list(EVALUATED)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        typer.echo(
            f"error: unknown detector(s) {', '.join(unknown)}; choose from {', '.join(sorted(REGISTRY))}",
            err=True,
        )
        raise typer.Exit(code=1)
    if corpus == "quiet":
        shares = quiet_shares(names, seed)
        if json_output:
            typer.echo(json.dumps(shares, sort_keys=True))
            return
        labels = list(next(iter(shares.values())))
        table = Table(
            "detector", *labels, title="Share of rows >= 0.5 after the first 15% (target <= 0.2%)"
        )
        for name, row in shares.items():
            table.add_row(name, *(f"{100 * row[label]:.2f}%" for label in labels))
        Console().print(table)
        return
    try:
        files = builders[corpus](seed)
    except PackageMissing as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    seeds = {"v2-train": f"seeds {TRAIN_SEEDS}", "v2-heldout": f"seeds {HELD_OUT_SEEDS}"}.get(
        corpus, f"seed {seed}"
    )
    rows = evaluate(files, names, jobs=jobs, progress=lambda message: typer.echo(message, err=True))
    text = markdown_table(rows)
    if markdown is not None:
        points = sum(len(file) for file in files)
        windows = sum(len(file.anomalies) for file in files)
        markdown.write_text(
            f"NAB normalised scores (null 0, perfect 100), threshold optimised per profile; corpus '{corpus}' "
            f"{seeds}: {len(files)} files, {points:,} points, {windows} labelled anomalies.\n\n{text}\n"
        )
    if json_output:
        for row in rows:
            typer.echo(json.dumps(asdict(row)))
        return
    profiles = list(dict.fromkeys(row.profile for row in rows))
    table = Table("detector", *profiles, title=f"NAB normalised score, corpus '{corpus}' ({seeds})")
    cells = {(row.detector, row.profile): row for row in rows}
    for name in dict.fromkeys(row.detector for row in rows):
        table.add_row(name, *(f"{cells[name, p].normalised:.1f}" for p in profiles))
    Console().print(table)
