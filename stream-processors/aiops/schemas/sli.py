"""``aiops.sli/v2``: one rolling snapshot of an SLO for one group, keyed by ``<slo id>|<group>``.

Unknown values (no events in a window) and infinite ones (nothing burns, so the
budget never runs out) are ``null``. v2 adds to each window whether it covers
its whole length (a window a spec change added to saved state does not, for
one length) and since when it counts; ``aiops.sli/v1`` records lack both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SliV1", "SliV2", "SliWindow", "SliWindowV2"]

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


class SliWindowV2(SliWindow):
    """A window of ``aiops.sli/v2``: v1's fields, and whether it covers its whole length."""

    complete: bool = Field(
        description="false while the window has counted for less than its length: "
        "a spec change added it (or changed its length) after saved state began"
    )
    since_unix: float | None = Field(
        description="event time the window counts since when not complete; null when complete"
    )


class SliV2(SliV1):
    """``aiops.sli/v1`` whose windows say whether they cover their whole length."""

    schema_: Literal["aiops.sli/v2"] = Field(alias="schema")  # type: ignore[assignment]
    windows: dict[str, SliWindowV2] = Field(  # type: ignore[assignment]
        description="by window name: each window of the SLO's alert pairs and the SLO window"
    )
