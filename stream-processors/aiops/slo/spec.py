"""The SLO spec: the subset of OpenSLO v1 (``kind: SLO``) that aiops reads, validated at the door.

An SLO file is a YAML stream of ``apiVersion: openslo/v1``, ``kind: SLO``
documents. ``load_slos`` validates all of them before anything uses one, and
reports every problem with the file, the line, the field path and the reason::

    slos.yaml:14: slo[2].spec.objectives[0].target: must be < 1

The subset (anything else is rejected by name, never ignored):

- ``metadata``: ``name`` (RFC 1123, at most 63 characters), ``displayName``,
  ``labels`` (copied onto every generated series; lists are joined with
  commas), ``annotations``.
- ``spec.indicator``: inline only (no ``indicatorRef``), one of
  ``ratioMetric`` (``good`` or ``bad`` over ``total``; counters only) or
  ``thresholdMetric`` (a latency histogram, read with ``objectives[0].op:
  lte`` and ``value``: requests at or below ``value`` are good).
- Each ``metricSource`` has ``type: OpenTelemetry`` and a ``spec`` naming
  the OpenTelemetry ``metric``, its ``unit`` and ``instrument`` (``histogram``,
  whose count is the events, or a monotonic ``counter``), ``matchers`` on
  OpenTelemetry attribute names in PromQL syntax (``http.route=~"/api/.*"``),
  for histograms the form Prometheus stores them in (``histogram: classic``,
  the default: ``_bucket``/``_count`` series of explicit buckets; or
  ``native``: one native-histogram series, what an OTel exponential
  histogram becomes) and, for threshold SLIs on classic histograms, the
  histogram's ``buckets``.
- ``spec.timeWindow``: exactly one rolling window (``isRolling: true``),
  for example ``7d``, ``28d`` or ``30d``. Calendar windows are not supported.
- ``spec.budgetingMethod``: ``Occurrences`` (good events over all events).
- ``spec.objectives``: exactly one, with ``target`` in (0, 1) or
  ``targetPercent`` in (0, 100).

**Bucket bounds are declared, not learned.** A threshold SLI on a classic
histogram lists its bounds in ``metricSource.spec.buckets``, so a threshold
that is not a bound is an error at load time that names the nearest bounds,
rather than a surprise when the first point arrives. The stream checks every
histogram point against the same threshold (``count_at_or_below`` raises on
a point whose bounds lack it), so a service that changes its buckets is
caught too. A native histogram's buckets are exponential and need not be
declared: its threshold may be any value, and the requests below it inside
the bucket that straddles it are interpolated as ``histogram_fraction`` does.

Two aiops extensions, outside OpenSLO v1, sit in ``spec``:

- ``groupBy``: attribute names to evaluate the SLO per value of (one SLO per
  route: ``[http.route]``); Prometheus rules ``sum by`` their label names.
- ``alerting``: Sloth's alerting block plus its alert-window catalogue.
  ``name`` (the ``alertname``), ``labels``, ``annotations``, ``minEvents``
  (the low-traffic guard), ``pageAlert``/``ticketAlert`` (``disable``,
  ``labels``, ``annotations``; labels are kept as written, over the derived
  ``severity``, as Sloth keeps them) and ``windows``: per severity (``page``,
  ``ticket``) and speed (``quick``, ``slow``), a ``shortWindow``, a
  ``longWindow`` and either ``errorBudgetPercent`` (the share of the budget
  the long window may spend; the factor follows from the SLO window, the
  way Sloth computes it) or an explicit ``burnRate``. Omitted entries take
  the SRE Workbook's defaults as Sloth extends them (:data:`aiops.slo.windows.DEFAULT_WINDOWS`).

>>> slos = parse_slos(EXAMPLE)
>>> slos[0].metadata.name, slos[0].spec.objectives[0].target
('checkout-availability', 0.999)
>>> parse_slos(EXAMPLE.replace("target: 0.999", "target: 1.5"), source="slos.yaml")
Traceback (most recent call last):
...
aiops.slo.spec.SpecError: slos.yaml:28: slo[0].spec.objectives[0].target: must be < 1
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from aiops.slo._yaml import LocatedDocument, YamlSyntaxError, load_documents
from aiops.slo.durations import parse_duration
from aiops.slo.matchers import Matcher
from aiops.slo.quantile import NotABucketBound
from aiops.slo.windows import SEVERITIES, SPEEDS

__all__ = [
    "API_VERSION",
    "EXAMPLE",
    "AlertSeveritySpec",
    "AlertWindowsSpec",
    "AlertingSpec",
    "BurnRateWindowSpec",
    "IndicatorSpec",
    "MetricSourceSpec",
    "ObjectiveSpec",
    "Problem",
    "SloSpec",
    "SpecError",
    "json_schema",
    "load_slos",
    "parse_slos",
]

API_VERSION = "openslo/v1"

_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_OPENSLO_UNSUPPORTED = {
    "indicatorRef": "indicatorRef is not supported: define the indicator inline",
    "alertPolicies": "alertPolicies are not supported: use alerting (aiops extension)",
    "raw": "raw ratio metrics are not supported: use good or bad over total",
    "rawType": "raw ratio metrics are not supported: use good or bad over total",
    "calendar": "calendar windows are not supported: use a rolling window (isRolling: true)",
    "timeSliceTarget": "timeslice objectives are not supported: budgetingMethod is Occurrences",
    "timeSliceWindow": "timeslice objectives are not supported: budgetingMethod is Occurrences",
    "compositeWeight": "composite SLOs are not supported",
    "metricSourceRef": "metricSourceRef is not supported: define the metric source inline",
}


# ---------------------------------------------------------------------------------------- validators


def _fail(path: str | tuple[str | int, ...], reason: str) -> PydanticCustomError:
    """An error at ``path`` (dotted or a tuple, relative to what raises it), with ``reason`` as the message."""
    if isinstance(path, str):
        path = tuple(int(p) if p.isdigit() else p for p in path.split(".")) if path else ()
    return PydanticCustomError("aiops_field", "{reason}", {"reason": reason, "path": path})


def _rfc1123(value: str) -> str:
    if len(value) > 63 or not re.match(_NAME_PATTERN, value):
        raise ValueError(
            f"{value!r} must be a lowercase RFC 1123 name: a-z, 0-9 and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _label_names(values: dict[str, Any]) -> dict[str, Any]:
    for name in values:
        if not re.match(_LABEL_NAME, name) or name.startswith(("__", "sloth_")):
            raise _fail(
                (name,),
                f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "
                "__ or sloth_ (it becomes a Prometheus label)",
            )
    return values


def _label_values(values: Any) -> Any:
    """Label values are strings or lists of strings; say which key is wrong, and how to fix a number."""
    if not isinstance(values, dict):
        return values
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, bool | int | float):
                raise _fail((str(key),), f'must be a string: quote it ({key}: "{item}")')
            if not isinstance(item, str):
                raise _fail((str(key),), "must be a string or a list of strings")
    return values


def _alert_name(value: str) -> str:
    if not re.match(_LABEL_NAME, value):
        raise ValueError(f"{value!r} must match [a-zA-Z_][a-zA-Z0-9_]* (it is the alertname)")
    return value


def _window_duration(value: str) -> str:
    parse_duration(value, "smhdw")
    return value


def _slo_window_duration(value: str) -> str:
    parse_duration(value, "mhdw")
    return value


def _matcher(value: str) -> str:
    Matcher.parse(value)
    return value


def _one_window(values: list[Any]) -> list[Any]:
    if len(values) != 1:
        raise ValueError(f"must hold exactly one time window, not {len(values)}")
    return values


def _one_objective(values: list[Any]) -> list[Any]:
    if len(values) != 1:
        raise ValueError(
            f"must hold exactly one objective, not {len(values)}: write one SLO per objective"
        )
    return values


def _occurrences(value: str) -> str:
    if value != "Occurrences":
        raise ValueError(
            f"{value!r} is not supported: only Occurrences (good events over all events)"
        )
    return value


def _increasing_bounds(values: list[float] | None) -> list[float] | None:
    if values is None:
        return values
    if not values:
        raise ValueError("must list at least one bucket bound")
    if any(not math.isfinite(v) for v in values):
        raise ValueError("bounds must be finite (+Inf is implied)")
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError("bounds must be strictly increasing")
    return values


Name = Annotated[str, AfterValidator(_rfc1123)]
Labels = Annotated[dict[str, str], BeforeValidator(_label_values), AfterValidator(_label_names)]
WindowDuration = Annotated[
    str,
    AfterValidator(_window_duration),
    Field(description="a duration: a whole number of s, m, h, d or w, e.g. 5m"),
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


# -------------------------------------------------------------------------------------------- models


class Metadata(_Model):
    """``metadata``: the SLO's name, display name, labels and annotations."""

    name: Name = Field(
        description="RFC 1123 name, unique in the file; the SLO's id is <service>-<name>"
    )
    display_name: str | None = Field(None, description="a name for people")
    labels: Annotated[
        dict[str, str | list[str]], BeforeValidator(_label_values), AfterValidator(_label_names)
    ] = Field(
        default_factory=dict,
        description="labels for every generated series; a list is joined with commas",
    )
    annotations: dict[str, str] = Field(default_factory=dict)


