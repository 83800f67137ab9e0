"""Public labelled series that a PyPI package ships in its wheel, read as NAB files for ``aiops evaluate``.

The source is aeon (BSD-3-Clause, the ``eval`` extra): its wheel carries, in
TimeEval's canonical CSV format (``timestamp,value,is_anomaly``, one row per
point, ``is_anomaly`` 1 on every point of a labelled range):

- ``KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv``: a patient's
  heart rate from the UCR Time Series Anomaly Archive (Wu & Keogh, SIGKDD 2021
  contest), 7,501 points, one labelled range;
- ``UnitTest/ecg-diff-count-3_TEST.csv``: a synthetic ECG made by TimeEval's
  GutenTAG, 10,000 points, three labelled ranges.

Nothing is downloaded: the files are read from the installed package; only
aeon's top-level module (its version string) is imported, none of its numba,
pandas or scikit-learn code.

Labels become NAB labels once: each contiguous run of ``is_anomaly`` is one
anomaly, labelled at its first point, and :func:`~aiops.anomaly.evaluation.nab.windows`
centres NAB's window on it (10% of the file split over its anomalies).

Where it fails: two files and four anomalies are far too few to rank
detectors (one window moves a score by tens of points); neither series looks
like a service metric; a range longer than half its window sticks out of it;
ecg-diff-count-3 is deprecated in aeon 1.6 and gone in 1.7 (hence the pin).

>>> file = read_timeeval_csv("demo", ["timestamp,value,is_anomaly", "0,1.5,0", "1,9.0,1", "2,1.4,0"])
>>> file.values, file.anomalies, file.timestamps
([1.5, 9.0, 1.4], (1,), [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import csv
import importlib.resources
import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime

from aiops.anomaly.evaluation.nab import LabelledSeries

__all__ = ["AEON_FILES", "PackageMissing", "aeon_corpus", "label_onsets", "read_timeeval_csv"]

AEON_FILES = (
    ("ucr-135-internal-bleeding", "KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"),
    ("gutentag-ecg-diff-count-3", "UnitTest/ecg-diff-count-3_TEST.csv"),
)
"""(name, path under ``aeon/datasets/data``) of every labelled univariate file aeon ships."""


class PackageMissing(RuntimeError):
    """The package that ships a corpus is not installed."""


def label_onsets(flags: Sequence[int]) -> tuple[int, ...]:
    """The first index of every run of non-zero flags: one NAB label per labelled range.

    >>> label_onsets([0, 1, 1, 0, 0, 1, 0, 1])
    (1, 5, 7)
    """
    return tuple(i for i, flag in enumerate(flags) if flag and (i == 0 or not flags[i - 1]))


def _seconds(text: str) -> float:
    """A TimeEval timestamp (a number, or an ISO date-time) as seconds."""
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def read_timeeval_csv(name: str, lines: Iterable[str]) -> LabelledSeries:
    """One univariate TimeEval CSV (``timestamp,<value>,is_anomaly``) as a labelled NAB file.

    Raises ``ValueError`` naming the file and line on anything else.

    >>> read_timeeval_csv("wide", ["timestamp,a,b,is_anomaly", "0,1,2,0"])
    Traceback (most recent call last):
    ...
    ValueError: wide: expected a header 'timestamp,<value>,is_anomaly', got 'timestamp,a,b,is_anomaly'
    """
    reader = csv.reader(lines)
    header = next(reader, [])
    if len(header) != 3 or header[0] != "timestamp" or header[2] != "is_anomaly":
        raise ValueError(
            f"{name}: expected a header 'timestamp,<value>,is_anomaly', got {','.join(header)!r}"
        )
    timestamps, values, flags = [], [], []
    for line, row in enumerate(reader, start=2):
        try:
            timestamps.append(_seconds(row[0]))
            values.append(float(row[1]))
            flags.append(int(float(row[2])))
        except (IndexError, ValueError) as error:
            raise ValueError(f"{name}: line {line}: {error}") from None
    steps = sorted(b - a for a, b in itertools.pairwise(timestamps))
    onsets = label_onsets(flags)
    return LabelledSeries(
        name=name,
        values=values,
        anomalies=onsets,
        kinds=("labelled",) * len(onsets),
        timestamps=timestamps,
        interval=steps[len(steps) // 2] if steps else 1.0,
        tags={"source": "aeon"},
    )


def aeon_corpus() -> list[LabelledSeries]:
    """The labelled files aeon's wheel ships (:data:`AEON_FILES`), read from the installed package.

    Raises :class:`PackageMissing` when aeon is not installed, or is a version without these files.
    """
    try:
        data = importlib.resources.files("aeon") / "datasets" / "data"
    except ModuleNotFoundError:
        raise PackageMissing(
            "the 'aeon' corpus needs the aeon package: pip install -e '.[eval]'"
        ) from None
    corpus = []
    for name, path in AEON_FILES:
        try:
            text = (data / path).read_text()
        except FileNotFoundError:
            raise PackageMissing(
                f"the installed aeon does not ship {path}; the eval extra pins aeon>=1.6,<1.7"
            ) from None
        corpus.append(read_timeeval_csv(name, text.splitlines()))
    return corpus
