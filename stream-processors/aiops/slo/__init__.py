"""SLOs: the spec (an OpenSLO v1 subset), the internal objective, and what is generated from it.

The contract, in the order things happen:

1. ``load_slos(path)`` validates a whole file at the door and raises
   ``SpecError`` listing every problem as ``file:line: field.path: reason``;
   nothing is generated and nothing starts on a bad spec.
2. ``to_objective(spec)`` (or ``load_objectives(path)``) converts each SLO once
   into a frozen ``Objective``: targets, windows in seconds, burn-rate
   factors, Prometheus names.
3. Everything downstream is a pure function of ``Objective``: the Prometheus
   rules (``render_rules``), the stream's events per point, group keys and
   burn-rate verdicts (``Objective.events``, ``group_key``, ``evaluate``).

``artifacts`` writes what ``aiops generate`` commits (rules, JSON Schema);
``cli`` holds the ``aiops slo`` commands and is imported only by the CLI.
"""

from aiops.slo.objective import (
    LatencyIndicator,
    Objective,
    RatioIndicator,
    Selector,
    load_objectives,
    to_objective,
)
from aiops.slo.rules import render_rules, rule_groups
from aiops.slo.spec import Problem, SloSpec, SpecError, json_schema, load_slos, parse_slos

__all__ = [
    "LatencyIndicator",
    "Objective",
    "Problem",
    "RatioIndicator",
    "Selector",
    "SloSpec",
    "SpecError",
    "json_schema",
    "load_objectives",
    "load_slos",
    "parse_slos",
    "render_rules",
    "rule_groups",
    "to_objective",
]