class MetricSourceSpec(_Model):
    """``metricSource.spec``: which OpenTelemetry metric, which of its series, and its buckets.

    >>> MetricSourceSpec(metric="http.server.request.duration", unit="s",
    ...                  matchers=['http.route="/api/users"']).instrument
    'histogram'
    """

    metric: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_.\-/]*$",
        description="OpenTelemetry metric name, e.g. http.server.request.duration",
    )
    unit: str = Field(
        "", description="OpenTelemetry unit (UCUM), e.g. s; gives the Prometheus name its suffix"
    )
    instrument: Literal["histogram", "counter"] = Field(
        "histogram",
        description="histogram: its count is the events; counter: a monotonic sum of events",
    )
    matchers: list[Annotated[str, AfterValidator(_matcher)]] = Field(
        default_factory=list,
        description='PromQL-style matchers on OpenTelemetry attribute names, e.g. http.route=~"/api/.*"',
    )
    histogram: Literal["classic", "native"] = Field(
        "classic",
        description="histograms: classic (_bucket and _count series in Prometheus) or native "
        "(one native-histogram series: an OTel exponential histogram)",
    )
    buckets: Annotated[list[float] | None, AfterValidator(_increasing_bounds)] = Field(
        None,
        description="threshold SLIs on classic histograms: the explicit bucket bounds, increasing (+Inf implied)",
    )


