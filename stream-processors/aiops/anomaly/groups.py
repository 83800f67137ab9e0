"""A time group's points in columns, and the plan that scores them, built once per shape of export.

The detect engine scores one export of one resource at a time (a *group*).
The points arrive as ``aiops.points/v2`` records (columns) or, from v1
writers and checkpoints, as one dict per point; either way a group holds
them as :class:`Part`\\ s: the rows' identities plus their numbers in numpy
arrays. What to do with the rows (which tracks they feed, which service-level
totals they add up to, which attribute values weigh in the attribution) does
not change from one export of a service to the next, so it is worked out once
per shape (:func:`plan_of`) and reused: scoring an export is then array work,
not Python work per point.

>>> rows = [Row("m{}@{}", "m", "gauge", {}, False)]
>>> part = Part(("v1", "m{}@{}"), rows, [0], [10_000_000_000], [False], [2.5], [0], [0.0])
>>> plan = plan_of([part])
>>> plan.names, [SIGNALS[s] for s in plan.item_signal]
(['m{}@{}|value'], ['value'])
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "HISTOGRAM_KINDS",
    "MEAN",
    "RATE",
    "SIGNALS",
    "VALUE",
    "Part",
    "Plan",
    "Row",
    "TotalPlan",
    "concat",
    "plan_of",
    "signal_names",
]

RATE, MEAN, VALUE = 0, 1, 2
HISTOGRAM_KINDS = frozenset({"histogram", "exponential_histogram"})
"""Point kinds with a count and a sum: classic (explicit bounds) and exponential histograms."""
SIGNALS = ("rate", "mean", "value")
"""Signal names by code: a histogram gives ``rate`` and ``mean``, a monotonic sum ``rate``, a gauge or an up-down sum ``value``."""

STATUS_ATTRIBUTES = ("http.response.status_code", "http.status_code")
"""Point attributes that hold an HTTP status code (stable and older semantic conventions)."""


@dataclass(frozen=True)
class Row:
    """One series' identity in a group: its v1 series key, metric, kind, point attributes, monotonicity."""

    series: str
    metric: str
    kind: str
    attributes: Mapping[str, Any]
    monotonic: bool


def signal_names(kind: str, monotonic: bool) -> tuple[int, ...]:
    """The signal codes a point of ``kind`` carries (none: not scorable).

    >>> [SIGNALS[s] for s in signal_names("histogram", False)], signal_names("exemplar", False)
    (['rate', 'mean'], ())
    >>> signal_names("exponential_histogram", True) == signal_names("histogram", True)
    True
    """
    if kind in HISTOGRAM_KINDS:
        return (RATE, MEAN)
    if kind == "sum" and monotonic:
        return (RATE,)
    if kind in ("gauge", "sum"):
        return (VALUE,)
    return ()


class Part:
    """Rows of one record (or one v1 point) that fell into one group, their numbers in columns.

    ``ident`` names the rows in order (the record's series-id column as
    bytes, or the v1 series key), so two parts with equal idents have the
    same rows; ``rows`` is a list of :class:`Row` (or a callable that makes
    it, so a record whose shape has a plan already never builds them).
    ``source`` is what :meth:`points` needs to give the rows back as v1
    dicts for a checkpoint: the v1 point itself, or ``(record, indices)``.
    """

    __slots__ = ("count", "ident", "reset", "rows", "source", "start", "sum", "time", "value")

    def __init__(
        self,
        ident: Hashable,
        rows: Any,
        start: Sequence[int],
        time: Sequence[int],
        reset: Sequence[bool],
        value: Sequence[float],
        count: Sequence[float],
        sum: Sequence[float],
        source: Any = None,
    ) -> None:
        self.ident = ident
        self.rows = rows
        self.start = np.asarray(start, dtype=np.int64)
        self.time = np.asarray(time, dtype=np.int64)
        self.reset = np.asarray(reset, dtype=bool)
        self.value = np.asarray(value, dtype=np.float64)
        self.count = np.asarray(count, dtype=np.float64)
        self.sum = np.asarray(sum, dtype=np.float64)
        self.source = source

    def row_list(self) -> list[Row]:
        if callable(self.rows):
            self.rows = self.rows()
        return self.rows


def concat(parts: Sequence[Part], name: str) -> np.ndarray:
    """One numeric column of a group's parts, end to end."""
    if len(parts) == 1:
        return getattr(parts[0], name)
    return np.concatenate([getattr(part, name) for part in parts])


