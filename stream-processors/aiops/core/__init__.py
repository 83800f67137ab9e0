"""The pure core: OTLP flattening, deltas, and (later) SLI math and detectors.

Nothing here imports Kafka, Faust or FastAPI; a unit test holds that line.
"""

from aiops.core.decode import DecodeResult, decode_payload
from aiops.core.delta import Outcome, Point, to_delta
from aiops.core.otlp import (
    MalformedPayload,
    Observation,
    PointProblem,
    decode_metrics,
    flatten,
    series_key,
)

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
