"""``aiops.points/v1``: one decoded OTLP data point, keyed by series, partitioned by resource."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ExponentialBucketsV1", "ExponentialV1", "PointV1"]

AttributeValue = str | bool | int | float


class ExponentialBucketsV1(BaseModel):
    """One side of an exponential histogram: dense counts from OTel bucket ``offset``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offset: int
    bucket_counts: list[int] = Field(description="per-bucket deltas, each >= 0")


class ExponentialV1(BaseModel):
    """An exponential histogram's buckets: OTel's ``ExponentialHistogramDataPoint`` fields, as deltas."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: int = Field(
        ge=-10, le=20, description="bucket i covers (base**i, base**(i+1)], base 2**2**-scale"
    )
    zero_count: int = Field(ge=0, description="observations in [-zero_threshold, zero_threshold]")
    zero_threshold: float = Field(ge=0)
    positive: ExponentialBucketsV1
    negative: ExponentialBucketsV1
    min: float | None = Field(description="the smallest observation, when the producer sent it")
    max: float | None = Field(description="the largest observation, when the producer sent it")


class PointV1(BaseModel):
    """A delta (sums, histograms) or a current value (gauges, up-down sums) of one series."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.points/v1"] = Field(alias="schema")
    series: str = Field(
        description="metric name, point attributes and resource attributes, each sorted"
    )
    metric: str
    kind: Literal["gauge", "sum", "histogram", "exponential_histogram"]
    unit: str
    resource: dict[str, AttributeValue]
    attributes: dict[str, AttributeValue]
    interval_start_unix_nano: int = Field(
        ge=0, description="where the delta begins (sums and histograms)"
    )
    time_unix_nano: int = Field(gt=0, description="event time of the point")
    monotonic: bool
    reset: bool = Field(description="the delta follows a counter reset")
    value: float = Field(description="sum: the delta; gauge and up-down sum: the current value")
    count: int = Field(ge=0, description="histogram: requests in the interval")
    sum: float = Field(description="histogram: sum of the observed values in the interval")
    bounds: list[float] = Field(description="histogram: explicit bucket upper bounds, increasing")
    bucket_counts: list[int] = Field(description="histogram: per-bucket deltas, len(bounds) + 1")
    exponential: ExponentialV1 | None = Field(
        None, description="exponential_histogram only (bounds and bucket_counts empty)"
    )

    @model_validator(mode="after")
    def _buckets_match_bounds(self) -> PointV1:
        if self.kind == "histogram" and len(self.bucket_counts) != len(self.bounds) + 1:
            raise ValueError("a histogram has len(bounds) + 1 bucket counts")
        if (self.kind == "exponential_histogram") != (self.exponential is not None):
            raise ValueError("an exponential histogram, and only one, has exponential buckets")
        if self.exponential is not None and (self.bounds or self.bucket_counts):
            raise ValueError("an exponential histogram has no bounds and no explicit buckets")
        return self