@dataclass
class TotalPlan:
    """One metric's service-level totals: which rows add up, which are errors, who weighs what."""

    metric: str
    histogram: bool
    """Whether the metric's first row (in series order) is a histogram: then it has a mean."""
    rows: np.ndarray
    error_rows: np.ndarray
    has_status: bool
    attributes: list[tuple[str, list[str], np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )
    """Per attribute name: its ``name=value`` labels, the rows that carry it, each row's label
    index, and which of those rows are histograms (they weigh in the mean's attribution too)."""
    mean_labels: dict[str, np.ndarray] = field(default_factory=dict)
    """Per attribute name, the indices of its labels that some histogram row carries."""

    def shares(
        self, signal: str, requests: np.ndarray, spent: np.ndarray
    ) -> tuple[list[str], np.ndarray]:
        """Each ``name=value`` label's share of its attribute this group: of the requests (``rate``) or of the time spent (``mean``).

        Labels in a fixed order (attribute by attribute); an attribute whose
        total is zero has no shares. Only histograms weigh in the mean's.
        """
        labels_out: list[str] = []
        parts: list[np.ndarray] = []
        for name, labels, rows, index, histogram in self.attributes:
            if signal == "rate":
                weight = np.bincount(index, weights=requests[rows], minlength=len(labels))
                present = labels
            else:
                if not histogram.any():
                    continue
                weight = np.bincount(
                    index[histogram], weights=spent[rows][histogram], minlength=len(labels)
                )
                present_index = self.mean_labels[name]
                weight = weight[present_index]
                present = [labels[i] for i in present_index.tolist()]
            total = weight.sum()
            if total <= 0:
                continue
            labels_out.extend(present)
            parts.append(weight / total)
        return labels_out, np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class Plan:
    """How to score a group of one shape: which rows to keep, the per-point items, the totals."""

    keep: np.ndarray | None
    """Row indices kept, in series order (the last of duplicates wins); ``None``: all, as they are."""
    rows: list[Row]
    histogram: np.ndarray
    has_rate: np.ndarray
    item_row: np.ndarray
    item_signal: np.ndarray
    names: list[str]
    """Each item's track name (``<series>|<signal>``)."""
    totals: list[TotalPlan]


def _status(attributes: Mapping[str, Any]) -> int | None:
    for name in STATUS_ATTRIBUTES:
        if name in attributes:
            try:
                return int(attributes[name])
            except (TypeError, ValueError):
                return None
    return None


def plan_of(parts: Sequence[Part]) -> Plan:
    """Work out the plan for a group made of ``parts`` (pure; the engine caches it by the parts' idents)."""
    rows = [row for part in parts for row in part.row_list()]
    last = {row.series: i for i, row in enumerate(rows)}
    order = sorted(last)
    keep = [last[series] for series in order]
    kept = [rows[i] for i in keep]
    histogram = np.array([row.kind in HISTOGRAM_KINDS for row in kept], dtype=bool)
    item_row, item_signal, names = [], [], []
    has_rate = np.zeros(len(kept), dtype=bool)
    by_metric: dict[str, list[int]] = {}
    for i, row in enumerate(kept):
        codes = signal_names(row.kind, row.monotonic)
        for code in codes:
            item_row.append(i)
            item_signal.append(code)
            names.append(f"{row.series}|{SIGNALS[code]}")
        if RATE in codes:
            has_rate[i] = True
            by_metric.setdefault(row.metric, []).append(i)
    totals = []
    for metric, members in sorted(by_metric.items()):
        statuses = [_status(kept[i].attributes) if histogram[i] else None for i in members]
        labels_of: dict[str, dict[str, int]] = {}
        carriers: dict[str, tuple[list[int], list[int]]] = {}
        for position, i in enumerate(members):
            for name, value in kept[i].attributes.items():
                labels = labels_of.setdefault(name, {})
                index = labels.setdefault(f"{name}={value}", len(labels))
                rows_of, index_of = carriers.setdefault(name, ([], []))
                rows_of.append(i)
                index_of.append(index)
        attributes = [
            (
                name,
                list(labels_of[name]),
                np.array(carriers[name][0], dtype=np.int64),
                np.array(carriers[name][1], dtype=np.int64),
                histogram[np.array(carriers[name][0], dtype=np.int64)],
            )
            for name in labels_of
        ]
        totals.append(
            TotalPlan(
                metric,
                bool(histogram[members[0]]),
                np.array(members, dtype=np.int64),
                np.array(
                    [
                        i
                        for i, status in zip(members, statuses)
                        if status is not None and status >= 500
                    ],
                    dtype=np.int64,
                ),
                any(status is not None for status in statuses),
                attributes,
                {name: np.unique(index[hist]) for name, _, _, index, hist in attributes},
            )
        )
    return Plan(
        None if keep == list(range(len(rows))) else np.array(keep, dtype=np.int64),
        kept,
        histogram,
        has_rate,
        np.array(item_row, dtype=np.int64),
        np.array(item_signal, dtype=np.int64),
        names,
        totals,
    )
