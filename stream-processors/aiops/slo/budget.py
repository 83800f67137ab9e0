"""Error budgets: what is left of the budget over the SLO window, and when it runs out.

The error budget of an SLO with target ``t`` is the fraction ``1 - t`` of
events allowed to be bad over the SLO window (the *period*). Over that
window, with error ratio ``e``:

- budget consumed = ``e / (1 - t)`` (the period's burn rate),
- budget remaining = ``1 - e / (1 - t)``: 1 untouched, 0 spent, negative overspent,
  exactly Sloth's ``slo:period_error_budget_remaining:ratio``;
- at burn rate ``b`` the budget goes at ``b / period`` per second, so what
  remains lasts ``remaining * period / b`` (the full budget: ``period / b``).

Values are NaN where they are unknown (no events): neither healthy nor spent.

>>> remaining = budget_remaining(error_ratio=0.0005, target=0.999)   # half the budget spent
>>> round(remaining, 6)
0.5
>>> time_to_exhaustion_s(remaining, burn_rate=2.0, period_s=30 * 86400) / 86400   # days
7.5
"""

from __future__ import annotations

import math

__all__ = [
    "allowed_bad_events",
    "budget_consumed",
    "budget_remaining",
    "time_to_exhaustion_s",
]


def budget_remaining(error_ratio: float, target: float) -> float:
    """``1 - error_ratio / (1 - target)`` over the SLO window; below 0 when overspent, NaN without data.

    >>> round(budget_remaining(0.0, 0.999), 6), round(budget_remaining(0.001, 0.999), 6)
    (1.0, 0.0)
    >>> round(budget_remaining(0.003, 0.999), 6)      # three budgets' worth of errors
    -2.0
    """
    _check_target(target)
    return 1.0 - error_ratio / (1.0 - target)


def budget_consumed(burn_rate: float, window_s: float, period_s: float) -> float:
    """The fraction of the whole budget that ``window_s`` at ``burn_rate`` spends: ``b * window / period``.

    >>> round(budget_consumed(14.4, window_s=3600, period_s=30 * 86400), 6)   # the fast page: 2%
    0.02
    >>> round(budget_consumed(1.0, window_s=3 * 86400, period_s=30 * 86400), 6)   # the slow ticket: 10%
    0.1
    """
    if period_s <= 0:
        raise ValueError("period_s must be > 0")
    return burn_rate * window_s / period_s


def time_to_exhaustion_s(remaining: float, burn_rate: float, period_s: float) -> float:
    """Seconds until the remaining budget is spent at ``burn_rate``: ``remaining * period / burn_rate``.

    0 when nothing remains, infinite when nothing burns, NaN when either is unknown.

    >>> day = 86400
    >>> [round(time_to_exhaustion_s(1.0, b, 30 * day) / day, 3) for b in (1, 2, 10, 14.4, 6)]
    [30.0, 15.0, 3.0, 2.083, 5.0]
    >>> round(time_to_exhaustion_s(1.0, 1000, 30 * day) / 60, 1)   # minutes
    43.2
    >>> time_to_exhaustion_s(-0.5, 3.0, 30 * day), time_to_exhaustion_s(0.4, 0.0, 30 * day)
    (0.0, inf)
    """
    if period_s <= 0:
        raise ValueError("period_s must be > 0")
    if math.isnan(remaining) or math.isnan(burn_rate):
        return math.nan
    if remaining <= 0:
        return 0.0
    if burn_rate <= 0:
        return math.inf
    return remaining * period_s / burn_rate


def allowed_bad_events(total: float, target: float) -> float:
    """How many of ``total`` events may be bad before the budget is spent: ``(1 - target) * total``.

    >>> round(allowed_bad_events(1_000_000, 0.999), 6)
    1000.0
    """
    _check_target(target)
    return (1.0 - target) * total


def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise ValueError(f"target must be > 0 and < 1, not {target}")
