"""From anomaly scores to alerts: threshold, hysteresis, minimum duration, quiet period; and their explanation.

A score is a point's anomaly score in [0, 1] from the default detector (0.5
means a tail probability of 1e-5 on the series' own history, see
:mod:`aiops.anomaly.detectors.calibration`). Per series, an
:class:`AnomalyAlerter` turns the stream of ``(timestamp, score)`` into
*transitions*, at most one per point:

- **threshold**: a point is *above* when ``score >= threshold``;
- **minimum duration**: an episode fires once ``min_points`` consecutive
  points were above *and* ``min_seconds`` have passed since the first of them
  (a short blip is ignored); a point below ``threshold`` resets the count, and
  so does one above it on the other side of the expected value (a dip then a
  catch-up, such as a stalled client's, is jitter, not a lasting change);
- **hysteresis**: a firing episode resolves once ``clear_points``
  consecutive points (1 by default) scored below ``clear_threshold`` (lower
  than ``threshold``), so a score hovering around the threshold does not
  flap, nor does a noisy incident's one export that looks normal;
- **quiet period**: after a resolve, no new episode fires during the next
  ``quiet_points`` points nor within ``quiet_seconds`` seconds (Merlion's alarm
  aggregation idea: the tail of one incident does not page twice). Points
  above threshold during the quiet period still count towards the minimum
  duration, so a lasting anomaly fires when the quiet period ends.

A missing score (NaN) changes nothing and counts for nothing. Each transition
carries since-when (the first point above threshold), the peak score and, at
the peak, the actual value and the expected one with its scale (the
detector's ``expected()`` before the point was learnt).

:class:`AlertPolicy` holds the parameters (a frozen dataclass with defaults);
:class:`AlertPolicies` picks one per metric name by the first matching
``fnmatch`` pattern. :func:`anomaly_labels`, :func:`anomaly_annotations` and
:func:`anomaly_alert` build the Alertmanager-shaped :class:`AlertV1` events
(``alertname="AnomalyDetected"``).

Not done yet: *attribution* (which attributes, e.g. routes or status codes,
moved most against their baseline) needs the per-attribute series of a
service-level metric; the shell that has them should pass a short text as
``attribution=`` to :func:`anomaly_annotations`, which then adds it to the
description and as the ``attribution`` annotation.

>>> alerter = AnomalyAlerter(AlertPolicy(threshold=0.5, clear_threshold=0.3, min_points=2))
>>> scores = [0.1, 0.6, 0.7, 0.4, 0.35, 0.2, 0.1]
>>> [(t, e.kind) for t, s in enumerate(scores) if (e := alerter.update(float(t), s)) is not None]
[(2, 'firing'), (5, 'resolved')]
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "ALERTNAME",
    "REQUEST_METRICS",
    "AlertPolicies",
    "AlertPolicy",
    "AnomalyAlerter",
    "Transition",
    "anomaly_alert",
    "anomaly_annotations",
    "anomaly_labels",
    "explain",
    "run_alerts",
]

ALERTNAME = "AnomalyDetected"


@dataclass(frozen=True)
class AlertPolicy:
    """When a series' scores become an alert; the defaults suit the default detector's calibrated score.

    ``alert`` says whether transitions become alert events; ``False`` keeps
    the state machine running (so a track can still be seen as elevated) but
    raises none. Left unset (``None``), :meth:`AlertPolicies.for_metric`
    decides by the metric: the request metrics (:data:`REQUEST_METRICS`)
    alert, the others do not.

    ``min_history`` is how many points a series must have been scored
    before it may fire: a detector's first few hundred points are its
    warm-up, and the confidence it shows there is not yet earned.

    ``learn_after`` bounds how long the stream judges an episode against
    the time before it: a track's detector learns none of an episode's
    points (pending or firing) until the episode has lasted ``learn_after``
    points, so a long incident keeps its score and its alert; that point's
    value is then taken as the new level
    (:meth:`~aiops.anomaly.detectors.fast.FastCombined.relevel`), so a
    lasting level step alerts once and resolves at the episode's point
    ``learn_after + clear_points``. 0 (the default here; the stream's
    default policy sets 120) learns from the firing point on. Use it with
    ``min_history``: an alert during the detector's warm-up would hold back
    the learning the warm-up needs.

    >>> AlertPolicy()
    AlertPolicy(threshold=0.5, clear_threshold=0.3, min_points=1, min_seconds=0.0, quiet_points=10, quiet_seconds=0.0, severity='warning', alert=None, min_history=0, learn_after=0, clear_points=1)
    >>> AlertPolicy(threshold=0.3, clear_threshold=0.5)
    Traceback (most recent call last):
    ...
    ValueError: clear_threshold 0.5 must not exceed threshold 0.3
    """

    threshold: float = 0.5
    clear_threshold: float = 0.3
    min_points: int = 1
    min_seconds: float = 0.0
    quiet_points: int = 10
    quiet_seconds: float = 0.0
    severity: str = "warning"
    alert: bool | None = None
    min_history: int = 0
    learn_after: int = 0
    clear_points: int = 1

    def __post_init__(self) -> None:
        if not self.clear_threshold <= self.threshold:
            raise ValueError(
                f"clear_threshold {self.clear_threshold} must not exceed threshold {self.threshold}"
            )
        if min(self.min_points, self.clear_points) < 1:
            raise ValueError(
                f"min_points and clear_points must be at least 1, got {self.min_points} "
                f"and {self.clear_points}"
            )
        if (
            min(
                self.min_seconds,
                self.quiet_seconds,
                self.quiet_points,
                self.min_history,
                self.learn_after,
            )
            < 0
        ):
            raise ValueError(
                "min_seconds, quiet_points, quiet_seconds, min_history and learn_after "
                "must not be negative"
            )
        if not self.severity:
            raise ValueError("severity must not be empty")


REQUEST_METRICS: tuple[str, ...] = (
    "http.server.request.duration",
    "http.server.duration",
    "rpc.server.duration",
)
"""The OpenTelemetry server request histograms (stable and older HTTP semantic conventions, RPC):
per service and per route, their rate and mean latency are what anomaly alerts cover by default."""


@dataclass(frozen=True)
class AlertPolicies:
    """A default policy and per-metric overrides by ``fnmatch`` pattern on the metric name (first match wins).

    Every metric is scored; whether its anomalies alert is the policy's
    ``alert``, and where no policy sets it, only the request signals
    (:data:`REQUEST_METRICS`: per service and per route, their rate and mean
    latency) alert. Other metrics (CPU, memory, queue depths, active
    requests) alert only where a policy says so: their swings are rarely
    worth a page on their own.

    >>> policies = AlertPolicies.from_mapping({"default": {"threshold": 0.6, "clear_threshold": 0.4},
    ...                                        "overrides": {"http.server.*": {"min_points": 3}}})
    >>> policies.for_metric("http.server.request.duration").min_points
    3
    >>> policies.for_metric("http.server.request.duration").threshold   # the rest from the default
    0.6
    >>> policies.for_metric("http.server.request.duration").alert, policies.for_metric("queue.depth").alert
    (True, False)
    >>> AlertPolicies.from_mapping({"overrides": {"queue.*": {"alert": True}}}).for_metric("queue.depth").alert
    True
    """

    default: AlertPolicy = field(default_factory=AlertPolicy)
    overrides: tuple[tuple[str, AlertPolicy], ...] = ()

    def for_metric(self, metric: str) -> AlertPolicy:
        """The policy of ``metric``: the first override whose pattern matches, else the default; ``alert`` decided."""
        policy = next(
            (p for pattern, p in self.overrides if fnmatch.fnmatchcase(metric, pattern)),
            self.default,
        )
        if policy.alert is None:
            policy = replace(policy, alert=metric in REQUEST_METRICS)
        return policy

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AlertPolicies:
        """From ``{"default": {field: value}, "overrides": {pattern: {field: value}}}`` (e.g. settings or YAML).

        Overrides change only the fields they name, starting from the default. Unknown fields raise
        ``ValueError`` naming the path.
        """
        known = {f.name for f in fields(AlertPolicy)}

        def build(base: dict[str, Any], changes: Mapping[str, Any], path: str) -> AlertPolicy:
            unknown = sorted(set(changes) - known)
            if unknown:
                raise ValueError(
                    f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                )
            return AlertPolicy(**{**base, **changes})

        default = build({}, data.get("default") or {}, "default")
        base = {f.name: getattr(default, f.name) for f in fields(AlertPolicy)}
        overrides = tuple(
            (pattern, build(base, changes or {}, f"overrides[{pattern!r}]"))
            for pattern, changes in (data.get("overrides") or {}).items()
        )
        return cls(default, overrides)


@dataclass(frozen=True)
class Transition:
    """An episode starting (``firing``) or ending (``resolved``) at ``at``; times are epoch seconds.

    ``actual``, ``expected`` and ``sigma`` are those of the peak point (``None`` when not given).

    >>> run_alerts([0, 60], [0.9, 0.0], actuals=[250.0, 100.0], expected=[(100.0, 10.0), (100.0, 12.0)])[0]
    Transition(kind='firing', at=0.0, since=0.0, peak_score=0.9, peak_at=0.0, actual=250.0, expected=100.0, sigma=10.0, threshold=0.5, points=1)
    """

    kind: Literal["firing", "resolved"]
    at: float
    since: float
    peak_score: float
    peak_at: float
    actual: float | None
    expected: float | None
    sigma: float | None
    threshold: float
    points: int
    """Points of the episode so far: above ``threshold`` before firing, at or above ``clear_threshold`` after."""


class AnomalyAlerter:
    """The alert state machine of one series (picklable, so it can be checkpointed with the detector).

    ``update(timestamp, score, actual, expected)``: ``expected`` is the
    detector's ``expected()`` (forecast, sigma) taken *before* it learnt the
    point, or ``None``. Returns a :class:`Transition` or ``None``.

    Flapping around the threshold is held by hysteresis:

    >>> alerter = AnomalyAlerter(AlertPolicy(threshold=0.5, clear_threshold=0.3, quiet_points=0))
    >>> events = [alerter.update(float(t), s) for t, s in enumerate([0.6, 0.45, 0.55, 0.4, 0.6, 0.1])]
    >>> [(e.kind, e.at, e.since, e.peak_score) for e in events if e]
    [('firing', 0.0, 0.0, 0.6), ('resolved', 5.0, 0.0, 0.6)]
    """

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self.firing = False
        self._n = 0
        self._run = 0  # consecutive points above threshold (while not firing)
        self._clear = 0  # consecutive points below clear_threshold (while firing)
        self._since = math.nan
        self._above: bool | None = None  # the run's side of the expected value, when known
        self._last_resolved: tuple[int, float] | None = None
        self._peak: tuple[float, float, float | None, float | None, float | None] | None = None

    @property
    def elevated(self) -> bool:
        """Firing, or counting points above threshold towards firing: the series is not at its baseline."""
        return self.firing or self._run > 0

    @property
    def pending(self) -> bool:
        """Counting points above threshold, not firing yet: whether this is an anomaly is still open.

        The stream does not let a detector learn such a point (a blip stays
        unlearnt, and a lasting step is still scored against the time before
        it until it fires), so ``min_points`` can ask for persistence
        without the step being learnt away first.

        >>> alerter = AnomalyAlerter(AlertPolicy(min_points=2))
        >>> _ = alerter.update(0.0, 0.9)
        >>> alerter.pending, alerter.update(1.0, 0.8).kind, alerter.pending
        (True, 'firing', False)
        """
        return not self.firing and self._run > 0

    @property
    def episode_points(self) -> int:
        """Points of the current episode so far (pending or firing; 0 outside one).

        >>> alerter = AnomalyAlerter(AlertPolicy(min_points=2))
        >>> [(alerter.update(float(t), s), alerter.episode_points)[1] for t, s in enumerate([0.9, 0.8, 0.4, 0.1])]
        [1, 2, 3, 0]
        """
        return self._run

    def to_state(self) -> dict[str, Any]:
        """The machine's state as strict JSON data (no NaN); the policy is not part of it: it comes from the settings.

        >>> alerter = AnomalyAlerter()
        >>> _ = alerter.update(0.0, 0.9, 5.0, (1.0, 0.5))
        >>> restored = AnomalyAlerter.from_state(alerter.to_state())
        >>> restored.firing, restored.update(1.0, 0.1).kind
        (True, 'resolved')
        """
        return {
            "firing": self.firing,
            "n": self._n,
            "run": self._run,
            "clear": self._clear,
            "since": None if math.isnan(self._since) else self._since,
            "above": self._above,
            "last_resolved": self._last_resolved,
            "peak": self._peak,
        }

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], policy: AlertPolicy | None = None
    ) -> AnomalyAlerter:
        """The machine :meth:`to_state` saved, under ``policy``."""
        alerter = cls(policy)
        alerter.firing, alerter._n, alerter._run = (
            bool(state["firing"]),
            int(state["n"]),
            int(state["run"]),
        )
        alerter._clear = int(state.get("clear", 0))
        alerter._since = math.nan if state["since"] is None else float(state["since"])
        alerter._above = state.get("above")
        alerter._last_resolved = tuple(state["last_resolved"]) if state["last_resolved"] else None
        alerter._peak = tuple(state["peak"]) if state["peak"] else None
        return alerter

    def restart_history(self) -> None:
        """Count the warm-up (``min_history``) again, keeping an open episode: the track's detector starts afresh.

        >>> alerter = AnomalyAlerter(AlertPolicy(min_points=1, min_history=2))
        >>> [alerter.update(float(t), 0.9) for t in range(3)][-1].kind
        'firing'
        >>> alerter.restart_history()
        >>> alerter.firing, alerter.update(3.0, 0.0).kind
        (True, 'resolved')
        >>> alerter.update(4.0, 0.9) is None  # in its warm-up again
        True
        """
        if self._last_resolved is not None:
            n, at = self._last_resolved
            self._last_resolved = (n - self._n, at)
        self._n = 0

    def _quiet(self, t: float) -> bool:
        if self._last_resolved is None:
            return False
        n, at = self._last_resolved
        return self._n - n <= self.policy.quiet_points or t - at < self.policy.quiet_seconds

    def _note_peak(
        self, t: float, score: float, actual: float | None, expected: tuple[float, float] | None
    ) -> None:
        if self._peak is None or score > self._peak[0]:
            forecast, sigma = expected if expected is not None else (None, None)
            self._peak = (score, t, actual, forecast, sigma)

    def _transition(self, kind: Literal["firing", "resolved"], t: float) -> Transition:
        assert self._peak is not None
        score, peak_at, actual, forecast, sigma = self._peak
        return Transition(
            kind,
            t,
            self._since,
            score,
            peak_at,
            actual,
            forecast,
            sigma,
            self.policy.threshold,
            self._run,
        )

    def steady(self, score: float) -> bool:
        """:meth:`update`'s common case, cheaply: not firing, not counting, and ``score`` changes only the count.

        True when the score was taken (then :meth:`update` must not be called for it).

        >>> alerter = AnomalyAlerter(AlertPolicy(threshold=0.5))
        >>> alerter.steady(0.1), alerter.steady(0.9)
        (True, False)
        """
        policy = self.policy
        if (
            self.firing
            or self._run
            or (score >= policy.threshold and self._n >= policy.min_history)
        ):
            return False
        self._n += 1
        return True

    def update(
        self,
        timestamp: float,
        score: float,
        actual: float | None = None,
        expected: tuple[float, float] | None = None,
    ) -> Transition | None:
        """Feed the next point's score; a transition when an episode fires or resolves, else ``None``."""
        if math.isnan(score):
            return None
        self._n += 1
        policy = self.policy
        if self.firing:
            self._run += 1
            self._note_peak(timestamp, score, actual, expected)
            self._clear = self._clear + 1 if score < policy.clear_threshold else 0
            if self._clear >= policy.clear_points:
                self._run -= self._clear
                event = self._transition("resolved", timestamp)
                self.firing, self._run, self._peak, self._clear = False, 0, None, 0
                self._last_resolved = (self._n, timestamp)
                return event
            return None
        if score < policy.threshold or self._n <= policy.min_history:
            self._run, self._peak = 0, None
            return None
        above = None if actual is None or expected is None else actual >= expected[0]
        if self._run and None not in (above, self._above) and above != self._above:
            self._run, self._peak = 0, None
        if self._run == 0:
            self._since, self._above = timestamp, above
        self._run += 1
        self._note_peak(timestamp, score, actual, expected)
        if (
            self._run >= policy.min_points
            and timestamp - self._since >= policy.min_seconds
            and not self._quiet(timestamp)
        ):
            self.firing = True
            return self._transition("firing", timestamp)
        return None


