"""Durations as SLO specs and PromQL write them: ``30d``, ``6h``, ``5m``, ``30s``.

OpenSLO's shorthand (``m``, ``h``, ``d``, ``w``; ``M``, ``Q``, ``Y`` are
calendar units that only calendar windows use) plus ``s`` for alert windows
scaled down in tests. One number and one unit; PromQL's compound form
(``1h30m``) is only ever written, by ``format_duration``.

>>> parse_duration("30d"), format_duration(2_592_000)
(2592000, '30d')
"""

from __future__ import annotations

import re

__all__ = ["UNITS", "format_duration", "parse_duration"]

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
"""Seconds per unit of the shorthand."""

_CALENDAR_UNITS = {"M", "Q", "Y"}
_DURATION = re.compile(r"^([1-9][0-9]*)([a-zA-Z]+)$")


def parse_duration(text: str, units: str = "smhdw") -> int:
    """Seconds in ``text`` (``<positive integer><unit>``); ``units`` says which units are allowed.

    >>> parse_duration("5m"), parse_duration("1w")
    (300, 604800)
    >>> parse_duration("1M")
    Traceback (most recent call last):
    ...
    ValueError: '1M' uses a calendar unit (M, Q, Y); only rolling windows in s, m, h, d or w are supported
    >>> parse_duration("90s", units="mhdw")
    Traceback (most recent call last):
    ...
    ValueError: '90s' must be a whole number of m, h, d or w (for example 30d)
    """
    allowed = ", ".join(units[:-1]) + f" or {units[-1]}" if len(units) > 1 else units
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match and match.group(2) in _CALENDAR_UNITS:
        raise ValueError(
            f"{text!r} uses a calendar unit (M, Q, Y); only rolling windows in {allowed} are supported"
        )
    if not match or match.group(2) not in units or match.group(2) not in UNITS:
        raise ValueError(f"{text!r} must be a whole number of {allowed} (for example 30d)")
    return int(match.group(1)) * UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Prometheus's form of a duration, as Sloth writes windows: the largest units that add up to it.

    Years and weeks only when they divide the duration exactly (``4w`` for
    28 days, but ``30d`` and ``3d``), then days, hours, minutes, seconds: the
    rules of Prometheus's ``model.Duration.String``, which Sloth uses for the
    ``ratio_rate<window>`` names, the ``sloth_window`` label and the ranges.

    >>> [format_duration(s) for s in (300, 3600, 86400, 259200, 604800, 90, 5400)]
    ['5m', '1h', '1d', '3d', '1w', '1m30s', '1h30m']
    >>> [format_duration(d * 86400) for d in (28, 30, 14, 365, 366)]
    ['4w', '30d', '2w', '1y', '366d']
    """
    remaining = round(seconds)
    if remaining <= 0 or abs(seconds - remaining) > 1e-9:
        raise ValueError(f"{seconds} s is not a positive whole number of seconds")
    parts = []
    for unit, size, exact in _FORMAT_UNITS:
        if exact and remaining % size:
            continue
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


_FORMAT_UNITS = (
    ("y", 365 * 86400, True),
    ("w", 7 * 86400, True),
    ("d", 86400, False),
    ("h", 3600, False),
    ("m", 60, False),
    ("s", 1, False),
)
"""Unit, seconds and whether it is written only when it divides the duration exactly."""