class MetricSource(_Model):
    """``metricSource``: where the events come from (inline only)."""

    type: Literal["OpenTelemetry"] = "OpenTelemetry"
    spec: MetricSourceSpec


class MetricRef(_Model):
    """One side of a ratio (``good``, ``bad`` or ``total``)."""

    metric_source: MetricSource


class RatioMetric(_Model):
    """``ratioMetric``: good or bad events over total events."""

    counter: Literal[True] = Field(True, description="always true: the sources count events")
    good: MetricRef | None = None
    bad: MetricRef | None = None
    total: MetricRef

    @model_validator(mode="after")
    def _good_or_bad(self) -> RatioMetric:
        if (self.good is None) == (self.bad is None):
            raise _fail(
                "bad" if self.good is not None else "",
                "needs exactly one of good or bad (over total)",
            )
        return self


class ThresholdMetric(_Model):
    """``thresholdMetric``: a latency histogram; ``objectives[0].value`` is the threshold."""

    metric_source: MetricSource


class IndicatorSpecBody(_Model):
    """``indicator.spec``: one of ``ratioMetric`` or ``thresholdMetric``."""

    ratio_metric: RatioMetric | None = None
    threshold_metric: ThresholdMetric | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> IndicatorSpecBody:
        if (self.ratio_metric is None) == (self.threshold_metric is None):
            raise _fail(
                "ratioMetric" if self.ratio_metric else "",
                "needs exactly one of ratioMetric or thresholdMetric",
            )
        return self


