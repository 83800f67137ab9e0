"""Burn rates and multi-window, multi-burn-rate alert evaluation (SRE Workbook, "Alerting on SLOs").

The burn rate is how fast a window spends the error budget: the window's
error ratio over the budget ``1 - target``. A burn rate of 1 spends exactly
the whole budget in one SLO period; 14.4 spends 2% of a 30-day budget in 1h.

A window pair (long window, short window, burn-rate factor) is *burning* when
both windows' error ratios exceed ``factor * (1 - target)``: the long window
says enough budget went, the short one says it is still going, so the alert
resets soon after the problem stops. A severity fires when any of its pairs
burns: AND within a pair, OR across pairs, as Sloth's generated rules do.

Two states keep alerts honest at the edges:

- ``no_data``: a window without events has no error ratio (NaN), so it
  neither burns nor counts as healthy;
- ``low_traffic``: a pair whose short window holds fewer than ``min_events``
  events does not burn even when its ratios exceed the threshold, because
  one failed request out of three is not a 33% outage worth a page.

>>> from aiops.core.sli import EventCounts
>>> page = [WindowPair("page", "quick", short_s=300, long_s=3600, factor=14.4),
...         WindowPair("page", "slow", short_s=1800, long_s=21600, factor=6)]
>>> counts = {300: EventCounts(good=970, total=1000), 3600: EventCounts(good=11_700, total=12_000),
...           1800: EventCounts(good=5_880, total=6_000), 21600: EventCounts(good=35_900, total=36_000)}
>>> [r.state for r in evaluate(page, counts, target=0.999, min_events=10)]
[<State.FIRING: 'firing'>]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from aiops.core.sli import EventCounts

__all__ = [
    "PairResult",
    "SeverityResult",
    "State",
    "WindowPair",
    "burn_rate",
    "burn_rate_factor",
    "detection_time_s",
    "error_ratio_threshold",
    "evaluate",
    "evaluate_pair",
]


def burn_rate(error_ratio: float, target: float) -> float:
    """``error_ratio / (1 - target)``: 1 spends the budget in exactly one SLO period.

    >>> burn_rate(0.0144, target=0.999)   # 14.4: 2% of a 30-day budget per hour
    14.4
    >>> burn_rate(float("nan"), target=0.999)
    nan
    """
    _check_target(target)
    return error_ratio / (1.0 - target)


def burn_rate_factor(budget_percent: float, period_s: float, long_window_s: float) -> float:
    """The burn rate that spends ``budget_percent`` of the budget in ``long_window_s``.

    Sloth's ``getBurnRateFactor``: ``percent / 100 * period / long_window``.
    With the SRE Workbook's percentages this gives 14.4, 6, 3 and 1 for a
    30-day period and 13.44, 5.6, 2.8 and 0.933 for 28 days.

    >>> burn_rate_factor(2, period_s=30 * 86400, long_window_s=3600)
    14.4
    >>> round(burn_rate_factor(10, period_s=28 * 86400, long_window_s=3 * 86400), 4)
    0.9333
    """
    if budget_percent <= 0 or period_s <= 0 or long_window_s <= 0:
        raise ValueError("budget_percent, period_s and long_window_s must be > 0")
    return budget_percent / 100.0 * period_s / long_window_s


def error_ratio_threshold(factor: float, target: float) -> float:
    """The error ratio a window must exceed to burn at ``factor``: ``factor * (1 - target)``.

    >>> round(error_ratio_threshold(14.4, target=0.999), 6)
    0.0144
    """
    _check_target(target)
    return factor * (1.0 - target)


def detection_time_s(
    factor: float, target: float, long_window_s: float, error_ratio: float
) -> float:
    """Seconds until a steady ``error_ratio`` makes the long window cross its threshold.

    The SRE Workbook's time to detect: ``factor * (1 - target) * long_window
    / error_ratio`` (the short window crosses sooner). Infinite when the
    error ratio never reaches the threshold.

    >>> detection_time_s(14.4, target=0.999, long_window_s=3600, error_ratio=1.0)   # 0.864 min
    51.84
    >>> detection_time_s(14.4, target=0.999, long_window_s=3600, error_ratio=0.01)
    inf
    """
    threshold = error_ratio_threshold(factor, target)
    if error_ratio <= threshold:
        return math.inf
    return threshold * long_window_s / error_ratio


@dataclass(frozen=True)
class WindowPair:
    """One alert condition: a long and a short window burning faster than ``factor``.

    >>> p = WindowPair("page", "quick", short_s=300, long_s=3600, factor=14.4)
    >>> p.name, round(p.threshold(0.999), 6)
    ('page-quick', 0.0144)
    """

    severity: str
    """``page`` or ``ticket``."""
    speed: str
    """``quick`` or ``slow`` (Sloth's names for the two pairs of one severity)."""
    short_s: float
    long_s: float
    factor: float

    def __post_init__(self) -> None:
        if not 0 < self.short_s < self.long_s:
            raise ValueError(
                f"{self.name}: the short window must be shorter than the long one and > 0"
            )
        if self.factor <= 0:
            raise ValueError(f"{self.name}: the burn-rate factor must be > 0")

    @property
    def name(self) -> str:
        """``<severity>-<speed>``, e.g. ``page-quick``."""
        return f"{self.severity}-{self.speed}"

    def threshold(self, target: float) -> float:
        """The error ratio both windows must exceed."""
        return error_ratio_threshold(self.factor, target)


class State(Enum):
    """The outcome of one pair or one severity at one evaluation."""

    FIRING = "firing"
    """Severity: some pair burns. Pair: both windows exceed the threshold (``burning``)."""
    OK = "ok"
    """Nothing burns (or only pairs without data, while others are healthy)."""
    LOW_TRAFFIC = "low_traffic"
    """Would burn, but the short window holds fewer than ``min_events`` events."""
    NO_DATA = "no_data"
    """No events in a window the decision needs (every pair, for a severity)."""


@dataclass(frozen=True)
class PairResult:
    """One pair's evaluation: both windows' error ratios and burn rates, the threshold and the state."""

    pair: WindowPair
    short: EventCounts
    long: EventCounts
    threshold: float
    state: State
    short_burn_rate: float
    long_burn_rate: float


@dataclass(frozen=True)
class SeverityResult:
    """One severity's evaluation: ``firing`` when any of its pairs burns."""

    severity: str
    state: State
    pairs: tuple[PairResult, ...]

    @property
    def firing_pairs(self) -> tuple[PairResult, ...]:
        """The pairs that burn (empty unless firing)."""
        return tuple(p for p in self.pairs if p.state is State.FIRING)


def evaluate_pair(
    pair: WindowPair, counts: Mapping[float, EventCounts], target: float, min_events: float = 0
) -> PairResult:
    """Whether one pair burns: AND of its two windows, with the low-traffic guard.

    ``counts`` maps window lengths in seconds to the events of that window.
    Ratios must be strictly greater than the threshold, as in the generated
    rules (``>``).

    >>> from aiops.core.sli import EventCounts
    >>> pair = WindowPair("page", "quick", short_s=300, long_s=3600, factor=14.4)
    >>> evaluate_pair(pair, {300: EventCounts(0, 5), 3600: EventCounts(0, 60)}, 0.999, min_events=10).state
    <State.LOW_TRAFFIC: 'low_traffic'>
    >>> evaluate_pair(pair, {300: EventCounts(0, 0), 3600: EventCounts(0, 60)}, 0.999).state
    <State.NO_DATA: 'no_data'>
    """
    short, long = _counts(counts, pair.short_s), _counts(counts, pair.long_s)
    threshold = pair.threshold(target)
    short_ratio, long_ratio = short.error_ratio, long.error_ratio
    if math.isnan(short_ratio) or math.isnan(long_ratio):
        state = State.NO_DATA
    elif short_ratio > threshold and long_ratio > threshold:
        state = State.FIRING if short.total >= min_events else State.LOW_TRAFFIC
    else:
        state = State.OK
    return PairResult(
        pair,
        short,
        long,
        threshold,
        state,
        burn_rate(short_ratio, target),
        burn_rate(long_ratio, target),
    )


def evaluate(
    pairs: Sequence[WindowPair],
    counts: Mapping[float, EventCounts],
    target: float,
    min_events: float = 0,
) -> list[SeverityResult]:
    """Evaluate every pair and combine them per severity, in the order severities first appear.

    A severity is ``firing`` if any pair burns, else ``low_traffic`` if the
    guard held one back, else ``no_data`` if no pair had data, else ``ok``.

    >>> from aiops.core.sli import EventCounts
    >>> pairs = [WindowPair("ticket", "quick", 7200, 86400, 3), WindowPair("ticket", "slow", 21600, 259200, 1)]
    >>> healthy = {w: EventCounts(good=999_500, total=1_000_000) for w in (7200, 86400, 21600, 259200)}
    >>> [(r.severity, r.state.value) for r in evaluate(pairs, healthy, target=0.999)]
    [('ticket', 'ok')]
    """
    results: dict[str, list[PairResult]] = {}
    for pair in pairs:
        results.setdefault(pair.severity, []).append(
            evaluate_pair(pair, counts, target, min_events)
        )
    out = []
    for severity, pair_results in results.items():
        states = {r.state for r in pair_results}
        if State.FIRING in states:
            state = State.FIRING
        elif State.LOW_TRAFFIC in states:
            state = State.LOW_TRAFFIC
        elif states == {State.NO_DATA}:
            state = State.NO_DATA
        else:
            state = State.OK
        out.append(SeverityResult(severity, state, tuple(pair_results)))
    return out


def _counts(counts: Mapping[float, EventCounts], window_s: float) -> EventCounts:
    try:
        return counts[window_s]
    except KeyError:
        raise KeyError(f"no counts for the {window_s:g} s window; have {sorted(counts)}") from None


def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise ValueError(f"target must be > 0 and < 1, not {target}")
