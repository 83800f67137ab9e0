"""``aiops.scores/v3``: the scores of one scored export of one resource, in columns; v2 and v1 before it.

The detect agent writes one v3 record per scored group (one export of one
resource), keyed by the resource: the resource and its label set once, then
every track's score in columns. Each score is a v1 score (:class:`ScoreV1`,
what ``aiops.anomaly.engine.scores_of`` gives back) once its series is put
back together: ``series[i] + "@" + at[at[i]]`` (or ``series[i]`` alone when
``at[i]`` is -1), and its track is ``<series>|<signal>``. v2 records (one
entry object per score, the series written out) are what the previous release
wrote; readers take both for one release.


A *track* is one signal of one series: ``<series>|rate``, ``|mean`` (histograms),
``|value`` (gauges). Service-level tracks have no point attributes (``{}``
before the ``@``). Values not known yet (the first points of a track) are ``null``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ScoreColumns", "ScoreEntry", "ScoreV1", "ScoresV2", "ScoresV3"]

AttributeValue = str | bool | int | float
Signal = Literal["rate", "mean", "value", "error_percent"]


class ScoreEntry(BaseModel):
    """How unusual one point of a track is, and what the detector expected instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    track: str = Field(description="<series>|<signal>")
    series: str = Field(
        description="the series of aiops.points, or <metric>{}@<resource> for the service level"
    )
    signal: Signal = Field(
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


class ScoreColumns(BaseModel):
    """The scores of one export in columns, one entry per score in each (see :class:`ScoreEntry` for the meanings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    series: list[str] = Field(
        description="each score's series up to its resource: <metric>{<point labels>} "
        "(the whole series when at is -1)"
    )
    at: list[int] = Field(
        description="each score's index into the record's at (its resource's label set), -1 for none"
    )
    signal: list[Signal]
    metric: list[str]
    attributes: list[dict[str, AttributeValue]]
    time_unix_nano: list[int]
    value: list[float | None]
    expected: list[float | None]
    sigma: list[float | None]
    score: list[float | None]

    @model_validator(mode="after")
    def _same_length(self) -> ScoreColumns:
        lengths = {name: len(values) for name, values in self}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"score columns differ in length: {lengths}")
        return self


class ScoresV3(BaseModel):
    """The scores of one export of one resource (``aiops.scores/v3``), keyed by the resource."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.scores/v3"] = Field(alias="schema")
    resource: dict[str, AttributeValue]
    service: str = Field(description="the resource's service.name (empty when it has none)")
    at: list[str] = Field(
        description="the resource's label set as the series write it after their @ "
        "(one entry, or two when the service-level tracks write it differently)"
    )
    scores: ScoreColumns


class ScoreV1(ScoreEntry):
    """One score with its resource (``aiops.scores/v1``): what a v2 record's entries expand to."""

    schema_: Literal["aiops.scores/v1"] = Field(alias="schema")
    service: str = Field(description="the resource's service.name (empty when it has none)")
    resource: dict[str, AttributeValue]
