"""The Numenta Anomaly Benchmark's scoring rules, as pure functions over labelled series and scores.

The rules (Lavin & Ahmad 2015; NAB's ``labeler.py`` and ``sweeper.py``):

- **Probationary period.** The first ``min(floor(0.15 * n), 750)`` points of
  each file are not scored (the detector is learning).
- **Anomaly windows.** Each labelled anomaly (a point index) is the centre of
  a window; the windows of one file cover 10% of its length in all,
  ``int(0.1 * n / k)`` points each for ``k`` anomalies; overlapping windows
  are merged.
- **True positives.** Only the earliest detection inside a window counts,
  rewarded by ``tp * sigma(p) / sigma(-1)`` where ``sigma`` is the scaled
  sigmoid ``2 / (1 + exp(5 p)) - 1`` and ``p = -(right - i + 1) / width`` the
  relative position (-1 at the window's first point, near 0 at its last):
  earlier is better, a detection at the window start earns ``tp``.
- **False positives.** A detection outside every window costs
  ``fp * sigma(p)`` with ``p = (i - right) / (width - 1)`` measured from the
  end of the preceding window (so a detection just after a window costs
  little, one more than three window widths after costs ``fp``), or ``fp`` in
  full when no window precedes it.
- **False negatives.** A window without a detection costs ``fn``. True
  negatives score 0 (``tn`` is carried for completeness, as in NAB's profiles).
- **Threshold.** A point is detected when its score is ``>= threshold``; the
  threshold is optimised over the whole corpus, per profile
  (:func:`optimise_threshold`: an exact sweep over every distinct score, and
  "never fire").
- **Normalisation.** ``100 * (raw - null) / (perfect - null)`` where the null
  detector never fires (every window a FN) and the perfect one fires at every
  window's first point and nowhere else: null scores 0, perfect 100.

Windows that end inside the probationary period are dropped (NAB's corpus has
none); a window that straddles its end keeps its full width for positions.

Where it differs from NAB: labels are point indices rather than timestamps
(the same thing on a regular series); NAB rounds window edges through
timestamps, we floor ``width / 2`` on each side of the label.

>>> file = LabelledSeries("demo", [0.0] * 1000, anomalies=(500,))
>>> windows(file)
[(450, 550)]
>>> scores = [0.0] * 1000
>>> scores[450] = 1.0                      # at the window start: a full TP
>>> result = score_corpus([file], [scores], PROFILES["standard"])
>>> result.threshold, round(result.normalised, 1)
(1.0, 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "PROFILES",
    "CorpusScore",
    "LabelledSeries",
    "Profile",
    "optimise_threshold",
    "probationary_period",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "windows",
]

WINDOW_FRACTION = 0.10
PROBATION_FRACTION = 0.15
PROBATION_MAX = 750


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile (``config/profiles.json``).

    >>> PROFILES["reward_low_FN_rate"].fn
    2.0
    """

    name: str
    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0
    tn: float = 1.0


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", tp=1.0, fp=0.11, fn=1.0, tn=1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0, tn=1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0, tn=1.0),
}
"""NAB's three profiles with their published weights."""


@dataclass(frozen=True)
class LabelledSeries:
    """One benchmark file: values, labelled anomaly onsets (point indices), and what they are."""

    name: str
    values: Sequence[float]
    anomalies: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    timestamps: Sequence[float] | None = None
    interval: float = 60.0
    tags: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)


def probationary_period(n: int) -> int:
    """Points not scored at the start of a file of ``n`` points: ``min(floor(0.15 n), 750)``.

    >>> probationary_period(1000), probationary_period(10_000)
    (150, 750)
    """
    return min(math.floor(PROBATION_FRACTION * n), PROBATION_MAX)


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: ``2 / (1 + exp(5 p)) - 1``, and -1 beyond ``p > 3``.

    >>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.9866, 0.0, -1.0)
    """
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def windows(file: LabelledSeries) -> list[tuple[int, int]]:
    """The file's anomaly windows as inclusive ``(left, right)`` index pairs, merged, probation applied.

    >>> windows(LabelledSeries("two", [0.0] * 2000, anomalies=(600, 640)))
    [(550, 690)]
    """
    n = len(file)
    k = len(file.anomalies)
    if k == 0 or n == 0:
        return []
    half = int(WINDOW_FRACTION * n / k) // 2
    spans = sorted((max(a - half, 0), min(a + half, n - 1)) for a in file.anomalies)
    merged: list[list[int]] = []
    for left, right in spans:
        if merged and left <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], right)
        else:
            merged.append([left, right])
    probation = probationary_period(n)
    return [(left, right) for left, right in merged if right >= probation]


@dataclass(frozen=True)
class _Points:
    """Per scored point: its score, its value if detected, and its window (-1: none)."""

    scores: np.ndarray
    gains: np.ndarray  # TP reward (in a window) or FP cost (outside), weighted
    window: np.ndarray  # global window id or -1
    n_windows: int


def _points(
    file: LabelledSeries, scores: Sequence[float], profile: Profile, first_window: int = 0
) -> _Points:
    n = len(file)
    if len(scores) != n:
        raise ValueError(f"{file.name}: {len(scores)} scores for {n} values")
    probation = probationary_period(n)
    spans = windows(file)
    max_tp = scaled_sigmoid(-1.0)
    gains = np.empty(n)
    window = np.full(n, -1, dtype=np.int64)
    previous: tuple[int, int] | None = None
    w = 0
    for i in range(n):
        while w < len(spans) and i > spans[w][1]:
            previous = spans[w]
            w += 1
        if w < len(spans) and spans[w][0] <= i:
            left, right = spans[w]
            width = right - left + 1
            gains[i] = profile.tp * scaled_sigmoid(-(right - i + 1) / width) / max_tp
            window[i] = first_window + w
        elif previous is None:
            gains[i] = -profile.fp
        else:
            width = previous[1] - previous[0] + 1
            gains[i] = profile.fp * scaled_sigmoid(abs(i - previous[1]) / max(width - 1, 1))
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    return _Points(s[probation:], gains[probation:], window[probation:], len(spans))


@dataclass(frozen=True)
class CorpusScore:
    """A detector's result on a corpus for one profile.

    >>> CorpusScore("standard", 0.5, raw=1.0, null=-4.0, perfect=4.0, tp=3, fp=2, fn=1).normalised
    62.5
    """

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int

    @property
    def normalised(self) -> float:
        """``100 * (raw - null) / (perfect - null)``: 0 for the null detector, 100 for a perfect one."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span else 0.0


