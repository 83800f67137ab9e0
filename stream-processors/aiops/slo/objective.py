"""The internal model of an SLO: converted once from the spec, then the only input of everything else.

``to_objective(spec)`` is pyrra's ``Internal()``: it resolves what the spec
leaves implicit (the target as a ratio, durations in seconds, the default
alert windows and their burn-rate factors for this SLO window, the
Prometheus names) so that the rule generator, the dashboards and the stream
evaluator read one plain, frozen object and agree by construction.

The stream uses an ``Objective`` in three calls, all pure:

- ``objective.events(point)``: the (good, total) events an ``aiops.points``
  record adds, or None when the SLO does not read that point;
- ``objective.group_key(point)``: the values of ``groupBy`` (one window set
  per SLO and group);
- ``objective.evaluate(counts)``: the multi-window, multi-burn-rate verdict
  per severity from a window → ``EventCounts`` mapping (``SliWindows.snapshot()``).

>>> from aiops.slo.spec import EXAMPLE, parse_slos
>>> objective = to_objective(parse_slos(EXAMPLE)[0])
>>> objective.id, objective.target, objective.window_s
('demo-service-checkout-availability', 0.999, 2592000)
>>> [(p.name, p.short_s, p.long_s, round(p.factor, 2)) for p in objective.alert_pairs]
[('page-quick', 300, 3600, 14.4), ('page-slow', 1800, 21600, 6.0), ('ticket-quick', 7200, 86400, 3.0), ('ticket-slow', 21600, 259200, 1.0)]
>>> point = {"metric": "http.server.request.duration", "kind": "histogram", "unit": "s", "count": 40,
...          "attributes": {"http.route": "/api/checkout", "http.response.status_code": 503},
...          "resource": {"service.name": "demo-service"}}
>>> objective.events(point)           # 40 requests, all bad
(0.0, 40.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiops.slo.burn_rate import SeverityResult, WindowPair, burn_rate_factor, evaluate
from aiops.slo.durations import format_duration, parse_duration
from aiops.slo.exponential_histogram import (
    ExponentialHistogram,
    as_prometheus_ingests,
)
from aiops.slo.matchers import Matcher, attribute_text
from aiops.slo.names import prometheus_label_name, prometheus_metric_name
from aiops.slo.quantile import count_at_or_below, native_count_at_or_below
from aiops.slo.sli_windows import EventCounts
from aiops.slo.spec import MetricSourceSpec, SloSpec, load_slos
from aiops.slo.windows import DEFAULT_WINDOWS, SEVERITIES, SPEEDS

__all__ = [
    "LatencyIndicator",
    "Objective",
    "RatioIndicator",
    "Selector",
    "attribute",
    "exponential_of",
    "load_objectives",
    "objectives_from",
    "to_objective",
]

_KINDS = {"histogram": ("histogram", "exponential_histogram"), "counter": ("sum",)}
"""The point kinds an instrument's selector reads: a histogram, classic or exponential."""

Point = Mapping[str, Any]
"""An ``aiops.points/v1`` record: ``metric``, ``kind``, ``unit``, ``attributes``, ``resource``, values."""


def attribute(point: Point, name: str) -> object:
    """An attribute of a point: the point's own first, then its resource's; None when neither has it.

    >>> attribute({"attributes": {"http.route": "/a"}, "resource": {"service.name": "d"}}, "service.name")
    'd'
    """
    attributes = point.get("attributes") or {}
    if name in attributes:
        return attributes[name]
    return (point.get("resource") or {}).get(name)


def exponential_of(point: Point) -> ExponentialHistogram:
    """An exponential histogram point (``aiops.points/v1``) as Prometheus stores it after its OTLP receiver.

    Scale capped at 8, zero threshold 1e-128 (``as_prometheus_ingests``), so
    counts and percentiles are those Prometheus answers; raises ``ValueError``
    for a scale below -4, which Prometheus refuses.
    """
    e = point["exponential"]
    return as_prometheus_ingests(
        ExponentialHistogram(
            scale=e["scale"],
            count=point["count"],
            sum=point["sum"],
            zero_count=e["zero_count"],
            zero_threshold=e["zero_threshold"],
            positive_offset=e["positive"]["offset"],
            positive=e["positive"]["bucket_counts"],
            negative_offset=e["negative"]["offset"],
            negative=e["negative"]["bucket_counts"],
            min=e["min"],
            max=e["max"],
        )
    )


