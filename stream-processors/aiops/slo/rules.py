"""Prometheus recording and alert rules from objectives, in Sloth's shape, by pure functions.

For every objective three rule groups, named and labelled as Sloth (v0.16)
names and labels them, so that Sloth's Grafana dashboards work unchanged:

``sloth-slo-sli-recordings-<id>``
    ``slo:sli_error:ratio_rate<w>`` for every window the objective keeps
    (the windows of :data:`~aiops.slo.windows.DEFAULT_WINDOWS` and the SLO
    window, unless the spec sets its own), labelled ``sloth_id``, ``sloth_service``, ``sloth_slo``,
    ``sloth_window``, the spec's labels and, through ``sum by``, the
    ``groupBy`` labels.
``sloth-slo-meta-recordings-<id>``
    ``slo:objective:ratio``, ``slo:error_budget:ratio``,
    ``slo:time_period:days``, ``slo:current_burn_rate:ratio`` (the page-quick
    short window over the budget), ``slo:period_burn_rate:ratio``,
    ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info``.
``sloth-slo-alerts-<id>``
    one alert per enabled severity, both named ``alerting.name``: AND of the
    two windows of a pair, OR of the two pairs, with ``sloth_severity``,
    ``severity``, ``slo`` and ``service`` labels and Sloth's ``title`` and
    ``summary`` annotations. The spec's alert labels win over these derived
    ones, as in Sloth (``Objective.severity_alert_labels``).

Windows are named as Prometheus prints durations, which Sloth uses: weeks
and years only when exact, so a 28-day SLO records ``ratio_rate4w`` with
``sloth_window="4w"`` and a 30-day one ``ratio_rate30d``.

Two deliberate differences from Sloth, both so that Prometheus and the
stream compute the same numbers:

- The SLO-window ratio is the event-weighted ratio of the whole window
  (``sum(rate(errors[30d])) / sum(rate(total[30d]))``, Sloth's
  non-optimised form), not Sloth's unweighted mean of 5m ratios, which
  drifts from the true ratio when traffic varies. It costs Prometheus a
  30-day range read per evaluation, which a demo-sized series set affords.
- The numerator falls back to ``0 * total`` when its series do not exist
  yet (a route that never failed has no 5xx series), so the ratio is 0
  rather than absent, as the stream reports it.

Latency SLIs read the bucket whose ``le`` is the threshold; integer bounds
match both ``le="1"`` (the collector's exporter) and ``le="1.0"`` (the form
Prometheus 3 normalises classic buckets to).

A histogram the spec marks ``histogram: native`` is one native-histogram
series in Prometheus: its events are ``histogram_count(rate(x[w]))`` and a
latency SLI's good events ``histogram_fraction(-Inf, t, rate(x[w])) *
histogram_count(rate(x[w]))``, the requests at or below ``t`` as ``le="t"``
counts them on classic buckets, interpolated inside the bucket that
straddles ``t`` (``aiops.slo.quantile.native_count_at_or_below``). Both are
taken per series and then summed, as the stream adds up the good events of
each point: summing the histograms first would merge series of different
scales down to the coarsest and interpolate in its wider buckets. A series
without requests in the window is left out of the good events (its fraction
is NaN), as it adds none.

>>> from aiops.slo.objective import to_objective
>>> from aiops.slo.spec import EXAMPLE, parse_slos
>>> objective = to_objective(parse_slos(EXAMPLE)[0])
>>> print(sli_error_expr(objective, 300))
(
  sum(rate(http_server_request_duration_seconds_count{http_route="/api/checkout", http_response_status_code=~"5.."}[5m]))
  or
  0 * sum(rate(http_server_request_duration_seconds_count{http_route="/api/checkout"}[5m]))
)
/
sum(rate(http_server_request_duration_seconds_count{http_route="/api/checkout"}[5m]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import yaml

from aiops.slo.burn_rate import WindowPair
from aiops.slo.durations import format_duration
from aiops.slo.names import prometheus_label_name
from aiops.slo.objective import LatencyIndicator, Objective, RatioIndicator, Selector
from aiops.slo.windows import SEVERITIES

__all__ = [
    "SLOTH_MODE",
    "SLOTH_SPEC",
    "SLOTH_VERSION",
    "alert_rules",
    "meta_recording_rules",
    "render_rules",
    "rule_groups",
    "selector_promql",
    "sli_error_expr",
    "sli_recording_rules",
    "sloth_labels",
]

SLOTH_MODE = "aiops-generate"
SLOTH_SPEC = "openslo/v1"
SLOTH_VERSION = "aiops"
"""Values of ``sloth_slo_info``'s ``sloth_mode``, ``sloth_spec`` and ``sloth_version`` labels."""

_WINDOW_LABEL = "sloth_window"


