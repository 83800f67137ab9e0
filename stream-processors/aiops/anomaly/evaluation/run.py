"""Run detectors of the registry over a labelled corpus and score them with NAB's rules.

One set of defaults for every file, no per-file tuning. The one rule that
looks at the data: a detector that takes a ``season`` gets the season of the
file's probationary period (the unscored prefix, history it would have in
production), the same rule for every such detector and the one ``aiops
score`` applies: :func:`~aiops.anomaly.detectors.seasonality.wall_clock_season`
(the strongest hourly, daily or weekly cycle) for a file with timestamps,
:func:`~aiops.anomaly.detectors.seasonality.detect_season` for one without; the
others take none.
Each file is scored causally from the first point (``score_many``).

Which detectors run by default is the registry's
:data:`~aiops.anomaly.detectors.registry.EVALUATED`.

>>> from aiops.anomaly.evaluation.corpus import generate_corpus
>>> rows = evaluate(generate_corpus([(400, 3600.0)]), ["windowed_gaussian"])
>>> [(row.detector, row.profile) for row in rows][:1]
[('windowed_gaussian', 'standard')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from aiops.anomaly.evaluation.nab import (
    PROFILES,
    LabelledSeries,
    Profile,
    probationary_period,
    score_corpus,
)

__all__ = ["Row", "evaluate", "markdown_table", "quiet_shares", "score_file_with"]


@dataclass(frozen=True)
class Row:
    """One detector on one profile over the corpus."""

    detector: str
    profile: str
    normalised: float
    threshold: float
    tp: int
    fp: int
    fn: int


def score_file_with(name: str, file: LabelledSeries) -> list[float]:
    """Scores of ``file`` by a fresh detector ``REGISTRY[name]`` at its defaults (season: see module doc).

    >>> file = LabelledSeries("flat", [1.0] * 50)
    >>> scores = score_file_with("holt_winters", file)
    >>> len(scores), max(scores) < 0.5
    (50, True)
    """
    from aiops.anomaly.detectors import detect_season, score_many
    from aiops.anomaly.detectors.registry import build_detector, takes_season
    from aiops.anomaly.detectors.seasonality import wall_clock_season

    season = 0
    if takes_season(name):
        history = probationary_period(len(file))
        if file.timestamps is not None:
            season = wall_clock_season(file.timestamps[:history], file.values[:history])
        else:
            season = detect_season(file.values[:history])
    return score_many(build_detector(name, season=season), file.values)


def _score_task(task: tuple[str, LabelledSeries]) -> list[float]:
    return score_file_with(*task)


def evaluate(
    corpus: Sequence[LabelledSeries],
    names: Sequence[str] | None = None,
    profiles: Sequence[Profile] = tuple(PROFILES.values()),
    jobs: int = 1,
    progress: Callable[[str], None] = lambda message: None,
) -> list[Row]:
    """Score every detector in ``names`` (default: the registry's ``EVALUATED``) on every file, then every profile."""
    from aiops.anomaly.detectors.registry import EVALUATED

    rows = []
    for name in names or EVALUATED:
        progress(f"{name}: scoring {len(corpus)} files")
        tasks = [(name, file) for file in corpus]
        if jobs > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                scores = list(pool.map(_score_task, tasks, chunksize=1))
        else:
            scores = [_score_task(task) for task in tasks]
        for profile in profiles:
            result = score_corpus(corpus, scores, profile)
            rows.append(
                Row(
                    name,
                    profile.name,
                    result.normalised,
                    result.threshold,
                    result.tp,
                    result.fp,
                    result.fn,
                )
            )
    return rows


def quiet_shares(names: Sequence[str] | None = None, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per detector (default: the registry's ``EVALUATED``), per quiet series: the share of rows >= 0.5 after 15%.

    The quiet series are :func:`~aiops.anomaly.evaluation.corpus_v2.quiet_series`.
    Each is scored from its first point by a fresh detector, with the same
    season rule as :func:`score_file_with` (and ``aiops score``) on 5-minute
    timestamps; the target is at most 0.2% everywhere.

    >>> shares = quiet_shares(["windowed_gaussian"])
    >>> sorted(shares["windowed_gaussian"])[:2]
    ['flat_step', 'heavy_tailed']
    """
    from aiops.anomaly.detectors.registry import EVALUATED
    from aiops.anomaly.evaluation.corpus_v2 import quiet_series, quiet_share

    series = quiet_series(seed)
    times = [
        1_700_000_000.0 + 300.0 * i for i in range(len(next(iter(series.values()))))
    ]  # 5-minute steps
    return {
        name: {
            label: quiet_share(
                score_file_with(name, LabelledSeries(label, values.tolist(), timestamps=times))
            )
            for label, values in series.items()
        }
        for name in names or EVALUATED
    }


def markdown_table(rows: Sequence[Row]) -> str:
    """Normalised NAB scores, one row per detector, one column per profile (for the README).

    >>> print(markdown_table([Row("combined", "standard", 61.234, 0.5, 3, 1, 0)]))
    | detector | standard |
    | --- | ---: |
    | combined | 61.2 |
    """
    profiles = list(dict.fromkeys(row.profile for row in rows))
    detectors = list(dict.fromkeys(row.detector for row in rows))
    cell = {(row.detector, row.profile): row.normalised for row in rows}
    lines = ["| detector | " + " | ".join(profiles) + " |", "| --- |" + " ---: |" * len(profiles)]
    for detector in detectors:
        lines.append(
            f"| {detector} | " + " | ".join(f"{cell[detector, p]:.1f}" for p in profiles) + " |"
        )
    return "\n".join(lines)
