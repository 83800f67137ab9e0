"""Online detection for every series on the points topic: signals, time groups, attribution, alerts.

The pure engine behind the detect agent (no Kafka, no Faust). Points
(``aiops.points/v1`` records) go in with :meth:`DetectEngine.add`; scores and
Alertmanager-shaped alerts come out of :meth:`DetectEngine.close`.

Signals
    Each point becomes one or two numbers to score, each its own *track*
    (``<series>|<signal>``): a histogram gives ``rate`` (requests per second)
    and ``mean`` (sum over count); a monotonic sum gives ``rate``; a gauge or
    an up-down sum gives ``value``. Per metric and resource, the sum of the
    rates and the overall mean are tracks too (the *service-level* series,
    with no point attributes), so a fault spread thinly over many routes still
    shows.

Time groups
    One export of one resource (a service instance) holds all its points at
    (nearly) one time. A point joins the open group of its resource nearest
    in time within ``group_s``, unless that group holds its series already:
    an export has each series once, so that point starts the next export's
    group, however short the export interval (each export is scored on its
    own, none overwrites another). A group is scored once a later export of
    its resource has begun, when a point of the same resource at least
    ``group_s`` newer arrives, or ``close_after_s`` of wall-clock time after
    its first point (the last export before a pause). Groups close in
    event-time order, so every track learns its points in order. A point
    older than a closed group of its resource, or not newer than its track's
    last point, is *late* or *replayed* and not scored: that makes a replay
    after a restart idempotent.

Learning
    Each point is scored from its track's earlier points, then learnt, except
    a point of an episode (*pending*: above threshold, counting towards
    ``min_points``; or *firing*) younger than its policy's ``learn_after``
    points: its learning is taken back (the bank's ``hold``). A one-point
    blip so never teaches the detector, and a long incident keeps scoring
    against the time before it, so its alert stays open for its whole length
    and resolves when the series returns (instead of the incident being
    learnt as the new normal within a few points, and the return paging
    again). The episode's point ``learn_after`` is learnt and its value taken
    as the new level (:meth:`~aiops.anomaly.detectors.fast.FastCombined.relevel`):
    a lasting level step alerts once and resolves at the episode's point
    ``learn_after + clear_points`` (122 under the stream's default policy),
    whatever its size. ``learn_after = 0`` learns an episode from the point
    it fires. Where it fails: a change of variance (not level) is learnt at
    the detector's own rate after ``learn_after``, not at once; and a false
    alarm holds learning back until it resolves.

Attribution
    For the service-level series, each point attribute value's share (of the
    requests for ``rate``, of the time spent for ``mean``) is compared with
    its exponentially weighted baseline; the values whose share moved most are
    the alert's ``attribution`` ("http.response.status_code=500: 1% -> 48% of
    requests").

State and limits
    Detector state lives in one :class:`~aiops.anomaly.detectors.fast.FastCombined`
    bank (``bytes_per_series`` per track), capped at ``max_series`` tracks:
    beyond the cap a track is not created and its points count as
    ``skipped``. Tracks unseen for ``idle_s`` are expired.
    :meth:`export_source` and :meth:`restore_source` move a resource's state
    (its open groups, its tracks and their detector rows) to and from a
    checkpoint.

>>> engine = DetectEngine(policies=AlertPolicies.from_mapping({"default": {"alert": True}}))
>>> for i in range(100):
...     t = 1_800_000_000 + 10 * i
...     _ = engine.add(gauge("queue.depth", 5.0 + (i % 3) * 0.1, t), now=t)
>>> _ = engine.add(gauge("queue.depth", 90.0, t + 10), now=t + 10)
>>> closed = engine.close(now=t + 60)
>>> [(s.signal, s.value, round(s.score, 2)) for s in closed.scores][-1]
('value', 90.0, 1.0)
>>> [a.labels["alertname"] for a in closed.alerts]
['AnomalyDetected']
"""

from __future__ import annotations

import base64
import heapq
import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

import numpy as np

from aiops.anomaly.alert_policy import (
    AlertPolicies,
    AnomalyAlerter,
    Transition,
    anomaly_annotations,
    anomaly_labels,
)
from aiops.anomaly.detectors.fast import FastCombined, StepResult
from aiops.anomaly.groups import (
    HISTOGRAM_KINDS,
    RATE,
    SIGNALS,
    Part,
    Plan,
    Row,
    concat,
    plan_of,
    signal_names,
)
from aiops.anomaly.season_finder import SeasonFinder
from aiops.decode.otlp import series_key
from aiops.decode.points_v2 import FLAG_MONOTONIC, FLAG_RESET, columns, v1_series_key
from aiops.decode.points_v2 import SCHEMA as POINTS_V2

__all__ = [
    "Closed",
    "DetectEngine",
    "DetectorsRefused",
    "PointOutcome",
    "Score",
    "Scored",
    "attribution_text",
    "gauge",
    "record_source",
    "resource_key",
    "scores_of",
    "scores_records",
    "signals",
]

log = logging.getLogger(__name__)

SERVICE_LEVEL = "{}"
"""The point attributes of a service-level track: none."""

IDENTITY_RESOURCE = ("service.", "deployment.", "k8s.", "host.name")
"""Resource attributes (by prefix) that become alert labels; the SDK's own (telemetry.sdk.*) do not."""


class DetectorsRefused(ValueError):
    """A checkpoint's detector rows were refused; the rest of it (groups, alert states) is restored."""


class PointOutcome(Enum):
    """What :meth:`DetectEngine.add` did with a point."""

    ACCEPTED = "accepted"
    LATE = "late"
    """Older than a group of its resource already scored: not scored."""
    UNSCORABLE = "unscorable"
    """Not a points record, or no signal in it."""


def _label_set(attributes: Mapping[str, Any]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(attributes.items())) + "}"


def record_source(record: Mapping[str, Any]) -> str:
    """The resource key of a points-topic record (v2: its ``resource``; v1: the point's).

    >>> record_source({"schema": "aiops.points/v2", "resource": {"service.name": "demo"}})
    '{service.name="demo"}'
    """
    return _label_set(record.get("resource") or {})


def resource_key(point: Mapping[str, Any]) -> str:
    """The resource's identity: its attributes as a sorted label set (the part of a series after ``@``).

    >>> resource_key({"resource": {"service.name": "demo", "host.name": "a"}})
    '{host.name="a",service.name="demo"}'
    """
    return _label_set(point.get("resource") or {})


