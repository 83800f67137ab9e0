"""Why a data point is refused: the reason codes, and a bounded account of them for the dead-letter topic.

Every ``PointProblem`` carries one of ``REASONS``' codes; the decode agent
counts refused points by code (``aiops_decode_point_problems_total{reason}``)
and dead-letters them with ``summary``, whose length is bounded however many
points, metrics or attribute bytes the payload had.

>>> from aiops.decode.otlp import PointProblem
>>> problems = [PointProblem("m", "data point value is nan", {"k": "v"}, "not_finite")] * 3
>>> summary(problems, points=10)
'3 of 10 points refused: not_finite 3; e.g. m{k=v}: data point value is nan'
>>> len(summary([PointProblem("m" * 10_000, "x")], points=1, max_chars=200))
200
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from aiops.decode.otlp import PointProblem

__all__ = ["REASONS", "bounded_payload", "summary"]

REASONS: dict[str, str] = {
    "unreadable": "no value or time, a broken histogram, undecodable attributes, an unsupported kind",
    "not_finite": "a value or histogram sum that is NaN or infinite",
    "out_of_range": "a time or count beyond int64",
    "start_after_time": "a sum or histogram whose start time is after its time",
    "negative_monotonic": "a negative value of a monotonic sum",
    "infinite_delta": "finite values whose difference to the previous point is infinite",
    "future": "a time further ahead of the wall clock than AIOPS_DECODE_MAX_FUTURE_S",
    "too_old": "a time further behind the wall clock than AIOPS_DECODE_MAX_PAST_S",
    "too_large": "a point whose record alone exceeds AIOPS_MAX_RECORD_BYTES",
}
"""Reason code → what it means; the codes are the ``reason`` label's values."""

_EXAMPLES = 5
_EXAMPLE_CHARS = 160


def summary(problems: Sequence[PointProblem], points: int, max_chars: int = 2000) -> str:
    """One line for a person: how many points were refused, per code, and a few examples, within ``max_chars``.

    ``points`` is how many points the payload had in all (refused or not).
    """
    codes = Counter(problem.code for problem in problems)
    head = f"{len(problems)} of {points} points refused: " + ", ".join(
        f"{code} {count}" for code, count in sorted(codes.items())
    )
    seen: dict[str, None] = {}
    for problem in problems:
        if len(seen) == _EXAMPLES:
            break
        labels = ",".join(f"{k}={v}" for k, v in problem.attributes.items())
        seen.setdefault(f"{problem.metric}{{{labels}}}: {problem.reason}"[:_EXAMPLE_CHARS])
    return f"{head}; e.g. {'; '.join(seen)}"[:max_chars]


def bounded_payload(payload: bytes, max_record_bytes: int) -> tuple[bytes, str]:
    """The payload, or its first bytes, so its base64 fits half of ``max_record_bytes``; and a note if cut.

    >>> bounded_payload(b"abc", 100)
    (b'abc', '')
    >>> bounded_payload(bytes(100), 100)
    (b'\\x00\\x00...', ' (payload cut to its first 37 of 100 bytes)')
    """
    room = max_record_bytes // 2 * 3 // 4
    if len(payload) <= room:
        return payload, ""
    return payload[:room], f" (payload cut to its first {room} of {len(payload)} bytes)"