@dataclass(frozen=True)
class Selector:
    """Which series of which metric: an OpenTelemetry metric, its unit and instrument, and matchers.

    >>> s = Selector("http.server.request.duration", "s", "histogram", (Matcher.parse('http.route="/a"'),))
    >>> s.prometheus_name, s.events({"metric": "http.server.request.duration", "kind": "histogram",
    ...                               "unit": "s", "count": 3, "attributes": {"http.route": "/a"}})
    ('http_server_request_duration_seconds', 3.0)
    """

    metric: str
    unit: str
    instrument: Literal["histogram", "counter"]
    matchers: tuple[Matcher, ...] = ()
    histogram: Literal["classic", "native"] = "classic"
    """How Prometheus stores a histogram: ``_bucket``/``_count`` series, or one native series."""

    @classmethod
    def from_spec(cls, spec: MetricSourceSpec) -> Selector:
        """The selector a spec's ``metricSource.spec`` describes."""
        return cls(
            spec.metric,
            spec.unit,
            spec.instrument,
            tuple(Matcher.parse(m) for m in spec.matchers),
            spec.histogram,
        )

    @property
    def native(self) -> bool:
        """Whether Prometheus holds this histogram as a native histogram."""
        return self.instrument == "histogram" and self.histogram == "native"

    @property
    def prometheus_name(self) -> str:
        """The Prometheus base name (histograms without ``_bucket``/``_count``)."""
        return prometheus_metric_name(self.metric, self.unit, self.instrument)

    def matches(self, point: Point) -> bool:
        """Whether a point belongs to this selector: metric, unit, instrument and every matcher."""
        if point.get("metric") != self.metric:
            return False
        if self.unit and point.get("unit", self.unit) != self.unit:
            return False
        if point.get("kind") not in _KINDS[self.instrument]:
            return False
        if self.instrument == "counter" and point.get("monotonic") is False:
            return False
        return all(m.matches(attribute(point, m.label)) for m in self.matchers)

    def events(self, point: Point) -> float | None:
        """The events in a matching point (a histogram's count, a counter's delta); None if it does not match."""
        if not self.matches(point):
            return None
        return float(
            point.get("count", 0) if self.instrument == "histogram" else point.get("value", 0.0)
        )


@dataclass(frozen=True)
class RatioIndicator:
    """Good (or bad) events over total events, each from a selector.

    Stored as good and total whichever side the spec names: with ``bad``,
    a point adds ``total - bad`` good events. Sums are linear, so a window's
    good count is exact even when bad and total come from different series.

    >>> sel = lambda *m: Selector("requests", "", "counter", tuple(Matcher.parse(x) for x in m))
    >>> r = RatioIndicator(total=sel(), bad=sel('code=~"5.."'))
    >>> r.events({"metric": "requests", "kind": "sum", "value": 7.0, "attributes": {"code": "500"}})
    (0.0, 7.0)
    >>> r.events({"metric": "requests", "kind": "sum", "value": 7.0, "attributes": {"code": "200"}})
    (7.0, 7.0)
    """

    total: Selector
    good: Selector | None = None
    bad: Selector | None = None
    kind: Literal["ratio"] = "ratio"

    def __post_init__(self) -> None:
        if (self.good is None) == (self.bad is None):
            raise ValueError("a ratio indicator needs exactly one of good or bad")

    @property
    def metrics(self) -> frozenset[str]:
        """The metric names the indicator reads (a point of any other adds nothing)."""
        return frozenset(s.metric for s in self.selectors)

    @property
    def selectors(self) -> tuple[Selector, ...]:
        """The selectors the indicator reads."""
        return tuple(s for s in (self.total, self.good, self.bad) if s is not None)

    def events(self, point: Point) -> tuple[float, float] | None:
        """(good, total) events the point adds, or None when no selector reads it."""
        total = self.total.events(point)
        if self.good is not None:
            good = self.good.events(point)
            if total is None and good is None:
                return None
            return (good or 0.0, total or 0.0)
        assert self.bad is not None
        bad = self.bad.events(point)
        if total is None and bad is None:
            return None
        return ((total or 0.0) - (bad or 0.0), total or 0.0)


