"""One OTLP payload in, the points it holds out: the decode agent's whole logic, without I/O.

>>> result = decode_payload(b"", {})
>>> result.points, result.problems
([], [])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field

from aiops.decode.delta import Outcome, Point, to_delta
from aiops.decode.otlp import PointProblem, decode_metrics, flatten

__all__ = ["DecodeResult", "decode_payload"]


@dataclass
class DecodeResult:
    """The points to emit, the points skipped with their reasons, and a tally of outcomes."""

    points: list[Point] = field(default_factory=list)
    problems: list[PointProblem] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)


def decode_payload(payload: bytes, states: MutableMapping[str, dict]) -> DecodeResult:
    """Decode, flatten and difference one payload; ``states`` holds each stream's last point.

    Raises ``MalformedPayload`` when the bytes are not OTLP metrics at all;
    unreadable points inside a good payload are returned in ``problems``.
    """
    result = DecodeResult()
    for item in flatten(decode_metrics(payload)):
        if isinstance(item, PointProblem):
            result.problems.append(item)
            continue
        point, state, outcome = to_delta(item, states.get(item.stream))
        if state is not None and outcome is not Outcome.STALE:
            states[item.stream] = state
        if point is not None:
            result.points.append(point)
        result.outcomes[outcome] += 1
    return result
