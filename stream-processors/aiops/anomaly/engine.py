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
    in time within ``group_s``, unless that group holds an older point of its
    series: an export has each series once, so that point starts the next
    export's group, however short the export interval (each export is scored
    on its own, none overwrites another; the same point again, a replay,
    replaces itself). A group is scored once a later export of
    its resource has begun, when a point of the same resource at least
    ``group_s`` newer arrives, or ``close_after_s`` of wall-clock time after
    its first point (the last export before a pause). Groups close in
    event-time order, so every track learns its points in order. A point
    older than a closed group of its resource, or not newer than its track's
    last point, is *late* or *replayed* and not scored: that makes a replay
    after a restart idempotent.

Learning
    Each point is scored from its track's earlier points, then learnt, except
    a point that leaves its track's alert state *pending* (above threshold,
    counting towards ``min_points``, not firing yet): its learning is taken
    back (:meth:`~aiops.anomaly.detectors.fast.FastCombined.snapshot`). A
    one-point blip so never teaches the detector, and a step is still scored
    against the time before it until it has held for ``min_points`` points;
    once an episode fires, its points are learnt again, so a lasting new
    level is learnt within a bounded number of points.

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
    :meth:`export_source` / :meth:`export_track` and their ``restore_*``
    counterparts move a resource's state to and from a checkpoint.

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
import logging
import math
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
from aiops.anomaly.detectors.fast import FastCombined

