"""``aiops.sli/v1``: one rolling snapshot of an SLO for one group, keyed by ``<slo id>|<group>``.

Unknown values (no events in a window) and infinite ones (nothing burns, so the
budget never runs out) are ``null``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SliV1", "SliWindow"]

Severity = Literal["page", "ticket"]
State = Literal["firing", "ok", "low_traffic", "no_data"]


class SliWindow(BaseModel):
    """Good and total events in one rolling window, and what they mean for the objective."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(gt=0)
    good: float = Field(ge=0)
    total: float = Field(ge=0)
    error_ratio: float | None = Field(description="1 - good/total; null without events")
    burn_rate: float | None = Field(description="error_ratio / (1 - target); null without events")


class SliV1(BaseModel):
    """An SLO's state for one group at ``time_unix`` (event time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.sli/v1"] = Field(alias="schema")
    slo: str
    slo_id: str
    service: str
    group: dict[str, str] = Field(description="the grouping labels' values, e.g. http_route")
    time_unix: float | None = Field(description="event time the windows end at")
    target: float = Field(gt=0, lt=1)
    windows: dict[str, SliWindow] = Field(
        description="by window name: each window of the SLO's alert pairs and the SLO window"
    )
    current_window: str = Field(description="the window burn_rate and throughput_per_s refer to")
    burn_rate: float | None
    budget_remaining: float | None = Field(
        description="share of the SLO window's budget left; negative: overspent"
    )
    time_to_exhaustion_s: float | None = Field(
        description="at the current burn rate; null when nothing burns"
    )
    throughput_per_s: float = Field(ge=0)
    severities: dict[Severity, State]
    latency: dict[str, dict[str, float | None]] | None = Field(
        None,
        description="latency SLOs only: {window: {p50, p95, p99}} in seconds, as histogram_quantile",
    )
    interpolated: bool | None = Field(
        None,
        description="latency SLOs only: whether some good events were counted by interpolating "
        "inside an exponential histogram bucket, as Prometheus's histogram_fraction does",
    )
