"""Cumulative OTLP points to per-interval deltas, with counter resets detected.

Downstream math (rates, SLIs, detectors) wants "what happened since the last
point". OTel SDKs report cumulative sums and histograms by default, so each
stream's previous point is kept as a small JSON-able state and differenced.

Rules, per stream (resource + scope + metric + attributes):

* first point of a stream with a known start time: the whole value is the
  delta since that start (the stream began there); with no start time it is
  only a baseline and emits nothing;
* a start time that moved forward, or a value or any bucket that went down,
  is a reset: the delta is the new value, since the new start;
* a point not newer than the last one seen (a retry, a replay) is dropped;
* delta-temporality points pass through; gauges and non-monotonic sums carry
  the current value, not a difference;
* exponential histograms are differenced by ``aiops.decode.exponential``
  (at the coarser scale when it changed; another zero threshold is a
  reset), and a difference has no min or max.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import Enum

from aiops.decode.exponential import exponential_delta
from aiops.decode.otlp import Attributes, ExponentialBuckets, Kind, Observation

__all__ = ["Outcome", "Point", "to_delta"]

State = dict


class Outcome(str, Enum):
    """What ``to_delta`` did with an observation."""

    EMITTED = "emitted"
    RESET = "reset"
    BASELINE = "baseline"
    STALE = "stale"


@dataclass(frozen=True)
class Point:
    """One record on ``aiops.points``: a delta (sums, histograms) or a current value (gauges).

    ``interval_start_unix_nano`` is where the delta begins: the previous point's
    time, or the stream's start after a reset or on its first point.
    """

    series: str
    metric: str
    kind: Kind
    unit: str
    resource: Attributes
    attributes: Attributes
    interval_start_unix_nano: int
    time_unix_nano: int
    monotonic: bool
    reset: bool = False
    value: float = 0.0
    count: int = 0
    sum: float = 0.0
    bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()
    exponential: ExponentialBuckets | None = None

    def as_record(self) -> dict:
        """The JSON record written to ``aiops.points`` (schema ``aiops.points/v1``)."""
        record = {"schema": "aiops.points/v1", **asdict(self)}
        del record["exponential"]
        if self.exponential is not None:
            record["exponential"] = self.exponential.as_v1()
        return record


def to_delta(
    observation: Observation, previous: State | None
) -> tuple[Point | None, State | None, Outcome]:
    """Turn one observation into a point, given the stream's previous state.

    Returns the point (None when nothing is emitted), the state to keep for
    the stream (None when the stream needs none) and what happened.

    >>> from aiops.decode.otlp import Observation
    >>> def counter(value, t):
    ...     return Observation("requests", "sum", "1", {}, {}, "s", 100, t, cumulative=True,
    ...                        monotonic=True, value=value)
    >>> point, state, outcome = to_delta(counter(5.0, 200), None)
    >>> point.value, outcome.value
    (5.0, 'emitted')
    >>> point, state, outcome = to_delta(counter(8.0, 300), state)
    >>> point.value, point.interval_start_unix_nano
    (3.0, 200)
    >>> point, state, outcome = to_delta(counter(2.0, 400), state)
    >>> point.value, point.reset, outcome.value
    (2.0, True, 'reset')
    """
    if not observation.cumulative or not observation.monotonic:
        point = _point(
            observation,
            observation.start_time_unix_nano,
            value=observation.value,
            count=observation.count,
            total=observation.sum,
            buckets=observation.bucket_counts,
        )
        return point, None, Outcome.EMITTED
    state = _state(observation)
    if previous is None:
        if observation.start_time_unix_nano == 0:
            return None, state, Outcome.BASELINE
        return _since_start(observation, reset=False), state, Outcome.EMITTED
    if observation.time_unix_nano <= previous["time"]:
        return None, previous, Outcome.STALE
    if observation.kind == "exponential_histogram":
        return _exponential(observation, previous, state)
    if _is_reset(observation, previous):
        return _since_start(observation, reset=True), state, Outcome.RESET
    if observation.kind == "histogram":
        point = _point(
            observation,
            previous["time"],
            count=observation.count - previous["count"],
            total=observation.sum - previous["sum"],
            buckets=tuple(
                now - before for now, before in zip(observation.bucket_counts, previous["buckets"])
            ),
        )
    else:
        point = _point(observation, previous["time"], value=observation.value - previous["value"])
    return point, state, Outcome.EMITTED


def _exponential(
    observation: Observation, previous: State, state: State
) -> tuple[Point, State, Outcome]:
    e = observation.exponential
    assert e is not None
    delta = None
    if observation.start_time_unix_nano <= previous["start"]:
        delta = exponential_delta(_exponential_key(observation), tuple(previous["exponential"]))
    if delta is None:
        return _since_start(observation, reset=True), state, Outcome.RESET
    scale, count, zero_count, positive_offset, positive, negative_offset, negative = delta
    buckets = ExponentialBuckets(
        scale, zero_count, e.zero_threshold, positive_offset, positive, negative_offset, negative
    )
    point = replace(
        _point(observation, previous["time"], count=count, total=observation.sum - previous["sum"]),
        exponential=buckets,
    )
    return point, state, Outcome.EMITTED


def _exponential_key(observation: Observation) -> tuple:
    """The point as ``exponential_delta`` reads it."""
    e = observation.exponential
    assert e is not None
    return (
        e.scale,
        observation.count,
        e.zero_count,
        e.zero_threshold,
        e.positive_offset,
        list(e.positive),
        e.negative_offset,
        list(e.negative),
    )


def _is_reset(observation: Observation, previous: State) -> bool:
    if observation.start_time_unix_nano > previous["start"]:
        return True
    if observation.kind == "histogram":
        return (
            list(observation.bounds) != previous["bounds"]
            or observation.count < previous["count"]
            or any(
                now < before for now, before in zip(observation.bucket_counts, previous["buckets"])
            )
        )
    return observation.value < previous["value"]


def _since_start(observation: Observation, *, reset: bool) -> Point:
    return _point(
        observation,
        observation.start_time_unix_nano or observation.time_unix_nano,
        reset=reset,
        value=observation.value,
        count=observation.count,
        total=observation.sum,
        buckets=observation.bucket_counts,
    )


def _point(
    observation: Observation,
    interval_start: int,
    *,
    reset: bool = False,
    value: float = 0.0,
    count: int = 0,
    total: float = 0.0,
    buckets: tuple[int, ...] = (),
) -> Point:
    return Point(
        series=observation.series,
        metric=observation.metric,
        kind=observation.kind,
        unit=observation.unit,
        resource=observation.resource,
        attributes=observation.attributes,
        interval_start_unix_nano=interval_start,
        time_unix_nano=observation.time_unix_nano,
        monotonic=observation.monotonic,
        reset=reset,
        value=value,
        count=count,
        sum=total,
        bounds=observation.bounds,
        bucket_counts=buckets,
        exponential=observation.exponential,
    )


def _state(observation: Observation) -> State:
    state = {"start": observation.start_time_unix_nano, "time": observation.time_unix_nano}
    if observation.kind == "exponential_histogram":
        state.update(
            count=observation.count, sum=observation.sum, exponential=_exponential_key(observation)
        )
    elif observation.kind == "histogram":
        state.update(
            count=observation.count,
            sum=observation.sum,
            bounds=list(observation.bounds),
            buckets=list(observation.bucket_counts),
        )
    else:
        state["value"] = observation.value
    return state
