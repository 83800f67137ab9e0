"""``aiops.points/v2``: one OTLP export of one resource, every point in columns, with its label dictionary.

Written by ``aiops.decode.points_v2`` (``to_record`` then ``encode``); its
``expand_v1`` gives the ``aiops.points/v1`` point dicts back. Validating a
record costs a Python object per value, so readers on the hot path use
``aiops.decode.points_v2.columns`` instead; this model is the contract, the
source of the committed JSON Schema, and what the tests check records against.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["EXPONENTIAL_COLUMNS", "PointColumnsV2", "PointsV2", "SeriesDictionaryV2"]

EXPONENTIAL_COLUMNS = (
    "scale",
    "zero_count",
    "zero_threshold",
    "positive_offset",
    "positive_length",
    "negative_offset",
    "min",
    "max",
)
"""The point columns only a record with an exponential histogram has, all of them."""

AttributeValue = str | bool | int | float


class SeriesDictionaryV2(BaseModel):
    """One entry per series id used in the record, as parallel lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: list[int] = Field(
        description="series ids: BLAKE2b-64 of the canonical series text (aiops.decode.series_id)"
    )
    metric: list[str]
    kind: list[Literal["gauge", "sum", "histogram", "exponential_histogram"]]
    unit: list[str]
    attributes: list[dict[str, AttributeValue]] = Field(
        description="the point attributes of each series"
    )


class PointColumnsV2(BaseModel):
    """The points, one list per field, all of one length n (``bucket_offsets``: n + 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    series_id: list[int]
    flags: list[int] = Field(
        description="bit 1: monotonic; bit 2: the delta follows a counter reset"
    )
    interval_start_unix_nano: list[int] = Field(
        description="where each delta begins (sums and histograms)"
    )
    time_unix_nano: list[int] = Field(description="event time of each point")
    value: list[float] = Field(
        description="sum: the delta; gauge and up-down sum: the current value; 0 on histograms"
    )
    count: list[int] = Field(description="histogram: requests in the interval; 0 on numbers")
    sum: list[float] = Field(
        description="histogram: sum of the observed values in the interval; 0 on numbers"
    )
    bounds_index: list[int] = Field(
        description="histogram: index into the record's bounds; -1 on numbers"
    )
    bucket_offsets: list[int] = Field(
        description="point i's buckets are bucket_counts[bucket_offsets[i]:bucket_offsets[i+1]]"
    )
    bucket_counts: list[int] = Field(
        description="histogram per-bucket deltas, len(bounds) + 1 per point, flat; exponential "
        "histogram: positive_length positive bucket deltas, then the negative ones"
    )
    scale: list[int] | None = Field(
        None,
        description="exponential histogram: bucket i covers (base**i, base**(i+1)], base "
        "2**2**-scale; this column and the seven after it are present, with 0 on other points, "
        "only in a record with an exponential histogram",
    )
    zero_count: list[int] | None = Field(
        None, description="exponential histogram: observations in [-zero_threshold, zero_threshold]"
    )
    zero_threshold: list[float] | None = None
    positive_offset: list[int] | None = Field(
        None, description="exponential histogram: index of the first positive bucket"
    )
    positive_length: list[int] | None = Field(
        None, description="exponential histogram: how many of its bucket counts are positive ones"
    )
    negative_offset: list[int] | None = Field(
        None, description="exponential histogram: index of the first negative bucket"
    )
    min: list[float | None] | None = Field(
        None, description="exponential histogram: smallest observation; null when not sent"
    )
    max: list[float | None] | None = Field(
        None, description="exponential histogram: largest observation; null when not sent"
    )


class PointsV2(BaseModel):
    """The decoded points of one resource in one OTLP payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.points/v2"] = Field(alias="schema")
    resource: dict[str, AttributeValue]
    series: SeriesDictionaryV2
    bounds: list[list[float]] = Field(
        description="distinct explicit bucket bounds of the record's histograms"
    )
    points: PointColumnsV2

    @model_validator(mode="after")
    def _columns_fit(self) -> PointsV2:
        p, s = self.points, self.series
        if len({len(s.id), len(s.metric), len(s.kind), len(s.unit), len(s.attributes)}) != 1:
            raise ValueError("series: every list has one entry per series id")
        n = len(p.series_id)
        exponential = [name for name in EXPONENTIAL_COLUMNS if getattr(p, name) is not None]
        if exponential and len(exponential) != len(EXPONENTIAL_COLUMNS):
            raise ValueError(
                "points: the exponential histogram columns come all together or not at all"
            )
        for name in (
            *exponential,
            "flags",
            "interval_start_unix_nano",
            "time_unix_nano",
            "value",
            "count",
            "sum",
            "bounds_index",
        ):
            if len(getattr(p, name)) != n:
                raise ValueError(
                    f"points.{name} has {len(getattr(p, name))} entries for {n} points"
                )
        if (
            len(p.bucket_offsets) != n + 1
            or p.bucket_offsets[0] != 0
            or p.bucket_offsets[-1] != len(p.bucket_counts)
        ):
            raise ValueError("points.bucket_offsets: n + 1 offsets from 0 to len(bucket_counts)")
        kinds = dict(zip(s.id, s.kind))
        for i, (sid, index) in enumerate(zip(p.series_id, p.bounds_index)):
            if sid not in kinds:
                raise ValueError(f"points.series_id[{i}]: {sid} has no entry in series")
            buckets = p.bucket_offsets[i + 1] - p.bucket_offsets[i]
            if kinds[sid] == "histogram":
                if not 0 <= index < len(self.bounds) or buckets != len(self.bounds[index]) + 1:
                    raise ValueError(
                        f"points[{i}]: a histogram has bounds and len(bounds) + 1 bucket counts"
                    )
            elif kinds[sid] == "exponential_histogram":
                if not exponential or index != -1 or not 0 <= p.positive_length[i] <= buckets:
                    raise ValueError(
                        f"points[{i}]: an exponential histogram has the exponential columns, "
                        "bounds_index -1 and at least positive_length bucket counts"
                    )
            elif index != -1 or buckets:
                raise ValueError(f"points[{i}]: a number point has bounds_index -1 and no buckets")
        return self