def run_alerts(
    timestamps: Sequence[float],
    scores: Sequence[float],
    policy: AlertPolicy | None = None,
    actuals: Sequence[float] | None = None,
    expected: Sequence[tuple[float, float] | None] | None = None,
) -> list[Transition]:
    """Every transition of one series, offline (what ``aiops replay`` runs).

    >>> [e.kind for e in run_alerts([0, 60, 120, 180], [0.0, 0.9, 0.1, 0.0])]
    ['firing', 'resolved']
    """
    alerter = AnomalyAlerter(policy)
    events = []
    for i, (t, s) in enumerate(zip(timestamps, scores)):
        event = alerter.update(
            float(t),
            float(s),
            actuals[i] if actuals is not None else None,
            expected[i] if expected is not None else None,
        )
        if event is not None:
            events.append(event)
    return events


def _label_name(name: str) -> str:
    """An attribute name as a Prometheus label name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def anomaly_labels(
    metric: str, attributes: Mapping[str, str] | None = None, severity: str = "warning"
) -> dict[str, str]:
    """The alert's identity: alertname, severity, metric, service and the series' attributes as labels.

    ``service.name`` becomes ``service``; dots become underscores; ``alertname``,
    ``severity`` and ``metric`` are never overridden by an attribute.

    >>> anomaly_labels("http.server.request.duration", {"service.name": "demo", "http.route": "/pay"})
    {'alertname': 'AnomalyDetected', 'severity': 'warning', 'metric': 'http.server.request.duration', 'service': 'demo', 'http_route': '/pay'}
    """
    labels = {"alertname": ALERTNAME, "severity": severity, "metric": metric}
    for key, value in sorted((attributes or {}).items(), key=lambda kv: kv[0] != "service.name"):
        name = "service" if key == "service.name" else _label_name(key)
        labels.setdefault(name, str(value))
    return labels


def _number(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


ORDINARY_SIGMAS = 3.0
"""A peak value closer to its forecast than this many residual sigmas is not itself the anomaly."""


def explain(event: Transition, metric: str, service: str | None = None) -> str:
    """One paragraph a person can act on: expected versus actual, score and threshold, since when.

    >>> e = Transition("firing", 1_800_000_060.0, 1_800_000_000.0, 0.82, 1_800_000_060.0, 310.0, 120.0, 8.0, 0.5, 2)
    >>> print(explain(e, "http.server.request.duration", "demo"))
    http.server.request.duration of demo is anomalous since 2027-01-15T08:00:00Z: got 310, expected 120 ± 8 (23.8 sigmas above); peak score 0.82 at 2027-01-15T08:01:00Z, threshold 0.5.

    A peak within ``ORDINARY_SIGMAS`` of the forecast says what else the
    detector saw, so the numbers do not look like a false alarm:

    >>> frozen = Transition("firing", 600.0, 0.0, 0.7, 600.0, 42.0, 41.5, 2.0, 0.5, 3)
    >>> print(explain(frozen, "queue.depth"))
    queue.depth is anomalous since 1970-01-01T00:00:00Z: got 42, expected 41.5 ± 2 (0.2 sigmas above: an ordinary value; the anomaly is the pattern, such as a value that stopped changing or a run of moderate deviations); peak score 0.70 at 1970-01-01T00:10:00Z, threshold 0.5.
    """
    who = f"{metric} of {service}" if service else metric
    state = "is anomalous" if event.kind == "firing" else "was anomalous"
    until = "" if event.kind == "firing" else f" until {_iso(event.at)}"
    if event.expected is not None and event.actual is not None:
        comparison = f"got {_number(event.actual)}, expected {_number(event.expected)}"
        if event.sigma:
            z = (event.actual - event.expected) / event.sigma
            ordinary = (
                ": an ordinary value; the anomaly is the pattern, such as a value that stopped "
                "changing or a run of moderate deviations"
                if abs(z) < ORDINARY_SIGMAS
                else ""
            )
            comparison += (
                f" ± {_number(event.sigma)} ({abs(z):.1f} sigmas "
                f"{'above' if z >= 0 else 'below'}{ordinary})"
            )
    elif event.actual is not None:
        comparison = f"got {_number(event.actual)} (no forecast yet)"
    else:
        comparison = "value not recorded"
    return (
        f"{who} {state} since {_iso(event.since)}{until}: {comparison}; "
        f"peak score {event.peak_score:.2f} at {_iso(event.peak_at)}, threshold {event.threshold:g}."
    )


def anomaly_annotations(
    event: Transition, metric: str, service: str | None = None, attribution: str | None = None
) -> dict[str, str]:
    """Alert annotations: summary, description (see :func:`explain`), and the numbers as strings.

    >>> e = Transition("firing", 60.0, 0.0, 0.7, 60.0, 5.0, 1.0, 0.5, 0.5, 2)
    >>> sorted(anomaly_annotations(e, "queue.depth"))
    ['actual', 'description', 'expected', 'score', 'since', 'summary', 'threshold']
    """
    who = f"{metric} of {service}" if service else metric
    direction = ""
    if event.actual is not None and event.expected is not None:
        direction = " above" if event.actual >= event.expected else " below"
    description = explain(event, metric, service)
    annotations = {
        "summary": f"{who} is{direction} its expected range",
        "description": description,
        "score": f"{event.peak_score:.3f}",
        "threshold": f"{event.threshold:g}",
        "since": _iso(event.since),
        "expected": _number(event.expected)
        + ("" if event.sigma is None else f" ± {_number(event.sigma)}"),
        "actual": _number(event.actual),
    }
    if attribution:
        annotations["attribution"] = attribution
        annotations["description"] = f"{description} Moved most: {attribution}."
    return annotations


def anomaly_alert(
    event: Transition,
    metric: str,
    attributes: Mapping[str, str] | None = None,
    generator_url: str = "",
    policy: AlertPolicy | None = None,
    firing: Any = None,
    attribution: str | None = None,
):
    """The :class:`~aiops.schemas.alerts.AlertV1` event of a transition.

    A ``resolved`` event needs the episode's ``firing`` event (same id); its
    annotations are refreshed with the whole episode's peak.

    >>> e = Transition("firing", 60.0, 0.0, 0.7, 60.0, 5.0, 1.0, 0.5, 0.5, 2)
    >>> alert = anomaly_alert(e, "queue.depth", {"service.name": "demo"})
    >>> alert.status, alert.labels["alertname"], alert.startsAt.isoformat()
    ('firing', 'AnomalyDetected', '1970-01-01T00:00:00+00:00')
    """
    from aiops.schemas.alerts import AlertV1

    severity = (policy or AlertPolicy()).severity
    service = (attributes or {}).get("service.name")
    annotations = anomaly_annotations(event, metric, service, attribution)
    if event.kind == "firing":
        labels = anomaly_labels(metric, attributes, severity)
        return AlertV1.firing(
            labels, annotations, datetime.fromtimestamp(event.since, UTC), generator_url
        )
    if firing is None:
        raise ValueError("a resolved event needs the episode's firing event")
    return firing.resolve(datetime.fromtimestamp(event.at, UTC), annotations)