@dataclass(frozen=True)
class LatencyIndicator:
    """Requests at or below ``threshold`` over all requests of a histogram.

    On a classic histogram the threshold is one of the declared ``buckets``;
    on a native one (``source.native``) nothing is declared (``buckets`` is
    empty) and the threshold may fall inside a bucket. ``events`` reads
    classic points by their bounds and exponential points by their buckets,
    as Prometheus stores them (``as_prometheus_ingests``), interpolating in
    the bucket that straddles the threshold as ``histogram_fraction`` does
    (``interpolates`` says which points those are).

    >>> r = LatencyIndicator(Selector("latency", "s", "histogram"), threshold=0.25, buckets=(0.1, 0.25, 0.5))
    >>> r.events({"metric": "latency", "kind": "histogram", "unit": "s", "count": 10,
    ...           "bounds": [0.1, 0.25, 0.5], "bucket_counts": [5, 3, 1, 1]})
    (8.0, 10.0)
    >>> exponential = {"metric": "latency", "kind": "exponential_histogram", "unit": "s", "count": 4,
    ...     "sum": 0.5, "exponential": {"scale": 0, "zero_count": 0, "zero_threshold": 0.0,
    ...     "positive": {"offset": -3, "bucket_counts": [2, 2]}, "negative": {"offset": 0,
    ...     "bucket_counts": []}, "min": None, "max": None}}
    >>> r.events(exponential), r.interpolates(exponential)   # (0.125, 0.25] holds 2
    ((2.0, 4.0), True)
    >>> native = LatencyIndicator(Selector("latency", "s", "histogram", histogram="native"), 0.3, ())
    >>> round(native.events(exponential)[0], 4)   # and log2(0.3 / 0.25) of (0.25, 0.5]'s 2
    2.5261
    """

    source: Selector
    threshold: float
    buckets: tuple[float, ...]
    kind: Literal["latency"] = "latency"

    @property
    def metrics(self) -> frozenset[str]:
        """The metric name the indicator reads."""
        return frozenset({self.source.metric})

    @property
    def selectors(self) -> tuple[Selector, ...]:
        """The selector the indicator reads."""
        return (self.source,)

    def events(self, point: Point) -> tuple[float, float] | None:
        """(good, total) events of a matching histogram point, or None.

        Raises ``NotABucketBound`` when the point's bounds lack the threshold
        (the service changed its buckets): count it as a problem, not as data.
        """
        if not self.source.matches(point):
            return None
        if point["kind"] == "exponential_histogram":
            good = native_count_at_or_below(self.threshold, exponential_of(point))
        else:
            good = count_at_or_below(
                self.threshold, point.get("bounds") or [], point.get("bucket_counts") or [0]
            )
        return (good, float(point.get("count", 0)))

    def interpolates(self, point: Point) -> bool:
        """Whether ``events`` counts this point's good events by interpolating inside a bucket (exponential)."""
        return point.get("kind") == "exponential_histogram"