def signals(point: Mapping[str, Any]) -> dict[str, float]:
    """The numbers a point carries for detection, by signal name (NaN: no value this interval).

    >>> signals({"kind": "histogram", "count": 20, "sum": 3.0, "interval_start_unix_nano": 0,
    ...          "time_unix_nano": 10_000_000_000, "monotonic": False})
    {'rate': 2.0, 'mean': 0.15}
    >>> signals({"kind": "sum", "monotonic": True, "value": 30.0, "interval_start_unix_nano": 0,
    ...          "time_unix_nano": 10_000_000_000})
    {'rate': 3.0}
    >>> signals({"kind": "gauge", "value": 7.5, "monotonic": False})
    {'value': 7.5}
    """
    kind = point.get("kind")
    interval_s = (point.get("time_unix_nano", 0) - point.get("interval_start_unix_nano", 0)) / 1e9
    if kind in HISTOGRAM_KINDS:
        count = float(point.get("count", 0))
        return {
            "rate": count / interval_s if interval_s > 0 else math.nan,
            "mean": float(point.get("sum", 0.0)) / count if count > 0 else math.nan,
        }
    if kind == "sum" and point.get("monotonic"):
        return {"rate": float(point.get("value", 0.0)) / interval_s if interval_s > 0 else math.nan}
    if kind in ("gauge", "sum"):
        return {"value": float(point.get("value", math.nan))}
    return {}


def gauge(
    metric: str, value: float, t: float, service: str = "demo", **attributes: Any
) -> dict[str, Any]:
    """A gauge point record at epoch seconds ``t`` (for examples and tests).

    >>> gauge("queue.depth", 3.0, 10.0)["series"]
    'queue.depth{}@{service.name="demo"}'
    """
    resource = {"service.name": service}
    return {
        "schema": "aiops.points/v1",
        "series": f"{metric}{_label_set(attributes)}@{_label_set(resource)}",
        "metric": metric,
        "kind": "gauge",
        "unit": "1",
        "resource": resource,
        "attributes": attributes,
        "interval_start_unix_nano": 0,
        "time_unix_nano": int(t * 1e9),
        "monotonic": False,
        "reset": False,
        "value": value,
        "count": 0,
        "sum": 0.0,
        "bounds": [],
        "bucket_counts": [],
    }


class Score(NamedTuple):
    """One scored point of one track (an ``aiops.scores/v1`` record, see :meth:`as_record`)."""

    track: str
    series: str
    signal: str
    metric: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    time_unix_nano: int
    value: float
    expected: float
    sigma: float
    score: float
    source: str = ""
    """The resource's key (:func:`resource_key`), when the engine knows it."""

    @property
    def service(self) -> str:
        return str(self.resource.get("service.name", ""))

    def as_record(self) -> dict[str, Any]:
        """The ``aiops.scores/v1`` record; NaN (not known yet) becomes ``null``."""
        return {
            "schema": "aiops.scores/v1",
            **self.entry(),
            "service": self.service,
            "resource": self.resource,
        }

    def entry(self) -> dict[str, Any]:
        """The score's own fields, as a v1 score writes them (no resource); NaN becomes ``null``."""
        return {
            "track": self.track,
            "series": self.series,
            "signal": self.signal,
            "metric": self.metric,
            "attributes": self.attributes,
            "time_unix_nano": self.time_unix_nano,
            "value": _known(self.value),
            "expected": _known(self.expected),
            "sigma": _known(self.sigma),
            "score": _known(self.score),
        }