def sloth_labels(objective: Objective) -> dict[str, str]:
    """The labels that identify an objective's series: ``sloth_id``, ``sloth_service``, ``sloth_slo``.

    >>> from aiops.slo.objective import to_objective
    >>> from aiops.slo.spec import EXAMPLE, parse_slos
    >>> sloth_labels(to_objective(parse_slos(EXAMPLE)[0]))["sloth_id"]
    'demo-service-checkout-availability'
    """
    return {
        "sloth_id": objective.id,
        "sloth_service": objective.service,
        "sloth_slo": objective.name,
    }


def selector_promql(selector: Selector, suffix: str = "", extra: Sequence[str] = ()) -> str:
    """A selector as a PromQL series selector on the Prometheus names.

    >>> from aiops.slo.matchers import Matcher
    >>> s = Selector("http.server.request.duration", "s", "histogram", (Matcher.parse('http.route="/a"'),))
    >>> selector_promql(s, "_bucket", ['le="0.25"'])
    'http_server_request_duration_seconds_bucket{http_route="/a", le="0.25"}'
    """
    matchers = [m.promql(prometheus_label_name(m.label)) for m in selector.matchers] + list(extra)
    return f"{selector.prometheus_name}{suffix}{{{', '.join(matchers)}}}"


def sli_error_expr(objective: Objective, window_s: float) -> str:
    """The error ratio of ``objective`` over ``window_s``, per ``groupBy`` labels, as PromQL."""
    window = format_duration(window_s)
    by = f" by ({', '.join(objective.group_labels)})" if objective.group_by else ""
    indicator = objective.indicator

    def rate_sum(selector: Selector, suffix: str = "", extra: Sequence[str] = ()) -> str:
        return f"sum{by}(rate({selector_promql(selector, suffix, extra)}[{window}]))"

    def events(selector: Selector) -> str:
        if selector.native:
            return f"sum{by}(histogram_count({rate(selector)}))"
        return rate_sum(selector, "_count" if selector.instrument == "histogram" else "")

    def rate(selector: Selector) -> str:
        return f"rate({selector_promql(selector)}[{window}])"

    if isinstance(indicator, LatencyIndicator):
        source = indicator.source
        total = events(source)
        if source.native:
            fraction = (
                f"histogram_fraction(-Inf, {_threshold(indicator.threshold)}, {rate(source)})"
            )
            good = f"sum{by}({fraction} * (histogram_count({rate(source)}) > 0))"
        else:
            good = rate_sum(source, "_bucket", [_le_matcher(indicator.threshold)])
        return _one_minus_ratio(good, total)
    assert isinstance(indicator, RatioIndicator)
    total = events(indicator.total)
    if indicator.bad is not None:
        return f"(\n  {events(indicator.bad)}\n  or\n  0 * {total}\n)\n/\n{total}\n"
    assert indicator.good is not None
    return _one_minus_ratio(events(indicator.good), total)


def sli_recording_rules(objective: Objective) -> list[dict[str, Any]]:
    """``slo:sli_error:ratio_rate<w>`` for every window of the objective."""
    rules = []
    for window_s in objective.windows_s:
        window = format_duration(window_s)
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": sli_error_expr(objective, window_s),
                "labels": {**objective.labels, **sloth_labels(objective), _WINDOW_LABEL: window},
            }
        )
    return rules


def meta_recording_rules(objective: Objective) -> list[dict[str, Any]]:
    """Objective, budget, period, current and period burn rates, budget remaining and info, as Sloth."""
    labels = {**objective.labels, **sloth_labels(objective)}
    selector = _sloth_selector(objective)
    ids = "sloth_id, sloth_slo, sloth_service"
    target = _num(objective.target)

    def burn(window_s: float) -> str:
        return (
            f"slo:sli_error:ratio_rate{format_duration(window_s)}{selector}\n"
            f"/ on({ids}) group_left\nslo:error_budget:ratio{selector}\n"
        )

    info = {
        **labels,
        "sloth_mode": SLOTH_MODE,
        "sloth_objective": _num(objective.target * 100),
        "sloth_spec": SLOTH_SPEC,
        "sloth_version": SLOTH_VERSION,
    }
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({target})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{target})", "labels": labels},
        {
            "record": "slo:time_period:days",
            "expr": f"vector({_num(objective.window_s / 86400)})",
            "labels": labels,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": burn(objective.current_window_s),
            "labels": labels,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": burn(objective.window_s),
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{selector}",
            "labels": labels,
        },
        {"record": "sloth_slo_info", "expr": "vector(1)", "labels": info},
    ]


def alert_rules(objective: Objective) -> list[dict[str, Any]]:
    """One multi-window, multi-burn-rate alert per enabled severity (AND within a pair, OR across)."""
    rules = []
    for severity in SEVERITIES:
        pairs = [p for p in objective.alert_pairs if p.severity == severity]
        if not pairs:
            continue
        clauses = "\nor\n".join(_pair_clause(objective, pair) for pair in pairs)
        labels = {"sloth_severity": severity, **objective.severity_alert_labels(severity)}
        annotations = {
            "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget "
            "burn rate is too fast.",
            "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over "
            "expected.",
            "description": _description(objective, pairs),
            **objective.alert_annotations,
            **objective.severity_annotations.get(severity, {}),
        }
        rules.append(
            {
                "alert": objective.alert_name,
                "expr": clauses + "\n",
                "labels": labels,
                "annotations": annotations,
            }
        )
    return rules


