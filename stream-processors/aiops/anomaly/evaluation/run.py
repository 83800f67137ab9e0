"""Run detectors of the registry over a labelled corpus and score them with NAB's rules.

One set of defaults for every file, no per-file tuning. The one rule that
looks at the data: a detector that takes a ``season`` gets
:func:`~aiops.anomaly.detectors.seasonality.detect_season` of the file's
probationary period (the unscored prefix, history it would have in
production), the same rule for every such detector; the others take none.
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

__all__ = ["Row", "evaluate", "markdown_table", "score_file_with"]


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

    season = (
        detect_season(file.values[: probationary_period(len(file))]) if takes_season(name) else 0
    )
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
