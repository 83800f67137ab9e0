"""``aiops.scores/v1``: one anomaly score of one track, keyed by the track.

A *track* is one signal of one series: ``<series>|rate``, ``|mean`` (histograms),
``|value`` (gauges). Service-level tracks have no point attributes (``{}``
before the ``@``). Values not known yet (the first points of a track) are ``null``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ScoreV1"]

AttributeValue = str | bool | int | float


class ScoreV1(BaseModel):
    """How unusual one point of a track is, and what the detector expected instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.scores/v1"] = Field(alias="schema")
    track: str = Field(description="<series>|<signal>: the Kafka key")
    series: str = Field(
        description="the series of aiops.points, or <metric>{}@<resource> for the service level"
    )
    signal: Literal["rate", "mean", "value"] = Field(
        description="rate: per second (counters, histogram counts); mean: sum over count; value: a gauge"
    )
    metric: str
    service: str = Field(description="the resource's service.name (empty when it has none)")
    attributes: dict[str, AttributeValue] = Field(
        description="the point's attributes; {} at the service level"
    )
    resource: dict[str, AttributeValue]
    time_unix_nano: int = Field(gt=0, description="event time of the point")
    value: float | None = Field(
        description="the signal's value at that time (null: none this interval)"
    )
    expected: float | None = Field(
        description="the Holt-Winters forecast it was judged by (null: warming up)"
    )
    sigma: float | None = Field(description="the residual scale of the forecast")
    score: float | None = Field(
        ge=0, le=1, description="calibrated anomaly score; null when the track was skipped"
    )
