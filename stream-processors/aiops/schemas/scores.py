"""``aiops.scores/v2``: the scores of one scored export of one resource; ``aiops.scores/v1``: one score.

The detect agent writes one v2 record per scored group (one export of one
resource), keyed by the resource: the resource once, then every track's
score. Each entry plus the record's ``resource`` and ``service`` is a v1
score (:class:`ScoreV1`, what ``aiops.anomaly.engine.scores_of`` gives back).


A *track* is one signal of one series: ``<series>|rate``, ``|mean`` (histograms),
``|value`` (gauges). Service-level tracks have no point attributes (``{}``
before the ``@``). Values not known yet (the first points of a track) are ``null``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ScoreEntry", "ScoreV1", "ScoresV2"]

AttributeValue = str | bool | int | float


class ScoreEntry(BaseModel):
    """How unusual one point of a track is, and what the detector expected instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    track: str = Field(description="<series>|<signal>")
    series: str = Field(
        description="the series of aiops.points, or <metric>{}@<resource> for the service level"
    )
    signal: Literal["rate", "mean", "value", "error_percent"] = Field(
        description="rate: per second (counters, histogram counts); mean: sum over count; value: a gauge; "
        "error_percent: the percent of 5xx answers (service level of request histograms with a status code)"
    )
    metric: str
    attributes: dict[str, AttributeValue] = Field(
        description="the point's attributes; {} at the service level"
    )
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


class ScoresV2(BaseModel):
    """The scores of one export of one resource (``aiops.scores/v2``), keyed by the resource."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.scores/v2"] = Field(alias="schema")
    resource: dict[str, AttributeValue]
    service: str = Field(description="the resource's service.name (empty when it has none)")
    scores: list[ScoreEntry]


class ScoreV1(ScoreEntry):
    """One score with its resource (``aiops.scores/v1``): what a v2 record's entries expand to."""

    schema_: Literal["aiops.scores/v1"] = Field(alias="schema")
    service: str = Field(description="the resource's service.name (empty when it has none)")
    resource: dict[str, AttributeValue]