@dataclass(frozen=True)
class Objective:
    """One SLO, resolved: what it measures, its target and window, and its alert windows."""

    name: str
    service: str
    target: float
    window_s: int
    indicator: RatioIndicator | LatencyIndicator
    pairs: tuple[WindowPair, ...]
    """All four window pairs (page/ticket × quick/slow), enabled or not: each one's windows are recorded."""
    group_by: tuple[str, ...] = ()
    display_name: str = ""
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    alert_name: str = "SLOBurnRate"
    alert_labels: Mapping[str, str] = field(default_factory=dict)
    alert_annotations: Mapping[str, str] = field(default_factory=dict)
    severity_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    severity_annotations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    disabled_severities: frozenset[str] = frozenset()
    min_events: int = 10

    @property
    def id(self) -> str:
        """``<service>-<name>``: Sloth's ``sloth_id``, unique in a spec file."""
        return f"{self.service}-{self.name}"

    @property
    def error_budget(self) -> float:
        """``1 - target``: the fraction of events allowed to be bad over the window."""
        return 1.0 - self.target

    @property
    def alert_pairs(self) -> tuple[WindowPair, ...]:
        """The pairs of the severities that alert (not disabled)."""
        return tuple(p for p in self.pairs if p.severity not in self.disabled_severities)

    def severity_alert_labels(self, severity: str) -> dict[str, str]:
        """The labels of this objective's ``severity`` alert, in the rules and on the alerts topic.

        The derived ``severity``, ``slo`` and ``service`` come first and the
        spec's labels as written win over them: ``alerting.labels``, then the
        severity's own (``pageAlert.labels``). That is Sloth's rule (its alert
        labels merge the spec's over ``sloth_severity``), so Alertmanager routes
        written for Sloth's output keep matching.

        >>> from dataclasses import replace
        >>> from aiops.slo.spec import EXAMPLE, parse_slos
        >>> objective = to_objective(parse_slos(EXAMPLE)[0])
        >>> objective.severity_alert_labels("page")["severity"]
        'page'
        >>> critical = replace(objective, severity_labels={"page": {"severity": "critical"}})
        >>> critical.severity_alert_labels("page")["severity"], critical.severity_alert_labels("ticket")["severity"]
        ('critical', 'ticket')
        """
        return {
            "severity": severity,
            "slo": self.name,
            "service": self.service,
            **self.alert_labels,
            **self.severity_labels.get(severity, {}),
        }

    @property
    def windows_s(self) -> tuple[int, ...]:
        """Every window to keep and record, shortest first: all pairs' windows and the SLO window.

        With the defaults: :data:`~aiops.slo.windows.DEFAULT_WINDOWS_S` and the SLO window.
        """
        windows = {int(w) for p in self.pairs for w in (p.short_s, p.long_s)} | {self.window_s}
        return tuple(sorted(windows))

    @property
    def current_window_s(self) -> int:
        """The window of the "current" burn rate: the page-quick pair's short window (5m), as Sloth."""
        pair = next(
            (p for p in self.pairs if p.name == "page-quick"),
            min(self.pairs, key=lambda p: p.short_s),
        )
        return int(pair.short_s)

    @property
    def group_labels(self) -> tuple[str, ...]:
        """``group_by`` as Prometheus label names (``http.route`` → ``http_route``), for rules and alerts."""
        return tuple(prometheus_label_name(g) for g in self.group_by)

    def group_key(self, point: Point) -> tuple[str, ...]:
        """The point's values of ``group_by`` (missing: ``""``), the key of its window set."""
        return tuple(attribute_text(attribute(point, g)) for g in self.group_by)

    def reads(self, series: Point) -> bool:
        """Whether some selector of the SLO may read points of ``series`` (its metric, kind, unit and labels).

        A series the SLO does not read adds no events whatever its points
        hold, so a reader can skip it by identity alone.

        >>> from aiops.slo.spec import EXAMPLE, parse_slos
        >>> objective = to_objective(parse_slos(EXAMPLE)[0])
        >>> objective.reads({"metric": "queue.depth", "kind": "gauge", "attributes": {}})
        False
        """
        return any(selector.matches(series) for selector in self.indicator.selectors)

    def events(self, point: Point) -> tuple[float, float] | None:
        """(good, total) events the point adds to this SLO, or None when the SLO does not read it."""
        return self.indicator.events(point)

    def evaluate(self, counts: Mapping[float, EventCounts]) -> list[SeverityResult]:
        """The burn-rate verdict per enabled severity from per-window counts (low-traffic guard included)."""
        return evaluate(self.alert_pairs, counts, self.target, self.min_events)

    def describe(self) -> str:
        """One line for people: id, SLI, target, window, grouping.

        >>> from aiops.slo.spec import EXAMPLE, parse_slos
        >>> to_objective(parse_slos(EXAMPLE)[0]).describe()
        'demo-service-checkout-availability: ratio SLI, target 99.9% over 30d'
        """
        sli = (
            f"latency SLI <= {self.indicator.threshold:g}s"
            if isinstance(self.indicator, LatencyIndicator)
            else "ratio SLI"
        )
        grouping = f", per {', '.join(self.group_by)}" if self.group_by else ""
        return f"{self.id}: {sli}, target {self.target * 100:g}% over {format_duration(self.window_s)}{grouping}"