class IndicatorMetadata(_Model):
    """The inline indicator's ``metadata``."""

    name: Name
    display_name: str | None = None


class IndicatorSpec(_Model):
    """``spec.indicator``: an inline SLI."""

    metadata: IndicatorMetadata | None = None
    spec: IndicatorSpecBody


class TimeWindowSpec(_Model):
    """``spec.timeWindow[0]``: a rolling window."""

    duration: Annotated[str, AfterValidator(_slo_window_duration)] = Field(
        description="rolling SLO window: a whole number of m, h, d or w, e.g. 30d"
    )
    is_rolling: bool = True

    @model_validator(mode="after")
    def _rolling(self) -> TimeWindowSpec:
        if not self.is_rolling:
            raise _fail("isRolling", "must be true: calendar windows are not supported")
        return self


class ObjectiveSpec(_Model):
    """``spec.objectives[0]``: the target, and for threshold SLIs the threshold."""

    display_name: str | None = None
    op: Literal["lte", "lt", "gte", "gt"] | None = Field(None, description="threshold SLIs: lte")
    value: float | None = Field(
        None, description="threshold SLIs: the latency threshold, a bucket bound"
    )
    target: float | None = Field(
        None, gt=0, lt=1, description="the objective as a ratio, e.g. 0.999"
    )
    target_percent: float | None = Field(
        None, gt=0, lt=100, description="the objective in percent, e.g. 99.9"
    )

    @model_validator(mode="after")
    def _one_target(self) -> ObjectiveSpec:
        if (self.target is None) == (self.target_percent is None):
            raise _fail(
                "targetPercent" if self.target_percent is not None else "",
                "needs exactly one of target or targetPercent",
            )
        return self

    @property
    def ratio(self) -> float:
        """The target as a ratio."""
        return self.target if self.target is not None else self.target_percent / 100.0  # type: ignore[operator]


class BurnRateWindowSpec(_Model):
    """One window pair: the short and long windows and how fast they must burn."""

    short_window: WindowDuration
    long_window: WindowDuration
    error_budget_percent: float | None = Field(
        None,
        gt=0,
        le=100,
        description="share of the budget the long window may spend; gives the factor",
    )
    burn_rate: float | None = Field(
        None, gt=0, description="the burn-rate factor itself, instead of a percent"
    )

    @model_validator(mode="after")
    def _consistent(self) -> BurnRateWindowSpec:
        if (self.error_budget_percent is None) == (self.burn_rate is None):
            raise _fail(
                "burnRate" if self.burn_rate is not None else "",
                "needs exactly one of errorBudgetPercent or burnRate",
            )
        if parse_duration(self.short_window) >= parse_duration(self.long_window):
            raise _fail("shortWindow", f"must be shorter than longWindow ({self.long_window})")
        return self


class SeverityWindowsSpec(_Model):
    """The ``quick`` and ``slow`` pairs of one severity."""

    quick: BurnRateWindowSpec | None = None
    slow: BurnRateWindowSpec | None = None


class AlertWindowsSpec(_Model):
    """Window pairs per severity; what is omitted takes ``DEFAULT_WINDOWS``."""

    page: SeverityWindowsSpec | None = None
    ticket: SeverityWindowsSpec | None = None