def _sweep(points: list[_Points], profile: Profile) -> tuple[float, float]:
    """The threshold with the highest raw score (ties: the highest threshold), and that score."""
    n_windows = sum(p.n_windows for p in points)
    if not points:
        return math.inf, 0.0
    scores = np.concatenate([p.scores for p in points])
    gains = np.concatenate([p.gains for p in points])
    window = np.concatenate([p.window for p in points])
    position = np.arange(
        len(scores)
    )  # earlier index in a window = earlier point (windows never span files)
    order = np.lexsort((position, -scores))
    best_total, best_threshold = -profile.fn * n_windows, math.inf
    total = best_total
    first: dict[int, int] = {}
    k = 0
    n = len(order)
    while k < n:
        threshold = scores[order[k]]
        if threshold == -np.inf:
            break
        while k < n and scores[order[k]] == threshold:
            i = order[k]
            w = window[i]
            if w < 0:
                total += gains[i]
            else:
                current = first.get(w)
                if current is None:
                    total += gains[i] + profile.fn
                    first[w] = i
                elif i < current:
                    total += gains[i] - gains[current]
                    first[w] = i
            k += 1
        if total > best_total + 1e-12:
            best_total, best_threshold = total, float(threshold)
    return best_threshold, best_total


def _evaluate(points: list[_Points], profile: Profile, threshold: float) -> CorpusScore:
    n_windows = sum(p.n_windows for p in points)
    raw, tp, fp = 0.0, 0, 0
    for p in points:
        detected = p.scores >= threshold
        outside = detected & (p.window < 0)
        raw += float(p.gains[outside].sum())
        fp += int(outside.sum())
        seen: set[int] = set()
        for i in np.flatnonzero(detected & (p.window >= 0)):
            w = int(p.window[i])
            if w not in seen:
                seen.add(w)
                raw += float(p.gains[i])
        tp += len(seen)
    fn = n_windows - tp
    raw -= profile.fn * fn
    return CorpusScore(
        profile.name, threshold, raw, -profile.fn * n_windows, profile.tp * n_windows, tp, fp, fn
    )


def _all_points(
    files: Sequence[LabelledSeries], scores: Sequence[Sequence[float]], profile: Profile
) -> list[_Points]:
    if len(files) != len(scores):
        raise ValueError(f"{len(scores)} score lists for {len(files)} files")
    points, first = [], 0
    for file, file_scores in zip(files, scores):
        p = _points(file, file_scores, profile, first)
        points.append(p)
        first += p.n_windows
    return points


def optimise_threshold(
    files: Sequence[LabelledSeries], scores: Sequence[Sequence[float]], profile: Profile
) -> float:
    """The detection threshold that maximises the corpus' raw score for ``profile`` (``inf``: never fire).

    >>> file = LabelledSeries("f", [0.0] * 1000, anomalies=(500,))
    >>> s = [0.1] * 1000; s[470] = 0.8; s[800] = 0.6
    >>> optimise_threshold([file], [s], PROFILES["standard"])
    0.8
    """
    return _sweep(_all_points(files, scores, profile), profile)[0]


def score_file(
    file: LabelledSeries, scores: Sequence[float], profile: Profile, threshold: float
) -> CorpusScore:
    """One file's NAB score at a fixed threshold.

    >>> file = LabelledSeries("f", [0.0] * 1000, anomalies=(500,))
    >>> s = [0.0] * 1000; s[300] = 1.0    # a false positive before any window
    >>> result = score_file(file, s, PROFILES["reward_low_FP_rate"], 0.5)
    >>> (result.fp, result.fn, round(result.raw, 2))
    (1, 1, -1.22)
    """
    return _evaluate(_all_points([file], [scores], profile), profile, threshold)


def score_corpus(
    files: Sequence[LabelledSeries],
    scores: Sequence[Sequence[float]],
    profile: Profile,
    threshold: float | None = None,
) -> CorpusScore:
    """The corpus' NAB score for ``profile``, at ``threshold`` or at the optimised one (``None``).

    >>> file = LabelledSeries("f", [0.0] * 1000, anomalies=(500,))
    >>> score_corpus([file], [[0.0] * 1000], PROFILES["standard"]).normalised   # the null detector
    0.0
    """
    points = _all_points(files, scores, profile)
    if threshold is None:
        threshold = _sweep(points, profile)[0]
    return _evaluate(points, profile, threshold)