def to_objective(spec: SloSpec) -> Objective:
    """Convert a validated spec into an ``Objective`` (once, at the edge)."""
    body = spec.spec
    window_s = parse_duration(body.time_window[0].duration)
    indicator_spec = body.indicator.spec
    indicator: RatioIndicator | LatencyIndicator
    if indicator_spec.threshold_metric is not None:
        source = indicator_spec.threshold_metric.metric_source.spec
        threshold = body.objectives[0].value
        assert threshold is not None
        indicator = LatencyIndicator(
            Selector.from_spec(source), float(threshold), tuple(source.buckets or ())
        )
    else:
        ratio = indicator_spec.ratio_metric
        assert ratio is not None
        indicator = RatioIndicator(
            total=Selector.from_spec(ratio.total.metric_source.spec),
            good=Selector.from_spec(ratio.good.metric_source.spec) if ratio.good else None,
            bad=Selector.from_spec(ratio.bad.metric_source.spec) if ratio.bad else None,
        )
    alerting = body.alerting
    severities = {"page": alerting.page_alert, "ticket": alerting.ticket_alert}
    return Objective(
        name=spec.metadata.name,
        service=body.service,
        target=body.objectives[0].ratio,
        window_s=window_s,
        indicator=indicator,
        pairs=_pairs(spec, window_s),
        group_by=tuple(body.group_by),
        display_name=spec.metadata.display_name or body.objectives[0].display_name or "",
        description=body.description or "",
        labels={
            k: ",".join(v) if isinstance(v, list) else v
            for k, v in sorted(spec.metadata.labels.items())
        },
        alert_name=alerting.name,
        alert_labels=dict(alerting.labels),
        alert_annotations=dict(alerting.annotations),
        severity_labels={s: dict(a.labels) for s, a in severities.items()},
        severity_annotations={s: dict(a.annotations) for s, a in severities.items()},
        disabled_severities=frozenset(s for s, a in severities.items() if a.disable),
        min_events=alerting.min_events,
    )


def load_objectives(path: str | Path) -> list[Objective]:
    """Validate the SLO file at ``path`` and convert every SLO; ``SpecError`` if any is wrong."""
    return [to_objective(spec) for spec in load_slos(path)]


def objectives_from(specs: Sequence[SloSpec]) -> list[Objective]:
    """``to_objective`` over a file's specs, in order."""
    return [to_objective(spec) for spec in specs]


def _pairs(spec: SloSpec, window_s: int) -> tuple[WindowPair, ...]:
    windows = spec.spec.alerting.windows
    pairs = []
    for severity in SEVERITIES:
        tier = getattr(windows, severity)
        for speed in SPEEDS:
            given = getattr(tier, speed) if tier is not None else None
            default = DEFAULT_WINDOWS[severity][speed]
            short_s = parse_duration(given.short_window if given else default["shortWindow"])
            long_s = parse_duration(given.long_window if given else default["longWindow"])
            if given is not None and given.burn_rate is not None:
                factor = given.burn_rate
            else:
                percent = (
                    given.error_budget_percent
                    if given is not None
                    else default["errorBudgetPercent"]
                )
                factor = burn_rate_factor(percent, window_s, long_s)
            pairs.append(WindowPair(severity, speed, short_s=short_s, long_s=long_s, factor=factor))
    return tuple(pairs)