class AlertSeveritySpec(_Model):
    """Per-severity alert settings (Sloth's ``pageAlert`` and ``ticketAlert``)."""

    disable: bool = False
    labels: Labels = Field(
        default_factory=dict,
        description="labels of this severity's alert, kept as written: they win over alerting.labels "
        "and the derived severity, slo, service and sloth_severity labels, as in Sloth",
    )
    annotations: dict[str, str] = Field(default_factory=dict)


class AlertingSpec(_Model):
    """``spec.alerting`` (aiops extension): burn-rate alert names, labels, windows and guards."""

    name: Annotated[str, AfterValidator(_alert_name)] = Field(
        "SLOBurnRate", description="the alertname"
    )
    labels: Labels = Field(
        default_factory=dict,
        description="labels of every alert of the SLO, kept as written: they win over the derived "
        "severity, slo, service and sloth_severity labels, as in Sloth",
    )
    annotations: dict[str, str] = Field(default_factory=dict)
    min_events: int = Field(
        10, ge=0, description="low-traffic guard: events the short window needs to alert"
    )
    windows: AlertWindowsSpec = Field(default_factory=AlertWindowsSpec)
    page_alert: AlertSeveritySpec = Field(default_factory=AlertSeveritySpec)
    ticket_alert: AlertSeveritySpec = Field(default_factory=AlertSeveritySpec)