def _known(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


SCORES_V3 = "aiops.scores/v3"
_COLUMNS = ("time_unix_nano", "value", "expected", "sigma", "score")


def scores_records(scores: list[Score]) -> dict[str, dict[str, Any]]:
    """One ``aiops.scores/v3`` record per resource among ``scores``, by resource key, scores in order, in columns.

    A track's series ends with its resource's labels (``@{...}``), the same
    for every track of the record: the record holds that part once (``at``)
    and each score the part before it, so a record is about a quarter of the
    size of one that repeats the resource per score.

    >>> s = Score('q{}@{service.name="a"}|value', 'q{}@{service.name="a"}', "value", "q", {},
    ...           {"service.name": "a"}, 10, 1.0, 1.0, 0.1, 0.0)
    >>> records = scores_records([s, s])
    >>> record = records['{service.name="a"}']
    >>> record["at"], record["scores"]["series"], record["scores"]["at"]
    (['{service.name="a"}'], ['q{}', 'q{}'], [0, 0])
    >>> scores_of(record) == [s.as_record(), s.as_record()]
    True
    """
    tracks = [
        _Track(
            score.series,
            score.signal,
            score.metric,
            score.attributes,
            score.resource,
            score.source or _label_set(score.resource),
            AnomalyAlerter(),
        )
        for score in scores
    ]
    return _v3_records(
        Scored(
            tracks,
            [score.track for score in scores],
            np.array([score.time_unix_nano for score in scores], dtype=np.int64),
            *(
                np.array([getattr(score, name) for score in scores], dtype=np.float64)
                for name in ("value", "expected", "sigma", "score")
            ),
        )
    )


def _v3_records(scored: Scored) -> dict[str, dict[str, Any]]:
    by_source: dict[str, list[int]] = {}
    for i, track in enumerate(scored.tracks):
        by_source.setdefault(track.source, []).append(i)
    return {
        key: _v3_record(key, scored if len(index) == len(scored) else scored.take(index))
        for key, index in by_source.items()
    }


def _v3_record(key: str, scored: Scored) -> dict[str, Any]:
    """The ``aiops.scores/v3`` record of one resource's scores."""
    tracks = scored.tracks
    resource = tracks[0].resource
    ats = [key, _decoder_label_set(resource)]
    at_index = [track.at for track in tracks]
    if ats[1] == ats[0] or 1 not in at_index:
        ats.pop()
    return {
        "schema": SCORES_V3,
        "resource": resource,
        "service": str(resource.get("service.name", "")),
        "at": ats,
        "scores": {
            "series": [track.local for track in tracks],
            "at": at_index,
            "signal": [track.signal for track in tracks],
            "metric": [track.metric for track in tracks],
            "attributes": [track.attributes for track in tracks],
            "time_unix_nano": scored.time_unix_nano.tolist(),
            "value": _nullable(scored.value),
            "expected": _nullable(scored.expected),
            "sigma": _nullable(scored.sigma),
            "score": _nullable(scored.score),
        },
    }


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as a list, NaN (not known) as ``None``."""
    return np.where(np.isnan(values), None, values).tolist()


def scores_of(record: object) -> list[dict[str, Any]]:
    """The ``aiops.scores/v1`` dicts of a record on the scores topic (v3 or v2 records' scores, or a v1 record).

    Readers take every version for one release, so records written before an
    upgrade still read.

    >>> scores_of({"schema": "aiops.scores/v1", "track": "t"}), scores_of("junk")
    ([{'schema': 'aiops.scores/v1', 'track': 't'}], [])
    """
    if not isinstance(record, dict):
        return []
    schema = record.get("schema")
    if schema == "aiops.scores/v1":
        return [record]
    if schema not in (SCORES_V3, "aiops.scores/v2"):
        return []
    common = {
        "schema": "aiops.scores/v1",
        "service": record["service"],
        "resource": record["resource"],
    }
    if schema == "aiops.scores/v2":
        return [{**common, **entry} for entry in record["scores"]]
    columns = record["scores"]
    ats = record["at"]
    out = []
    for i, (local, at, signal) in enumerate(
        zip(columns["series"], columns["at"], columns["signal"])
    ):
        series = local if at < 0 else f"{local}@{ats[at]}"
        out.append(
            {
                **common,
                "track": f"{series}|{signal}",
                "series": series,
                "signal": signal,
                "metric": columns["metric"][i],
                "attributes": columns["attributes"][i],
                **{name: columns[name][i] for name in _COLUMNS},
            }
        )
    return out


@dataclass
class _Group:
    """Points of one resource at one export time, waiting to be scored (as :class:`~aiops.anomaly.groups.Part`\\ s)."""

    t: float
    arrived: float
    parts: list[Part] = field(default_factory=list)
    members: dict = field(default_factory=dict)
    """Its series (v1 keys of v1 points, series ids of v2 records) and their times: an export holds each once."""
    done: bool = False
    """A newer export of the resource began (a series came again), so no point of this one is still due."""


@dataclass
class _Source:
    """One resource: its open groups, the newest time seen, the last time scored, attribution baselines.

    ``plans`` caches the :class:`~aiops.anomaly.groups.Plan` of each shape of
    export seen lately (by the idents of the group's parts).
    """

    pending: list[_Group] = field(default_factory=list)
    newest: float = -math.inf
    closed_upto: float = -math.inf
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    tracks: set[str] = field(default_factory=set)
    resource: dict[str, Any] = field(default_factory=dict)
    plans: dict[tuple, Plan] = field(default_factory=dict)


_PLANS_PER_SOURCE = 16
"""Shapes of export remembered per resource (a service whose exports vary more plans again)."""


def _v1_part(point: Mapping[str, Any]) -> Part:
    """A one-row part from a v1 point dict."""
    kind = point["kind"]
    monotonic = bool(point.get("monotonic"))
    row = Row(
        point["series"], point["metric"], kind, dict(point.get("attributes") or {}), monotonic
    )
    return Part(
        ("v1", row.series, kind, monotonic),
        [row],
        [point.get("interval_start_unix_nano", 0)],
        [point["time_unix_nano"]],
        [bool(point.get("reset"))],
        [_number(point.get("value", 0.0 if kind == "sum" and monotonic else math.nan))],
        [_number(point.get("count", 0))],
        [_number(point.get("sum", 0.0))],
        source=point,
    )


def _number(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _v1_points(part: Part, resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A part's rows as v1 point dicts (for a checkpoint's open groups)."""
    if isinstance(part.source, Mapping):
        return [dict(part.source)]
    return [
        {
            "schema": "aiops.points/v1",
            "series": row.series,
            "metric": row.metric,
            "kind": row.kind,
            "resource": resource,
            "attributes": row.attributes,
            "interval_start_unix_nano": start,
            "time_unix_nano": time,
            "monotonic": row.monotonic,
            "reset": reset,
            "value": value,
            "count": count,
            "sum": total,
        }
        for row, start, time, reset, value, count, total in zip(
            part.row_list(),
            part.start.tolist(),
            part.time.tolist(),
            part.reset.tolist(),
            part.value.tolist(),
            part.count.tolist(),
            part.sum.tolist(),
        )
    ]


@dataclass
class _Track:
    """One track's alert state and identity (its detector state is a row of the bank)."""

    series: str
    signal: str
    metric: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    source: str
    alerter: AnomalyAlerter
    last_t: float = -math.inf
    seen: float = -math.inf
    """Wall-clock time it last scored a point (for idle expiry)."""
    episode: dict[str, Any] | None = None
    season: tuple[float, int] | None = None
    """Its wall-clock season, ``(period in seconds, points)``; ``(0.0, 0)``: none; ``None``: not found yet
    (or ``AIOPS_DETECT_SEASON`` sets it for every track)."""
    local: str = ""
    """The series up to its resource's label set (how an ``aiops.scores/v3`` record writes it)."""
    at: int = -1
    """Which label set ends the series: 0 the engine's resource key, 1 the decoder's, -1 neither."""

    def __post_init__(self) -> None:
        self.local, self.at = self.series, -1
        for at, label_set in enumerate((self.source, _decoder_label_set(self.resource))):
            if self.series.endswith("@" + label_set):
                self.local, self.at = self.series[: -len(label_set) - 1], at
                break


def _decoder_label_set(resource: Mapping[str, Any]) -> str:
    """A resource's label set as the decoder writes it in series keys (after the ``@``)."""
    return series_key("", {}, resource)[3:]


@dataclass
class Scored:
    """What one :meth:`DetectEngine.close` scored, in columns: each point's track, then its numbers."""

    tracks: list[_Track] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    time_unix_nano: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    expected: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sigma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.names)

    def take(self, index: list[int]) -> Scored:
        """The scores at ``index``, in that order."""
        rows = np.asarray(index, dtype=np.int64)
        return Scored(
            [self.tracks[i] for i in index],
            [self.names[i] for i in index],
            self.time_unix_nano[rows],
            self.value[rows],
            self.expected[rows],
            self.sigma[rows],
            self.score[rows],
        )


@dataclass
class Closed:
    """What one :meth:`DetectEngine.close` produced.

    The scores are kept as the engine made them; :attr:`scores` gives them as
    :class:`Score` objects, :meth:`records` as ``aiops.scores/v3`` records
    (without a :class:`Score` per point).
    """

    scored: Scored = field(default_factory=Scored)
    alerts: list[Any] = field(default_factory=list)
    """:class:`~aiops.schemas.alerts.AlertV1` events, firing and resolved."""
    sources: set[str] = field(default_factory=set)
    """Resources whose state changed (to checkpoint)."""
    replayed: int = 0
    """Points not newer than their track's last point (a replay after a restart): not scored again."""
    skipped: int = 0
    """Points of tracks refused by ``max_series``."""
    resets: int = 0
    """Rates not scored because their point follows a counter reset or a process restart."""
    withheld: int = 0
    """Points scored but not learnt: above threshold on a track not firing yet (see the module doc)."""

    @property
    def scores(self) -> list[Score]:
        """Every score, in the order scored."""
        s = self.scored
        return [
            Score(
                name,
                track.series,
                track.signal,
                track.metric,
                track.attributes,
                track.resource,
                time,
                value,
                expected,
                sigma,
                score,
                track.source,
            )
            for track, name, time, value, expected, sigma, score in zip(
                s.tracks,
                s.names,
                s.time_unix_nano.tolist(),
                s.value.tolist(),
                s.expected.tolist(),
                s.sigma.tolist(),
                s.score.tolist(),
            )
        ]

    def records(self) -> dict[str, dict[str, Any]]:
        """One ``aiops.scores/v3`` record per resource, by resource key (what :func:`scores_records` gives)."""
        return _v3_records(self.scored)


def attribution_text(moves: list[tuple[str, float, float]], signal: str) -> str:
    """The attribute values whose share moved most, as one line.

    >>> attribution_text([("http.response.status_code=500", 0.01, 0.48)], "rate")
    'http.response.status_code=500: 1% -> 48% of requests'
    """
    of = (
        "of requests"
        if signal == "rate"
        else "of the time spent"
        if signal == "mean"
        else "of the total"
    )
    return "; ".join(f"{name}: {before:.0%} -> {now:.0%} {of}" for name, before, now in moves)


class DetectEngine:
    """Every track of every resource a worker owns, scored a group at a time (see the module doc).

    ``params`` go to :class:`~aiops.anomaly.detectors.fast.FastCombined` (the
    default detector's; ``season`` for Holt-Winters), ``policies`` decide when
    a track's scores become an alert, ``generator_url(track)`` links an alert
    to a graph of its score.
    """

    def __init__(
        self,
        *,
        policies: AlertPolicies | None = None,
        max_series: int | None = 10_000,
        idle_s: float = 3600.0,
        group_s: float = 1.0,
        close_after_s: float = 5.0,
        baseline_alpha: float = 0.05,
        top_moves: int = 3,
        generator_url: Any = None,
        **params: Any,
    ) -> None:
        self.params = params
        self.max_series = max_series
        override = int(params.get("season", 0))
        self._base_key = (0.0, override)
        self.bank = FastCombined(max_series=max_series, **params)
        """The bank of every track without a season of its own (all of them with a ``season`` override)."""
        self.banks: dict[tuple[float, int], FastCombined] = {self._base_key: self.bank}
        """Banks by ``(period, season in points)``: a track moves to its season's bank once found."""
        self.finder = SeasonFinder() if not override else None
        self.policies = policies or AlertPolicies()
        self.idle_s = idle_s
        self.group_s = group_s
        self.close_after_s = close_after_s
        self.baseline_alpha = baseline_alpha
        self.top_moves = top_moves
        self.generator_url = generator_url or (lambda track: "")
        self.sources: dict[str, _Source] = {}
        self.tracks: dict[str, _Track] = {}

    # -- input ----------------------------------------------------------------------

    def add(self, point: Mapping[str, Any], now: float, key: str | None = None) -> PointOutcome:
        """Queue a v1 point in its resource's group; ``now`` is the wall clock (epoch seconds).

        ``key`` is the point's :func:`resource_key` when the caller has it
        already (the points of one record share their resource).
        """
        if not isinstance(point, Mapping) or "time_unix_nano" not in point or not signals(point):
            return PointOutcome.UNSCORABLE
        key = key or resource_key(point)
        source = self._source(key, point.get("resource") or {})
        t = point["time_unix_nano"] / 1e9
        if t <= source.closed_upto:
            return PointOutcome.LATE
        source.newest = max(source.newest, t)
        group = self._group(source, t, now, [point["series"]])
        group.parts.append(_v1_part(point))
        group.members[point["series"]] = t
        return PointOutcome.ACCEPTED

    def add_record(self, record: Any, now: float, key: str | None = None) -> Counter[PointOutcome]:
        """Queue every point of a points-topic record (``aiops.points/v2``, or a v1 point); outcomes counted.

        A v2 record is queued as columns, without a Python object per point.
        ``key`` is :func:`record_source` of the record when the caller has it.
        """
        if not isinstance(record, Mapping):
            return Counter({PointOutcome.UNSCORABLE: 1})
        if record.get("schema") != POINTS_V2:
            return Counter({self.add(record, now, key): 1})
        resource = record["resource"]
        key = key or record_source(record)
        source = self._source(key, resource)
        series = record["series"]
        entries = {
            sid: (metric, kind, attributes)
            for sid, metric, kind, attributes in zip(
                series["id"], series["metric"], series["kind"], series["attributes"]
            )
            if signal_names(kind, True)
        }
        cols = columns(record)
        sid = cols["series_id"]
        outcomes: Counter[PointOutcome] = Counter()
        scorable = np.isin(sid, np.fromiter(entries, dtype=np.int64, count=len(entries)))
        t = cols["time_unix_nano"] / 1e9
        late = scorable & (t <= source.closed_upto)
        outcomes[PointOutcome.UNSCORABLE] = int(len(sid) - scorable.sum())
        outcomes[PointOutcome.LATE] = int(late.sum())
        accepted = scorable & ~late
        outcomes[PointOutcome.ACCEPTED] = int(accepted.sum())
        if not outcomes[PointOutcome.ACCEPTED]:
            return +outcomes
        source.newest = max(source.newest, float(t[accepted].max()))
        for at in np.unique(t[accepted]).tolist():
            rows = np.flatnonzero(accepted & (t == at))
            series = sid[rows].tolist()
            group = self._group(source, at, now, series)
            group.parts.append(_record_part(record, entries, cols, rows, resource))
            group.members.update(dict.fromkeys(series, at))
        return +outcomes

    def _source(self, key: str, resource: Mapping[str, Any]) -> _Source:
        source = self.sources.get(key)
        if source is None:
            source = self.sources[key] = _Source(resource=dict(resource))
        return source

    def _group(self, source: _Source, t: float, now: float, series: list) -> _Group:
        """The open group of ``source`` nearest ``t`` within ``group_s``, or a new one if none or it holds any of ``series`` at another time.

        A series already in that group at another time means the next export
        has begun: the groups before ``t`` are then complete. At the same
        time it is the same export again (a redelivery): the group takes it.
        """
        group = min(
            (g for g in source.pending if abs(g.t - t) < self.group_s),
            key=lambda g: abs(g.t - t),
            default=None,
        )
        if group is not None and any(group.members.get(s, t) != t for s in series):
            for older in source.pending:
                older.done = older.done or older.t < t
            group = None
        if group is None:
            group = _Group(t, now)
            source.pending.append(group)
            source.pending.sort(key=lambda g: g.t)
        return group

    # -- scoring --------------------------------------------------------------------

    def close(self, now: float, force: bool = False) -> Closed:
        """Score every group that is complete (or all of them with ``force``) and run the alert logic."""
        closed = Closed()
        names: list[str] = []
        times: list[np.ndarray] = []
        values: list[np.ndarray] = []
        contexts: list[tuple[str, int]] = []
        moves: dict[tuple[str, str, str, int], str] = {}
        for key, source in self.sources.items():
            while source.pending:
                group = source.pending[0]
                complete = (
                    group.done
                    or source.newest - group.t >= self.group_s
                    or now - group.arrived >= self.close_after_s
                )
                if not (complete or force):
                    break
                source.pending.pop(0)
                closed.sources.add(key)
                group_names, group_times, group_values, group_ns = self._score_items(
                    key, source, group, moves, closed
                )
                names.extend(group_names)
                times.append(group_times)
                values.append(group_values)
                contexts.extend([(key, group_ns)] * len(group_names))
        if not names:
            return closed
        time_ns = np.concatenate(times)
        t_all = time_ns / 1e9
        tracks = self.tracks
        last = np.fromiter((tracks[name].last_t for name in names), np.float64, len(names))
        live = t_all > last
        closed.replayed = int(len(names) - live.sum())
        live_index = np.flatnonzero(live)
        live_names = [names[i] for i in live_index.tolist()]
        live_values = np.concatenate(values)[live_index]
        live_times = (time_ns[live_index] / 1e9).tolist()
        value_list = live_values.tolist()
        transitions: dict[int, Transition] = {}
        relevel: list[int] = []

        def hold(positions, scores, forecasts, sigmas) -> list[int]:
            """Run the alert logic of one round of scored points, in order; those of an episode younger than ``learn_after`` are not learnt.

            ``positions`` index the live points; so do the positions returned.
            An episode's point at ``learn_after`` is learnt and noted for :meth:`FastCombined.relevel`.
            """
            back = []
            for p, (j, score) in enumerate(zip(positions.tolist(), scores.tolist())):
                if math.isnan(score):
                    continue
                alerter = tracks[live_names[j]].alerter
                if alerter.steady(score):
                    continue
                value, forecast = value_list[j], float(forecasts[p])
                transition = alerter.update(
                    live_times[j],
                    score,
                    None if math.isnan(value) else value,
                    None if math.isnan(forecast) else (forecast, float(sigmas[p])),
                )
                if transition is not None:
                    transitions[j] = transition
                episode, learn_after = alerter.episode_points, alerter.policy.learn_after
                if alerter.pending or (alerter.firing and episode < learn_after):
                    back.append(j)
                elif alerter.firing and episode == learn_after:
                    relevel.append(j)
            closed.withheld += len(back)
            return back

        seasons = [tracks[name].season for name in live_names]
        slots, result = self._score_by_bank(live_names, seasons, live_values, live_times, hold)
        for j in relevel:
            if slots[j] >= 0:
                bank = self.banks[seasons[j] or self._base_key]
                bank.relevel(slots[j : j + 1], live_values[j : j + 1])
        if self.finder is not None:
            self._find_seasons(live_names, seasons, slots, live_times, live_values)
        scored_tracks: list[_Track] = []
        scored_at: list[int] = []
        for j, (i, name, slot) in enumerate(zip(live_index.tolist(), live_names, slots.tolist())):
            if slot < 0:
                closed.skipped += 1
                self._drop_track(name)
                continue
            track = tracks[name]
            track.last_t, track.seen = live_times[j], now
            scored_tracks.append(track)
            scored_at.append(j)
            transition = transitions.get(j)
            if transition is not None and (
                track.alerter.policy.alert or track.episode is not None
            ):  # a policy that does not alert still resolves an episode it opened before
                key, group_ns = contexts[i]
                closed.alerts.append(
                    self._alert(
                        track, transition, moves.get((key, track.metric, track.signal, group_ns))
                    )
                )
        rows = np.asarray(scored_at, dtype=np.int64)
        closed.scored = Scored(
            scored_tracks,
            [live_names[j] for j in scored_at],
            time_ns[live_index][rows],
            live_values[rows],
            result.forecasts[rows],
            result.sigmas[rows],
            result.scores[rows],
        )
        return closed

    def _score_by_bank(
        self,
        names: list[str],
        seasons: list[tuple[float, int] | None],
        values: np.ndarray,
        times: list[float],
        hold: Any,
    ) -> tuple[np.ndarray, Any]:
        """Score and learn the live points, each in its track's bank; the slots (-1: refused) and results.

        A bank of a wall-clock season first points each track's seasonal
        ring at the phase of its point's time, so gaps and jitter keep the
        cycle in step with the clock.
        """
        base = self.bank
        if self.max_series is not None:
            others = sum(len(bank) for bank in self.banks.values() if bank is not base)
            base.max_series = max(0, self.max_series - others)
        if len(self.banks) == 1:
            slots = base.slots(names)
            return slots, base.score_learn_slots(slots, values, hold=hold)
        by_bank: dict[tuple[float, int], list[int]] = {}
        for j, season in enumerate(seasons):
            by_bank.setdefault(season or self._base_key, []).append(j)
        slots = np.full(len(names), -1, dtype=np.int64)
        scores, forecasts, sigmas = (np.full(len(names), np.nan) for _ in range(3))
        for key, positions in by_bank.items():
            bank = self.banks[key]
            idx = np.asarray(positions, dtype=np.int64)
            bank_slots = bank.slots([names[j] for j in positions])
            period, points = key
            if period:
                first_slots, first = np.unique(bank_slots, return_index=True)
                at = np.asarray(times)[idx[first]]
                bank.set_phase(first_slots, np.floor((at % period) * points / period))

            def bank_hold(p, *scored, idx=idx):
                return np.searchsorted(idx, np.asarray(hold(idx[p], *scored), dtype=np.int64))

            result = bank.score_learn_slots(bank_slots, values[idx], hold=bank_hold)
            slots[idx] = bank_slots
            scores[idx], forecasts[idx], sigmas[idx] = result
        return slots, StepResult(scores, forecasts, sigmas)

    def _find_seasons(
        self,
        names: list[str],
        seasons: list[tuple[float, int] | None],
        slots: np.ndarray,
        times: list[float],
        values: np.ndarray,
    ) -> None:
        """Feed the warming tracks' points to the season finder; move those whose season it found."""
        finder = self.finder
        looking = np.fromiter((season is None for season in seasons), bool, len(seasons))
        looking &= slots >= 0
        if not looking.any():
            return
        rows = slots[looking]
        due = finder.observe(rows, np.asarray(times)[looking], values[looking])
        if not len(due):
            return
        name_of = dict(zip(rows.tolist(), (names[j] for j in np.flatnonzero(looking).tolist())))
        for row in due.tolist():
            found = finder.decide(row)
            if found is None:
                continue
            name = name_of[row]
            period, points = found
            if points:
                self._move(name, row, period, points)
            else:
                finder.reset([row])
            self.tracks[name].season = found

    def _move(self, name: str, row: int, period: float, points: int) -> None:
        """Move a track from the season-less bank to its season's, seeded from its warm-up history."""
        finder = self.finder
        level, trend, terms = finder.seed(row, period, points)
        last_t = finder.last_t(row)
        saved = self.bank.snapshot(np.array([row]))
        finder.reset([row])
        self.bank.forget([name])
        bank = self._bank_of((period, points))
        slot = int(bank.slots([name])[0])
        phase = math.floor((last_t % period) * points / period) + 1
        bank.seed_season(slot, saved, level, trend, terms, phase)

    def _bank_of(self, key: tuple[float, int]) -> FastCombined:
        bank = self.banks.get(key)
        if bank is None:
            bank = self.banks[key] = FastCombined(**{**self.params, "season": key[1]})
        return bank

    def _forget(self, names: Any) -> None:
        """Drop tracks' detector rows (and warm-up histories) from whichever bank holds them."""
        names = list(names)
        if self.finder is not None:
            self.finder.reset(self.bank.find(names))
        for bank in self.banks.values():
            bank.forget(names)

    def _plan(self, source: _Source, group: _Group) -> Plan:
        ident = tuple(part.ident for part in group.parts)
        plan = source.plans.get(ident)
        if plan is None:
            if len(source.plans) >= _PLANS_PER_SOURCE:
                source.plans.clear()
            plan = source.plans[ident] = plan_of(group.parts)
        return plan

    def _score_items(
        self,
        key: str,
        source: _Source,
        group: _Group,
        moves: dict[tuple[str, str, str, int], str],
        closed: Closed,
    ) -> tuple[list[str], np.ndarray, np.ndarray, int]:
        """The tracks, times and values a group feeds: each point's signals, then per metric its service-level totals.

        A point marked ``reset`` (its counter started again: a reset or a
        process restart) says nothing about the rate, so neither its ``rate``
        nor its metric's service-level rate is scored this group; its mean is.
        The service-level error percentage exists for request histograms whose
        points carry an HTTP status code: the percent of requests answered
        5xx, in percent, so that the detector's resolution floor (a unit for a
        series that has only ever been whole numbers, such as 0) is one
        percentage point. Returns the group's time too (its earliest point's).
        """
        plan = self._plan(source, group)
        parts = group.parts

        def column(name: str) -> np.ndarray:
            values = concat(parts, name)
            return values if plan.keep is None else values[plan.keep]

        time_ns, start = column("time"), column("start")
        count, spent = column("count"), column("sum")
        value, reset = column("value"), column("reset")
        source.closed_upto = max(source.closed_upto, float(time_ns.max()) / 1e9)
        group_ns = int(time_ns.min())
        with np.errstate(divide="ignore", invalid="ignore"):
            interval_s = (time_ns - start) / 1e9
            requests = np.where(plan.histogram, count, value)
            rate = np.where(interval_s > 0, requests / interval_s, np.nan)
            mean = np.where(count > 0, spent / np.where(count > 0, count, 1.0), np.nan)
        by_signal = np.stack([rate, mean, value])
        restarted_rows = reset & plan.has_rate
        closed.resets += int(restarted_rows.sum())
        keep = ~((plan.item_signal == RATE) & reset[plan.item_row])
        items = np.flatnonzero(keep)
        names = plan.names if keep.all() else [plan.names[i] for i in items.tolist()]
        for i in items.tolist():
            if plan.names[i] not in self.tracks:
                row = plan.rows[plan.item_row[i]]
                self._track(
                    plan.names[i],
                    row.series,
                    SIGNALS[plan.item_signal[i]],
                    row.metric,
                    row.attributes,
                    key,
                    source,
                )
        item_times = time_ns[plan.item_row[items]]
        item_values = by_signal[plan.item_signal[items], plan.item_row[items]]
        total_names: list[str] = []
        total_values: list[float] = []
        for total in plan.totals:
            restarted = bool(restarted_rows[total.rows].any())
            group_requests = float(requests[total.rows].sum())
            signals_now = {"rate": float(np.nansum(rate[total.rows]))}
            if total.histogram:
                group_spent = float(spent[total.rows].sum())
                signals_now["mean"] = (
                    group_spent / group_requests if group_requests > 0 else math.nan
                )
                if total.has_status:
                    errors = float(requests[total.error_rows].sum())
                    signals_now["error_percent"] = (
                        100.0 * errors / group_requests if group_requests > 0 else math.nan
                    )
            for signal, total_value in signals_now.items():
                if signal == "rate" and restarted:
                    continue
                series = f"{total.metric}{SERVICE_LEVEL}@{key}"
                name = f"{series}|{signal}"
                if name not in self.tracks:
                    self._track(name, series, signal, total.metric, {}, key, source)
                total_names.append(name)
                total_values.append(total_value)
                by = (
                    "rate" if signal == "error_percent" else signal
                )  # errors are explained by requests
                moves[(key, total.metric, signal, group_ns)] = self._attribution(
                    source,
                    f"{total.metric}|{signal}",
                    by,
                    *total.shares(by, requests, spent),
                    learn=not self.tracks[name].alerter.elevated,
                )
        return (
            names + total_names,
            np.concatenate([item_times, np.full(len(total_names), group_ns, dtype=np.int64)]),
            np.concatenate([item_values, np.asarray(total_values, dtype=np.float64)]),
            group_ns,
        )

    def _attribution(
        self,
        source: _Source,
        name: str,
        signal: str,
        labels: list[str],
        shares: np.ndarray,
        learn: bool = True,
    ) -> str:
        """Compare this group's shares with the baseline, then fold them into it unless ``learn`` is off.

        The baseline does not learn while its service-level track is above threshold or firing,
        so a long incident is still explained against the time before it. When
        the baseline holds the same labels in the same order (a service's
        usual export), comparing and learning are array work.
        """
        baseline = source.shares.setdefault(name, {})
        if not labels:
            return ""
        if baseline and len(baseline) == len(labels) and list(baseline) == labels:
            before = np.fromiter(baseline.values(), np.float64, len(labels))
            changed = np.flatnonzero(np.abs(shares - before) >= 0.01).tolist()
            moved = [(labels[i], float(before[i]), float(shares[i])) for i in changed]
            if learn:
                learnt = (1 - self.baseline_alpha) * before + self.baseline_alpha * shares
                source.shares[name] = dict(zip(labels, learnt.tolist()))
            return attribution_text(_biggest(moved, self.top_moves), signal)
        now = dict(zip(labels, shares.tolist()))
        union = [*now, *(label for label in baseline if label not in now)]
        moved = []
        if baseline:
            for label in union:
                before, after = baseline.get(label, 0.0), now.get(label, 0.0)
                if abs(after - before) >= 0.01:
                    moved.append((label, before, after))
        if baseline and not learn:
            return attribution_text(_biggest(moved, self.top_moves), signal)
        alpha = self.baseline_alpha if baseline else 1.0
        source.shares[name] = {
            label: (1 - alpha) * baseline.get(label, 0.0) + alpha * now.get(label, 0.0)
            for label in union
        }
        return attribution_text(_biggest(moved, self.top_moves), signal)

    def _track(
        self,
        name: str,
        series: str,
        signal: str,
        metric: str,
        attributes: Mapping[str, Any],
        key: str,
        source: _Source,
    ) -> None:
        self.tracks[name] = _Track(
            series,
            signal,
            metric,
            dict(attributes),
            source.resource,
            key,
            AnomalyAlerter(self.policies.for_metric(metric)),
        )
        source.tracks.add(name)

    def _alert(self, track: _Track, transition: Transition, attribution: str | None):
        """The firing or resolved ``AlertV1`` of a transition: labels name the metric, the text its signal too."""
        from aiops.schemas.alerts import AlertV1

        identity = {k: v for k, v in track.resource.items() if k.startswith(IDENTITY_RESOURCE)}
        attributes = {**identity, **track.attributes, "signal": track.signal}
        service = str(track.resource.get("service.name", "")) or None
        annotations = anomaly_annotations(
            transition, f"{track.metric} ({track.signal})", service, attribution
        )
        if transition.kind == "firing":
            labels = anomaly_labels(track.metric, attributes, track.alerter.policy.severity)
            alert = AlertV1.firing(
                labels,
                annotations,
                datetime.fromtimestamp(transition.since, UTC),
                self.generator_url(track),
            )
            track.episode = alert.model_dump(mode="json", by_alias=True)
            return alert
        if track.episode is not None:
            firing = AlertV1.model_validate(track.episode)
        else:  # an episode from before a lost checkpoint: resolve what we can name
            labels = anomaly_labels(track.metric, attributes, track.alerter.policy.severity)
            firing = AlertV1.firing(
                labels,
                annotations,
                datetime.fromtimestamp(transition.since, UTC),
                self.generator_url(track),
            )
        track.episode = None
        return firing.resolve(datetime.fromtimestamp(transition.at, UTC), annotations)

    # -- limits ---------------------------------------------------------------------

    def expire(self, now: float) -> tuple[list[str], list[Any]]:
        """Forget tracks unseen for ``idle_s`` (and resources left with nothing).

        Returns the forgotten track names and a ``resolved`` alert (``resolution: no_data``)
        for each of them that was firing: a service that went away does not page forever.
        """
        from aiops.schemas.alerts import AlertV1

        idle = [name for name, track in self.tracks.items() if now - track.seen > self.idle_s]
        resolved = []
        for name in idle:
            episode = self.tracks[name].episode
            if episode is not None:
                firing = AlertV1.model_validate(episode)
                resolved.append(
                    firing.resolve(
                        datetime.fromtimestamp(now, UTC),
                        {**firing.annotations, "resolution": "no_data"},
                    )
                )
        self._forget(idle)
        for name in idle:
            self._drop_track(name)
        for key in [k for k, s in self.sources.items() if not s.tracks and not s.pending]:
            del self.sources[key]
        return idle, resolved

    def _drop_track(self, name: str) -> None:
        track = self.tracks.pop(name, None)
        source = self.sources.get(track.source) if track is not None else None
        if source is not None:
            source.tracks.discard(name)

    def watched(self, name: str) -> bool:
        """Whether track ``name`` deserves its own gauges: service level (no point attributes) or elevated.

        See :mod:`aiops.anomaly.exposition`; an unknown (expired) track is not watched.
        """
        track = self.tracks.get(name)
        return track is not None and (not track.attributes or track.alerter.elevated)

    @property
    def live_tracks(self) -> int:
        """Tracks with detector state."""
        return sum(len(bank) for bank in self.banks.values())

    # -- checkpoints ----------------------------------------------------------------

    def export_source(self, key: str) -> dict[str, Any]:
        """A resource's whole state as strict JSON (a clock that never ticked is ``null``).

        Its open groups (as v1 points), clocks and baselines; each track's
        identity and alert state; and the detector rows of all its tracks in
        one compressed blob (``detectors``: the track names in row order and
        the rows as base64), so a checkpoint of a resource is one entry and one
        compression however many series it has.
        """
        source = self.sources[key]
        names = sorted(source.tracks)
        in_bank = [name for name in names if name in self.bank]
        seasons = []
        for (period, points), bank in self.banks.items():
            held = [name for name in names if name in bank] if bank is not self.bank else []
            if held:
                seasons.append(
                    {
                        "period": period,
                        "points": points,
                        "tracks": held,
                        "state": base64.b64encode(bank.export_states(held)).decode(),
                    }
                )
        warming = [name for name in in_bank if self.tracks[name].season is None]
        histories = (
            {"tracks": warming, "state": self.finder.export_rows(self.bank.find(warming))}
            if self.finder is not None and warming
            else None
        )
        return {
            "pending": [
                [
                    g.t,
                    {
                        point["series"]: point
                        for part in g.parts
                        for point in _v1_points(part, source.resource)
                    },
                ]
                for g in source.pending
            ],
            "newest": _finite(source.newest),
            "closed_upto": _finite(source.closed_upto),
            "shares": source.shares,
            "resource": source.resource,
            "tracks": {name: self._export_track(self.tracks[name]) for name in names},
            "detectors": {
                "tracks": in_bank,
                "state": base64.b64encode(self.bank.export_states(in_bank)).decode(),
            },
            "seasons": seasons,
            "histories": histories,
        }

    @staticmethod
    def _export_track(track: _Track) -> dict[str, Any]:
        return {
            "series": track.series,
            "signal": track.signal,
            "metric": track.metric,
            "attributes": track.attributes,
            "last_t": _finite(track.last_t),
            "seen": _finite(track.seen),
            "episode": track.episode,
            "alerter": track.alerter.to_state(),
            "season": None if track.season is None else list(track.season),
        }

    def restore_source(
        self,
        key: str,
        state: Mapping[str, Any],
        now: float,
        tracks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Load a resource and its tracks from :meth:`export_source`; open groups wait ``close_after_s`` from ``now``.

        A checkpoint of the previous release kept each track in an entry of
        its own (``state["tracks"]`` a list of names): pass those entries as
        ``tracks`` (name to entry, each with its ``resource`` and its own
        ``detector`` row).

        Detector rows the bank refuses (exported with other parameters or by
        another version) raise :class:`DetectorsRefused` once everything else
        is restored: the tracks keep their alert state (an open episode still
        resolves) and learn afresh, counting their warm-up again.
        """
        self.forget_source(key)
        legacy = not isinstance(state["tracks"], Mapping)
        saved_tracks = (tracks or {}) if legacy else state["tracks"]
        source = _Source(
            [
                _Group(
                    t,
                    now,
                    [_v1_part(point) for point in points.values()],
                    {series: point["time_unix_nano"] / 1e9 for series, point in points.items()},
                )
                for t, points in state["pending"]
            ],
            _or_never(state["newest"]),
            _or_never(state["closed_upto"]),
            {k: dict(v) for k, v in state["shares"].items()},
            resource=dict(state.get("resource") or _first_resource(saved_tracks)),
        )
        self.sources[key] = source
        for name, saved in saved_tracks.items():
            alerter = AnomalyAlerter.from_state(
                saved["alerter"], self.policies.for_metric(saved["metric"])
            )
            self.tracks[name] = _Track(
                saved["series"],
                saved["signal"],
                saved["metric"],
                dict(saved["attributes"]),
                source.resource,
                key,
                alerter,
                _or_never(saved["last_t"]),
                _or_never(saved["seen"]),
                saved["episode"],
                _season(saved.get("season")),
            )
            source.tracks.add(name)
        try:
            for name, saved in saved_tracks.items():
                if legacy and saved["detector"] is not None:
                    self.bank.import_state(name, base64.b64decode(saved["detector"]))
            detectors = state.get("detectors")
            if detectors and detectors["tracks"]:
                self.bank.import_states(detectors["tracks"], base64.b64decode(detectors["state"]))
            seasons = state.get("seasons") or []
            if seasons and self.finder is None:
                raise ValueError(
                    "the checkpoint holds seasons found per track; AIOPS_DETECT_SEASON forces one"
                )
            for entry in seasons:
                bank = self._bank_of(_season([entry["period"], entry["points"]]))
                bank.import_states(entry["tracks"], base64.b64decode(entry["state"]))
            histories = state.get("histories")
            if histories and self.finder is not None:
                self.finder.import_rows(self.bank.find(histories["tracks"]), histories["state"])
        except (KeyError, TypeError, ValueError) as error:
            self._forget(source.tracks)
            for name in source.tracks:
                self.tracks[name].alerter.restart_history()
                self.tracks[name].season = None
            raise DetectorsRefused(f"{key}: {error}") from error

    def forget_source(self, key: str) -> None:
        """Drop a resource and its tracks from memory (its partition moved to another worker)."""
        source = self.sources.pop(key, None)
        if source is None:
            return
        self._forget(source.tracks)
        for name in source.tracks:
            self.tracks.pop(name, None)

    def memory_bytes(self) -> int:
        """Detector state in the banks (every allocated row, live or free) and the warm-up histories."""
        banks = sum(bank.capacity * bank.bytes_per_series for bank in self.banks.values())
        return banks + (self.finder.nbytes if self.finder is not None else 0)


def _biggest(moved: list[tuple[str, float, float]], n: int) -> list[tuple[str, float, float]]:
    """The ``n`` biggest moves, biggest first; a rise before the equal fall it causes (500s up is the news, 200s down its echo)."""
    return heapq.nsmallest(n, moved, key=_move_order)


def _move_order(move: tuple[str, float, float]) -> tuple[float, bool, str]:
    label, before, after = move
    return (-round(abs(after - before), 9), after < before, label)


def _first_resource(tracks: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """A resource's attributes from a checkpoint that predates ``resource`` in the source's state."""
    return next((saved["resource"] for saved in tracks.values()), {})


def _record_part(
    record: Mapping[str, Any],
    entries: Mapping[int, tuple[str, str, Mapping[str, Any]]],
    cols: Mapping[str, np.ndarray],
    rows: np.ndarray,
    resource: Mapping[str, Any],
) -> Part:
    """The part of a v2 record's points at ``rows`` (indices), identified by their series ids and monotonicity."""
    whole = len(rows) == len(cols["series_id"])

    def take(name: str) -> np.ndarray:
        return cols[name] if whole else cols[name][rows]

    sid, flags = take("series_id"), take("flags")
    monotonic = (flags & FLAG_MONOTONIC) != 0

    def make_rows() -> list[Row]:
        out = []
        for series_id, is_monotonic in zip(sid.tolist(), monotonic.tolist()):
            metric, kind, attributes = entries[series_id]
            key = v1_series_key(series_id, metric, attributes, resource)
            out.append(Row(key, metric, kind, attributes, is_monotonic))
        return out

    return Part(
        (sid.tobytes(), monotonic.tobytes()),
        make_rows,
        take("interval_start_unix_nano"),
        take("time_unix_nano"),
        (flags & FLAG_RESET) != 0,
        take("value"),
        take("count"),
        take("sum"),
        source=(record, rows),
    )


def _season(saved: Any) -> tuple[float, int] | None:
    """A track's season from its checkpoint: ``[period, points]`` or null."""
    if saved is None:
        return None
    period, points = saved
    return float(period), int(points)


def _finite(x: float) -> float | None:
    """``None`` for a clock that never ticked (-inf), so checkpoints are strict JSON."""
    return x if math.isfinite(x) else None


def _or_never(x: float | None) -> float:
    return -math.inf if x is None else float(x)