def rule_groups(objective: Objective) -> list[dict[str, Any]]:
    """The three rule groups of one objective, in Sloth's order."""
    groups = [
        {
            "name": f"sloth-slo-sli-recordings-{objective.id}",
            "rules": sli_recording_rules(objective),
        },
        {
            "name": f"sloth-slo-meta-recordings-{objective.id}",
            "rules": meta_recording_rules(objective),
        },
    ]
    alerts = alert_rules(objective)
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{objective.id}", "rules": alerts})
    return groups


def render_rules(objectives: Sequence[Objective], source: str) -> str:
    """The rule file for ``objectives`` (from the spec at ``source``), as ``promtool`` and Prometheus read it.

    Keys are sorted and multi-line expressions are block literals, so the
    output is stable and reviewable as a diff.

    >>> from aiops.slo.objective import to_objective
    >>> from aiops.slo.spec import EXAMPLE, parse_slos
    >>> text = render_rules([to_objective(parse_slos(EXAMPLE)[0])], "example.yaml")
    >>> text.splitlines()[0]
    '# Generated by `aiops generate` from example.yaml. DO NOT EDIT.'
    >>> sorted(yaml.safe_load(text)["groups"][0]["rules"][0])
    ['expr', 'labels', 'record']
    """
    document = {"groups": [group for objective in objectives for group in rule_groups(objective)]}
    header = (
        f"# Generated by `aiops generate` from {source}. DO NOT EDIT.\n"
        "# SLO recording and alert rules in Sloth's shape (series names and sloth_* labels), so Sloth's\n"
        "# dashboards work on them; see stream-processors/aiops/slo/rules.py.\n"
    )
    return header + yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        width=1000,
        allow_unicode=True,
    )


def _pair_clause(objective: Objective, pair: WindowPair) -> str:
    selector = _sloth_selector(objective)
    threshold = f"({_num(pair.factor)} * {_num(objective.error_budget)})"
    short, long = format_duration(pair.short_s), format_duration(pair.long_s)
    return (
        "(\n"
        f"    max(slo:sli_error:ratio_rate{short}{selector} > {threshold}) without ({_WINDOW_LABEL})\n"
        "    and\n"
        f"    max(slo:sli_error:ratio_rate{long}{selector} > {threshold}) without ({_WINDOW_LABEL})\n"
        ")"
    )


def _description(objective: Objective, pairs: Sequence[WindowPair]) -> str:
    conditions = " or ".join(
        f"{_num(p.factor)}x over {format_duration(p.long_s)} and {format_duration(p.short_s)}"
        for p in pairs
    )
    return (
        f"{objective.id} (target {_num(objective.target * 100)}% over {format_duration(objective.window_s)}) "
        f"is spending its error budget faster than {conditions}."
    )


def _sloth_selector(objective: Objective) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sloth_labels(objective).items()) + "}"


def _one_minus_ratio(good: str, total: str) -> str:
    return f"1 - (\n  (\n    {good}\n    or\n    0 * {total}\n  )\n  /\n  {total}\n)\n"


def _le_matcher(threshold: float) -> str:
    """The ``le`` matcher of a bucket bound, in the collector's form; integers also as Prometheus 3 writes them.

    >>> print(_le_matcher(0.25), _le_matcher(1.0), _le_matcher(0.00001))
    le="0.25" le=~"1|1\\\\.0" le="0.00001"
    """
    if math.isfinite(threshold) and threshold == int(threshold):
        return f'le=~"{int(threshold)}|{int(threshold)}\\\\.0"'
    return f'le="{format(Decimal(repr(threshold)), "f")}"'


def _threshold(threshold: float) -> str:
    """A threshold as a PromQL number, positional as ``le`` values are written.

    >>> _threshold(0.3), _threshold(1.0), _threshold(0.00001)
    ('0.3', '1', '0.00001')
    """
    if threshold == int(threshold):
        return str(int(threshold))
    return format(Decimal(repr(threshold)), "f")


def _num(x: float) -> str:
    """A float as short as it round-trips after rounding to 12 significant digits (0.999, not 0.99899…).

    >>> _num(1 - 0.999), _num(14.4), _num(30.0), _num(13.440000000000001)
    ('0.001', '14.4', '30', '13.44')
    """
    value = float(f"{x:.12g}")
    return str(int(value)) if value == int(value) else repr(value)


class _Dumper(yaml.SafeDumper):
    """Block literals for multi-line strings, no anchors; everything else as SafeDumper writes it."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)