class SloSpecBody(_Model):
    """``spec``: service, indicator, window, budgeting method, objective, and the aiops extensions."""

    description: str | None = Field(None, max_length=1050)
    service: Name = Field(
        description="the service the SLO is about; sloth_service on generated series"
    )
    indicator: IndicatorSpec
    time_window: Annotated[list[TimeWindowSpec], AfterValidator(_one_window)]
    budgeting_method: Annotated[str, AfterValidator(_occurrences)] = Field(
        description="Occurrences: good events over all events"
    )
    objectives: Annotated[list[ObjectiveSpec], AfterValidator(_one_objective)]
    group_by: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")]] = Field(
        default_factory=list,
        description="aiops extension: attributes to evaluate the SLO per value of",
    )
    alerting: AlertingSpec = Field(
        default_factory=AlertingSpec, description="aiops extension: burn-rate alerts"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SloSpecBody:
        for path, reason in _body_problems(self):
            raise _fail(path, reason)
        return self


class SloSpec(_Model):
    """One ``kind: SLO`` document of OpenSLO v1 (the subset aiops reads)."""

    model_config = ConfigDict(title="aiops SLO (OpenSLO v1 subset)")

    api_version: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SloSpecBody

    @property
    def id(self) -> str:
        """``<service>-<name>``, Sloth's ``sloth_id``."""
        return f"{self.spec.service}-{self.metadata.name}"


def _body_problems(body: SloSpecBody) -> list[tuple[str, str]]:
    """Rules that tie fields together, as (path relative to ``spec``, reason)."""
    problems: list[tuple[str, str]] = []
    objective = body.objectives[0]
    indicator = body.indicator.spec
    for path, source in _metric_sources(indicator):
        if source.instrument == "counter" and source.histogram == "native":
            problems.append(
                (f"{path}.histogram", "only histograms are native: this instrument is a counter")
            )
    if indicator.threshold_metric is not None:
        base = "indicator.spec.thresholdMetric.metricSource.spec"
        source = indicator.threshold_metric.metric_source.spec
        native = source.histogram == "native"
        if source.instrument != "histogram":
            problems.append(
                (
                    f"{base}.instrument",
                    "must be histogram: a threshold SLI counts requests per bucket",
                )
            )
        if objective.op is None:
            problems.append(
                (
                    "objectives.0.op",
                    "required for a threshold SLI: lte (requests at or below value are good)",
                )
            )
        elif objective.op != "lte":
            reason = f"must be lte, not {objective.op}: histogram buckets count requests at or below their bound"
            problems.append(("objectives.0.op", reason))
        if native and source.buckets is not None:
            reason = "a native histogram's buckets are exponential, not declared: leave buckets out"
            problems.append((f"{base}.buckets", reason))
        if not native and source.buckets is None:
            problems.append(
                (f"{base}.buckets", "required for a threshold SLI: the histogram's bucket bounds")
            )
        if objective.value is None:
            problems.append(
                ("objectives.0.value", "required for a threshold SLI: the latency threshold")
            )
        elif (
            not native
            and source.buckets is not None
            and not any(
                math.isclose(objective.value, b, rel_tol=1e-12, abs_tol=0) for b in source.buckets
            )
        ):
            problems.append(
                (
                    "objectives.0.value",
                    str(NotABucketBound(objective.value, source.buckets, of=source.metric)),
                )
            )
    else:
        assert indicator.ratio_metric is not None
        if objective.op is not None or objective.value is not None:
            problems.append(
                (
                    "objectives.0." + ("op" if objective.op is not None else "value"),
                    "only threshold SLIs have op and value",
                )
            )
        ratio = indicator.ratio_metric
        for side in ("good", "bad", "total"):
            ref = getattr(ratio, side)
            if ref is not None and ref.metric_source.spec.buckets is not None:
                problems.append(
                    (
                        f"indicator.spec.ratioMetric.{side}.metricSource.spec.buckets",
                        "only threshold SLIs have buckets",
                    )
                )
    if len(set(body.group_by)) != len(body.group_by):
        problems.append(("groupBy", "lists an attribute twice"))
    period = parse_duration(body.time_window[0].duration)
    windows = body.alerting.windows
    for severity in SEVERITIES:
        tier = getattr(windows, severity)
        for speed in SPEEDS:
            pair = getattr(tier, speed) if tier is not None else None
            if pair is not None and parse_duration(pair.long_window) > period:
                problems.append(
                    (
                        f"alerting.windows.{severity}.{speed}.longWindow",
                        f"must not be longer than the SLO window ({body.time_window[0].duration})",
                    )
                )
    return problems


def _metric_sources(indicator: IndicatorSpecBody) -> list[tuple[str, MetricSourceSpec]]:
    """Every metric source of an indicator with its path relative to ``spec``."""
    if indicator.threshold_metric is not None:
        path = "indicator.spec.thresholdMetric.metricSource.spec"
        return [(path, indicator.threshold_metric.metric_source.spec)]
    assert indicator.ratio_metric is not None
    return [
        (f"indicator.spec.ratioMetric.{side}.metricSource.spec", ref.metric_source.spec)
        for side in ("good", "bad", "total")
        if (ref := getattr(indicator.ratio_metric, side)) is not None
    ]


# ------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (file, line, field path) and why.

    >>> str(Problem("slos.yaml", 14, "slo[2].spec.objectives[0].target", "must be < 1"))
    'slos.yaml:14: slo[2].spec.objectives[0].target: must be < 1'
    """

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(ValueError):
    """A spec that must not be used; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def parse_slos(text: str, source: str = "<string>") -> list[SloSpec]:
    """Every SLO of a YAML stream, or ``SpecError`` listing every problem of every document.

    ``source`` names the text in messages (a file name).
    """
    try:
        documents = load_documents(text)
    except YamlSyntaxError as error:
        raise SpecError([Problem(source, error.line, "", f"not valid YAML: {error}")]) from None
    problems: list[Problem] = []
    slos: list[SloSpec] = []
    for index, document in enumerate(documents):
        prefix = f"slo[{index}]"
        for path, line, first in document.duplicates:
            problems.append(
                Problem(
                    source, line, _dotted(prefix, path), f"duplicate key (first on line {first})"
                )
            )
        if not isinstance(document.data, dict):
            problems.append(
                Problem(source, document.line, prefix, "must be a mapping (an OpenSLO document)")
            )
            continue
        try:
            slos.append(SloSpec.model_validate(document.data))
        except ValidationError as error:
            problems.extend(_problems(error, document, source, prefix))
    seen: dict[str, int] = {}
    for index, slo in enumerate(slos):
        if slo.id in seen:
            other = seen[slo.id]
            problems.append(
                Problem(
                    source,
                    documents[index].line_of(("metadata", "name")),
                    f"slo[{index}].metadata.name",
                    f"{slo.id!r} is already the id of slo[{other}] (service and name must be unique)",
                )
            )
        seen.setdefault(slo.id, index)
    if not documents and not problems:
        problems.append(Problem(source, None, "", "holds no SLO"))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise SpecError(_unique(problems))
    return slos


def load_slos(path: str | Path) -> list[SloSpec]:
    """Every SLO of the file at ``path``; ``SpecError`` (naming the file) if any is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(
            [Problem(str(path), None, "", f"cannot read: {error.strerror or error}")]
        ) from None
    return parse_slos(text, source=str(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one SLO document, from the models (by alias, as the YAML is written).

    >>> json_schema()["properties"]["apiVersion"]
    {'const': 'openslo/v1', 'title': 'Apiversion', 'type': 'string'}
    """
    schema = SloSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "One kind: SLO document of an aiops SLO file (a YAML stream of them): the OpenSLO v1 "
        "subset aiops reads, plus the aiops extensions spec.groupBy and spec.alerting."
    )
    return schema


