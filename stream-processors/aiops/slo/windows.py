"""The default burn-rate alert windows, declared once: every other default is read from here.

:data:`DEFAULT_WINDOWS` is what a spec's ``alerting.windows`` omits; the
streaming windows (:data:`DEFAULT_WINDOWS_S`), the recording rules' windows
and the dashboards' window selector (:func:`window_regex`) follow from it.
Changing a default pair's windows or budget share is one edit here (then
``aiops generate``). A new severity or speed is a new entry here plus its
field in the spec's schema (``AlertWindowsSpec``, ``SeverityWindowsSpec`` in
``spec.py``); a unit test checks the two agree.

>>> [format_duration(w) for w in DEFAULT_WINDOWS_S]
['5m', '30m', '1h', '2h', '6h', '1d', '3d']
>>> window_regex()
'5m|30m|1h|2h|6h|1d|3d'
"""

from __future__ import annotations

from typing import Any

from aiops.slo.durations import format_duration, parse_duration

__all__ = ["DEFAULT_WINDOWS", "DEFAULT_WINDOWS_S", "SEVERITIES", "SPEEDS", "window_regex"]

DEFAULT_WINDOWS: dict[str, dict[str, dict[str, Any]]] = {
    "page": {
        "quick": {"errorBudgetPercent": 2, "shortWindow": "5m", "longWindow": "1h"},
        "slow": {"errorBudgetPercent": 5, "shortWindow": "30m", "longWindow": "6h"},
    },
    "ticket": {
        "quick": {"errorBudgetPercent": 10, "shortWindow": "2h", "longWindow": "1d"},
        "slow": {"errorBudgetPercent": 10, "shortWindow": "6h", "longWindow": "3d"},
    },
}
"""The SRE Workbook's windows as Sloth ships them (``google-30d.yaml``, ``google-28d.yaml``).

The factor is ``percent / 100 * SLO window / long window``: 14.4, 6, 3 and 1
for 30 days; 13.44, 5.6, 2.8 and 0.93 for 28 days; 3.36, 1.4, 0.7 and 0.23
for 7 days (Sloth ships no 7-day catalogue; its example one spends 8, 12.5,
20 and 42 percent, which a spec can set through ``alerting.windows``).
"""


SEVERITIES: tuple[str, ...] = tuple(DEFAULT_WINDOWS)
"""Alert severities, most urgent first."""
SPEEDS: tuple[str, ...] = tuple(DEFAULT_WINDOWS[SEVERITIES[0]])
"""The window pairs of a severity: the quick one reacts in minutes, the slow one catches slower burns."""

DEFAULT_WINDOWS_S: tuple[int, ...] = tuple(
    sorted(
        {
            int(parse_duration(pair[edge]))
            for speeds in DEFAULT_WINDOWS.values()
            for pair in speeds.values()
            for edge in ("shortWindow", "longWindow")
        }
    )
)
"""Every short and long window of :data:`DEFAULT_WINDOWS`, in seconds, shortest first."""


def window_regex(windows_s: tuple[int, ...] = DEFAULT_WINDOWS_S) -> str:
    """A PromQL regex alternation of the windows as Sloth names them (``5m|30m|…``), shortest first."""
    return "|".join(format_duration(w) for w in windows_s)
