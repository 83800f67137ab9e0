"""Decoding: OTLP metrics payloads in, data points out (pure: no Kafka, no Faust).

- ``otlp.py``: parse an OTLP payload and flatten it into observations, one per data point;
- ``delta.py``: cumulative to delta per stream, with resets and replays;
- ``payload.py``: one payload in, the points to emit and the problems found out;
- the columnar path the worker runs: ``columnar.py``, ``admission.py`` (time window and size per
  point), ``delta_columns.py``, ``points_v2.py`` and ``points_split.py`` (records within a byte
  limit), ``payload_v2.py`` (all of it for one payload), ``rejections.py`` (why a point is refused),
  ``points_check.py`` (a points record checked at a reader's door).
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
from aiops.decode.points_check import BadPointsRecord, CheckedPoints, check_points

__all__ = [
    "BadPointsRecord",
    "CheckedPoints",
    "DecodeResult",
    "MalformedPayload",
    "Observation",
    "Outcome",
    "Point",
    "PointProblem",
    "check_points",
    "decode_metrics",
    "decode_payload",
    "flatten",
    "series_key",
    "to_delta",
]