def _problems(
    error: ValidationError, document: LocatedDocument, source: str, prefix: str
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        ctx = item.get("ctx") or {}
        if item["type"] == "aiops_field" and ctx.get("path"):
            loc = loc + tuple(ctx["path"])
        path = _data_path(loc, document.data)
        problems.append(
            Problem(source, document.line_of(path), _dotted(prefix, path), _message(item, loc))
        )
    return problems


def _data_path(loc: tuple, data: Any) -> tuple:
    """The part of a pydantic ``loc`` that names places in the data (union member tags dropped)."""
    path: list = []
    node = data
    for position, item in enumerate(loc):
        last = position == len(loc) - 1
        in_mapping = isinstance(node, dict) and item in node
        if in_mapping or (
            isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node)
        ):
            path.append(item)
            node = node[item]
        elif (
            isinstance(node, dict)
            and isinstance(item, str)
            and (last or item[:1].islower())
            and "[" not in item
        ):
            path.append(item)  # a missing field
            node = None
    return tuple(path)


def _dotted(prefix: str, path: tuple) -> str:
    text = prefix
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        elif str(item).replace("_", "a").isalnum():
            text += f".{item}"
        else:
            text += f'["{item}"]'
    return text


def _message(item: dict, loc: tuple) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    field = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if kind == "aiops_field":
        return str(ctx["reason"])
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _OPENSLO_UNSUPPORTED.get(
            field, "unknown field (not in the OpenSLO v1 subset aiops reads)"
        )
    if kind == "literal_error":
        return f"must be {ctx['expected']}"
    comparisons = {
        "less_than": "<",
        "less_than_equal": "<=",
        "greater_than": ">",
        "greater_than_equal": ">=",
    }
    if kind in comparisons:
        bound = next(iter(ctx.values()))
        return (
            f"must be {comparisons[kind]} {bound:g}"
            if isinstance(bound, float)
            else f"must be {comparisons[kind]} {bound}"
        )
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    simple = {
        "string_type": "must be a string",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "int_from_float": "must be an integer",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
    }
    if kind in simple:
        return simple[kind]
    message = item["msg"]
    return message[:1].lower() + message[1:]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen = set()
    out = []
    for problem in problems:
        key = (problem.line, problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


EXAMPLE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: demo-service
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              metric: http.server.request.duration
              unit: s
              matchers: ['http.route="/api/checkout"', 'http.response.status_code=~"5.."']
        total:
          metricSource:
            spec:
              metric: http.server.request.duration
              unit: s
              matchers: ['http.route="/api/checkout"']
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
"""
"""A small valid spec, for examples and tests."""