__all__ = [
    "Closed",
    "DetectEngine",
    "PointOutcome",
    "Score",
    "attribution_text",
    "gauge",
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


class PointOutcome(Enum):
    """What :meth:`DetectEngine.add` did with a point."""

    ACCEPTED = "accepted"
    LATE = "late"
    """Older than a group of its resource already scored: not scored."""
    UNSCORABLE = "unscorable"
    """Not a points record, or no signal in it."""


def _label_set(attributes: Mapping[str, Any]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(attributes.items())) + "}"


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
    if kind == "histogram":
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


class _Item(NamedTuple):
    """One value to score: its track, event time, the value, its resource and its group's time."""

    track: str
    time_ns: int
    value: float
    source: str
    group_ns: int


@dataclass(frozen=True)
class Score:
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
        """The score as an entry of an ``aiops.scores/v2`` record (no resource); NaN becomes ``null``."""

        def finite(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {
            "track": self.track,
            "series": self.series,
            "signal": self.signal,
            "metric": self.metric,
            "attributes": self.attributes,
            "time_unix_nano": self.time_unix_nano,
            "value": finite(self.value),
            "expected": finite(self.expected),
            "sigma": finite(self.sigma),
            "score": finite(self.score),
        }


def scores_records(scores: list[Score]) -> dict[str, dict[str, Any]]:
    """One ``aiops.scores/v2`` record per resource among ``scores``, by resource key, scores in order.

    >>> s = Score("q{}@{}|value", "q{}@{}", "value", "q", {}, {"service.name": "a"}, 10, 1.0, 1.0, 0.1, 0.0)
    >>> records = scores_records([s, s])
    >>> list(records), len(records['{service.name="a"}']["scores"])
    (['{service.name="a"}'], 2)
    >>> scores_of(records['{service.name="a"}']) == [s.as_record(), s.as_record()]
    True
    """
    records: dict[str, dict[str, Any]] = {}
    for score in scores:
        key = _label_set(score.resource)
        record = records.get(key)
        if record is None:
            record = records[key] = {
                "schema": "aiops.scores/v2",
                "resource": score.resource,
                "service": score.service,
                "scores": [],
            }
        record["scores"].append(score.entry())
    return records


def scores_of(record: object) -> list[dict[str, Any]]:
    """The ``aiops.scores/v1`` dicts of a record on the scores topic: a v2 record's entries, or a v1 record.

    >>> scores_of({"schema": "aiops.scores/v1", "track": "t"}), scores_of("junk")
    ([{'schema': 'aiops.scores/v1', 'track': 't'}], [])
    """
    if not isinstance(record, dict):
        return []
    if record.get("schema") == "aiops.scores/v1":
        return [record]
    if record.get("schema") != "aiops.scores/v2":
        return []
    common = {
        "schema": "aiops.scores/v1",
        "service": record["service"],
        "resource": record["resource"],
    }
    return [{**common, **entry} for entry in record["scores"]]


@dataclass
class _Group:
    """Points of one resource at one export time, waiting to be scored."""

    t: float
    arrived: float
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: bool = False
    """A newer export of the resource began (a series came again), so no point of this one is still due."""


@dataclass
class _Source:
    """One resource: its open groups, the newest time seen, the last time scored, attribution baselines."""

    pending: list[_Group] = field(default_factory=list)
    newest: float = -math.inf
    closed_upto: float = -math.inf
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    tracks: set[str] = field(default_factory=set)


@dataclass
class _Total:
    """One metric of one group summed over its series: the service-level rate, mean and error ratio, and who weighs what.

    The error percentage exists for request histograms whose points carry an
    HTTP status code (:data:`STATUS_ATTRIBUTES`): the percent of requests
    answered 5xx, the signal an SRE watches next to rate and latency. In
    percent, so that the detector's resolution floor (a unit for a series
    that has only ever been whole numbers, such as 0) is one percentage point.
    """

    point: dict[str, Any]
    rate: float = 0.0
    requests: float = 0.0
    spent: float = 0.0
    errors: float = 0.0
    has_status: bool = False
    weights: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """signal -> attribute -> ``attribute=value`` -> requests (``rate``) or time spent (``mean``)."""

    def add(self, point: Mapping[str, Any], values: Mapping[str, float]) -> None:
        histogram = point["kind"] == "histogram"
        requests = float(point.get("count", 0)) if histogram else float(point.get("value", 0.0))
        spent = float(point.get("sum", 0.0))
        if not math.isnan(values["rate"]):
            self.rate += values["rate"]
        self.requests += requests
        self.spent += spent
        status = _http_status(point.get("attributes") or {}) if histogram else None
        if status is not None:
            self.has_status = True
            if status >= 500:
                self.errors += requests
        for name, value in (point.get("attributes") or {}).items():
            label = f"{name}={value}"
            for signal, weight in (
                (("rate", requests), ("mean", spent)) if histogram else (("rate", requests),)
            ):
                by_label = self.weights.setdefault(signal, {}).setdefault(name, {})
                by_label[label] = by_label.get(label, 0.0) + weight

    def values(self) -> dict[str, float]:
        if self.point["kind"] != "histogram":
            return {"rate": self.rate}
        values = {
            "rate": self.rate,
            "mean": self.spent / self.requests if self.requests > 0 else math.nan,
        }
        if self.has_status:
            values["error_percent"] = (
                100.0 * self.errors / self.requests if self.requests > 0 else math.nan
            )
        return values


STATUS_ATTRIBUTES = ("http.response.status_code", "http.status_code")
"""Point attributes that hold an HTTP status code (stable and older semantic conventions)."""


def _http_status(attributes: Mapping[str, Any]) -> int | None:
    """The HTTP status code among a point's attributes, or None.

    >>> _http_status({"http.response.status_code": 503}), _http_status({"http.status_code": "200"})
    (503, 200)
    >>> _http_status({"http.route": "/a"}), _http_status({"http.response.status_code": "n/a"})
    (None, None)
    """
    for name in STATUS_ATTRIBUTES:
        if name in attributes:
            try:
                return int(attributes[name])
            except (TypeError, ValueError):
                return None
    return None


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


@dataclass
class Closed:
    """What one :meth:`DetectEngine.close` produced."""

    scores: list[Score] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    """:class:`~aiops.schemas.alerts.AlertV1` events, firing and resolved."""
    sources: set[str] = field(default_factory=set)
    """Resources whose state changed (to checkpoint)."""
    tracks: set[str] = field(default_factory=set)
    """Tracks whose state changed (to checkpoint)."""
    replayed: int = 0
    """Points not newer than their track's last point (a replay after a restart): not scored again."""
    skipped: int = 0
    """Points of tracks refused by ``max_series``."""
    resets: int = 0
    """Rates not scored because their point follows a counter reset or a process restart."""
    withheld: int = 0
    """Points scored but not learnt: above threshold on a track not firing yet (see the module doc)."""


def _rounds(slots: np.ndarray) -> list[list[int]]:
    """Indices of ``slots`` in rounds that hold each slot at most once, each slot's indices in order.

    >>> _rounds(np.array([4, 7, 4, -1, 4]))
    [[0, 1, 3], [2], [4]]
    """
    seen: dict[int, int] = {}
    rounds: list[list[int]] = []
    for i, slot in enumerate(slots.tolist()):
        r = seen.get(slot, 0) if slot >= 0 else 0
        seen[slot] = r + 1
        if r == len(rounds):
            rounds.append([])
        rounds[r].append(i)
    return rounds


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
        self.bank = FastCombined(max_series=max_series, **params)
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
        """Queue a point in its resource's group; ``now`` is the wall clock (epoch seconds).

        ``key`` is the point's :func:`resource_key` when the caller has it
        already (the points of one record share their resource).
        """
        if not isinstance(point, Mapping) or "time_unix_nano" not in point or not signals(point):
            return PointOutcome.UNSCORABLE
        key = key or resource_key(point)
        source = self.sources.setdefault(key, _Source())
        t = point["time_unix_nano"] / 1e9
        if t <= source.closed_upto:
            return PointOutcome.LATE
        source.newest = max(source.newest, t)
        group = min(
            (g for g in source.pending if abs(g.t - t) < self.group_s),
            key=lambda g: abs(g.t - t),
            default=None,
        )
        held = group.points.get(point["series"]) if group is not None else None
        if held is not None and held["time_unix_nano"] < point["time_unix_nano"]:
            # an export holds each series once: a newer point is the next export, however close in time
            for older in source.pending:
                older.done = older.done or older.t < t
            group = None
        if group is None:
            group = _Group(t, now)
            source.pending.append(group)
            source.pending.sort(key=lambda g: g.t)
        group.points[point["series"]] = dict(point)
        return PointOutcome.ACCEPTED

    # -- scoring --------------------------------------------------------------------

    def close(self, now: float, force: bool = False) -> Closed:
        """Score every group that is complete (or all of them with ``force``) and run the alert logic."""
        closed = Closed()
        batch: list[_Item] = []
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
                newest_in_group = max(p["time_unix_nano"] for p in group.points.values()) / 1e9
                source.closed_upto = max(source.closed_upto, newest_in_group)
                closed.sources.add(key)
                batch.extend(self._group_tracks(key, source, group, moves, closed))
        if not batch:
            return closed
        live: list[_Item] = []
        for item in batch:
            track = self.tracks.get(item.track)
            if track is not None and item.time_ns / 1e9 <= track.last_t:
                closed.replayed += 1
            else:
                live.append(item)
        slots = self.bank.slots([item.track for item in live])
        values = np.array([item.value for item in live], dtype=np.float64)
        results: list[tuple[float, float, float, Transition | None]] = [
            (math.nan, math.nan, math.nan, None)
        ] * len(live)
        for idx in _rounds(slots):
            rows = slots[idx]
            before = self.bank.snapshot(rows)
            result = self.bank.score_learn_slots(rows, values[idx])
            unlearn = []
            for j, i in enumerate(idx):
                track = self.tracks[live[i].track]
                score, forecast = float(result.scores[j]), float(result.forecasts[j])
                sigma, value = float(result.sigmas[j]), live[i].value
                transition = track.alerter.update(
                    live[i].time_ns / 1e9,
                    score,
                    None if math.isnan(value) else value,
                    None if math.isnan(forecast) else (forecast, sigma),
                )
                results[i] = (score, forecast, sigma, transition)
                if track.alerter.pending:
                    unlearn.append(j)
            if unlearn:
                self.bank.restore(rows[unlearn], {k: v[unlearn] for k, v in before.items()})
                closed.withheld += len(unlearn)
        for i, (name, time_ns, value, key, group_ns) in enumerate(live):
            if slots[i] < 0:
                closed.skipped += 1
                self._drop_track(name)
                continue
            track = self.tracks[name]
            track.last_t, track.seen = time_ns / 1e9, now
            closed.tracks.add(name)
            score, forecast, sigma, transition = results[i]
            closed.scores.append(
                Score(
                    name,
                    track.series,
                    track.signal,
                    track.metric,
                    track.attributes,
                    track.resource,
                    time_ns,
                    value,
                    forecast,
                    sigma,
                    score,
                )
            )
            if transition is not None and (
                track.alerter.policy.alert or track.episode is not None
            ):  # a policy that does not alert still resolves an episode it opened before
                closed.alerts.append(
                    self._alert(
                        track, transition, moves.get((key, track.metric, track.signal, group_ns))
                    )
                )
        return closed

    def _group_tracks(
        self,
        key: str,
        source: _Source,
        group: _Group,
        moves: dict[tuple[str, str, str, int], str],
        closed: Closed,
    ) -> list[_Item]:
        """The items of a group: each point's signals, then per metric the service-level totals.

        A point marked ``reset`` (its counter started again: a reset or a
        process restart) says nothing about the rate, so neither its ``rate``
        nor its metric's service-level rate is scored this group; its mean is.
        """
        items = []
        totals: dict[str, _Total] = {}
        restarted: set[str] = set()
        group_ns = min(p["time_unix_nano"] for p in group.points.values())
        for series, point in sorted(group.points.items()):
            values = signals(point)
            if point.get("reset") and "rate" in values:
                restarted.add(point["metric"])
                closed.resets += 1
            for signal, value in values.items():
                if signal == "rate" and point.get("reset"):
                    continue
                track = self._track(series, signal, point, key, source)
                items.append(_Item(track, point["time_unix_nano"], value, key, group_ns))
            if (
                "rate" in values
            ):  # counters and histograms add up to a service level; gauges need not
                totals.setdefault(point["metric"], _Total(point)).add(point, values)
        for metric, total in sorted(totals.items()):
            point = {**total.point, "attributes": {}}
            for signal, value in total.values().items():
                if signal == "rate" and metric in restarted:
                    continue
                track = self._track(f"{metric}{SERVICE_LEVEL}@{key}", signal, point, key, source)
                items.append(_Item(track, group_ns, value, key, group_ns))
                shares = (
                    "rate" if signal == "error_percent" else signal
                )  # errors are explained by requests
                moves[(key, metric, signal, group_ns)] = self._attribution(
                    source,
                    f"{metric}|{signal}",
                    shares,
                    total.weights.get(shares, {}),
                    learn=not self.tracks[track].alerter.elevated,
                )
        return items

    def _attribution(
        self,
        source: _Source,
        name: str,
        signal: str,
        weights_by_attribute: dict[str, dict[str, float]],
        learn: bool = True,
    ) -> str:
        """Compare this group's shares with the baseline, then fold them into it unless ``learn`` is off.

        The baseline does not learn while its service-level track is above threshold or firing,
        so a long incident is still explained against the time before it.
        """
        now: dict[str, float] = {}
        for weights in weights_by_attribute.values():
            total = sum(weights.values())
            if total <= 0:
                continue
            now.update({label: weight / total for label, weight in weights.items()})
        baseline = source.shares.setdefault(name, {})
        if not now:
            return ""
        moved = []
        if baseline:
            for label in set(now) | set(baseline):
                before, after = baseline.get(label, 0.0), now.get(label, 0.0)
                if abs(after - before) >= 0.01:
                    moved.append((label, before, after))
        # biggest move first; a rise before the equal fall it causes (500s up is the news, 200s down its echo)
        moved.sort(key=lambda m: (-round(abs(m[2] - m[1]), 9), m[2] < m[1], m[0]))
        if baseline and not learn:
            return attribution_text(moved[: self.top_moves], signal)
        alpha = self.baseline_alpha if baseline else 1.0
        for label in set(now) | set(baseline):
            baseline[label] = (1 - alpha) * baseline.get(label, 0.0) + alpha * now.get(label, 0.0)
        return attribution_text(moved[: self.top_moves], signal)

    def _track(
        self, series: str, signal: str, point: Mapping[str, Any], key: str, source: _Source
    ) -> str:
        name = f"{series}|{signal}"
        if name not in self.tracks:
            self.tracks[name] = _Track(
                series,
                signal,
                point["metric"],
                dict(point.get("attributes") or {}),
                dict(point.get("resource") or {}),
                key,
                AnomalyAlerter(self.policies.for_metric(point["metric"])),
            )
            source.tracks.add(name)
        return name

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
        self.bank.forget(idle)
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
        return len(self.bank)

    # -- checkpoints ----------------------------------------------------------------

    def export_source(self, key: str) -> dict[str, Any]:
        """A resource's open groups, clocks and baselines (strict JSON: a clock that never ticked is ``null``)."""
        source = self.sources[key]
        return {
            "pending": [[g.t, g.points] for g in source.pending],
            "newest": _finite(source.newest),
            "closed_upto": _finite(source.closed_upto),
            "shares": source.shares,
            "tracks": sorted(source.tracks),
        }

    def export_track(self, name: str) -> dict[str, Any]:
        """A track's identity, alert state and detector row (JSON-able; the row as base64 ``.npz``)."""
        track = self.tracks[name]
        detector = self.bank.export_state(name) if name in self.bank else None
        return {
            "series": track.series,
            "signal": track.signal,
            "metric": track.metric,
            "attributes": track.attributes,
            "resource": track.resource,
            "source": track.source,
            "last_t": _finite(track.last_t),
            "seen": _finite(track.seen),
            "episode": track.episode,
            "alerter": track.alerter.to_state(),
            "detector": base64.b64encode(detector).decode() if detector is not None else None,
        }

    def restore_source(
        self,
        key: str,
        state: Mapping[str, Any],
        tracks: Mapping[str, Mapping[str, Any]],
        now: float,
    ) -> None:
        """Load a resource and its tracks from a checkpoint; open groups wait ``close_after_s`` from ``now``."""
        self.forget_source(key)
        source = _Source(
            [_Group(t, now, dict(points)) for t, points in state["pending"]],
            _or_never(state["newest"]),
            _or_never(state["closed_upto"]),
            {k: dict(v) for k, v in state["shares"].items()},
        )
        self.sources[key] = source
        for name, saved in tracks.items():
            alerter = AnomalyAlerter.from_state(
                saved["alerter"], self.policies.for_metric(saved["metric"])
            )
            self.tracks[name] = _Track(
                saved["series"],
                saved["signal"],
                saved["metric"],
                dict(saved["attributes"]),
                dict(saved["resource"]),
                key,
                alerter,
                _or_never(saved["last_t"]),
                _or_never(saved["seen"]),
                saved["episode"],
            )
            source.tracks.add(name)
            if saved["detector"] is not None:
                self.bank.import_state(name, base64.b64decode(saved["detector"]))

    def forget_source(self, key: str) -> None:
        """Drop a resource and its tracks from memory (its partition moved to another worker)."""
        source = self.sources.pop(key, None)
        if source is None:
            return
        self.bank.forget(source.tracks)
        for name in source.tracks:
            self.tracks.pop(name, None)

    def memory_bytes(self) -> int:
        """Detector state in the bank: every allocated row, live or free."""
        return self.bank.capacity * self.bank.bytes_per_series


def _finite(x: float) -> float | None:
    """``None`` for a clock that never ticked (-inf), so checkpoints are strict JSON."""
    return x if math.isfinite(x) else None


def _or_never(x: float | None) -> float:
    return -math.inf if x is None else float(x)
