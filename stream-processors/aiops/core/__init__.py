"""The pure core: OTLP flattening, deltas, and (later) SLI math and detectors.

Nothing here imports Kafka, Faust or FastAPI; a unit test holds that line.
"""

from aiops.core.budget import budget_remaining, time_to_exhaustion_s
from aiops.core.burn_rate import WindowPair, burn_rate
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
from aiops.core.quantile import NotABucketBound, count_at_or_below, histogram_quantile
from aiops.core.sli import Arrival, EventCounts, SliWindows, WindowSet

__all__ = [  # SLO math: Arrival .. time_to_exhaustion_s (burn_rate, budget, quantile, sli)
    "Arrival",
    "DecodeResult",
    "EventCounts",
    "MalformedPayload",
    "NotABucketBound",
    "Observation",
    "Outcome",
    "Point",
    "PointProblem",
    "SliWindows",
    "WindowPair",
    "WindowSet",
    "budget_remaining",
    "burn_rate",
    "count_at_or_below",
    "decode_metrics",
    "decode_payload",
    "flatten",
    "histogram_quantile",
    "series_key",
    "time_to_exhaustion_s",
    "to_delta",
]
