"""Decoding: OTLP metrics payloads in, data points out (pure: no Kafka, no Faust).

- ``otlp.py``: parse an OTLP payload and flatten it into observations, one per data point;
- ``delta.py``: cumulative to delta per stream, with resets and replays;
- ``payload.py``: one payload in, the points to emit and the problems found out.
"""

from aiops.decode.delta import Outcome, Point, to_delta
from aiops.decode.otlp import (
    MalformedPayload,
    Observation,
    PointProblem,
    decode_metrics,
    flatten,
    series_key,
)
from aiops.decode.payload import DecodeResult, decode_payload

__all__ = [
    "DecodeResult",
    "MalformedPayload",
    "Observation",
    "Outcome",
    "Point",
    "PointProblem",
    "decode_metrics",
    "decode_payload",
    "flatten",
    "series_key",
    "to_delta",
]
