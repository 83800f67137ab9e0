"""``aiops.deadletter/v1``: what a stage could not process, why, and the original bytes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeadLetterSource", "DeadLetterV1"]


class DeadLetterSource(BaseModel):
    """Where the record came from, so it can be found and replayed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    partition: int
    offset: int
    timestamp: float | None = Field(description="the source record's Kafka timestamp, seconds")


class DeadLetterV1(BaseModel):
    """One record set aside by a stage of the pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["aiops.deadletter/v1"] = Field(alias="schema")
    stage: str = Field(description="the agent that set it aside, e.g. decode")
    kind: str = Field(
        description="a short reason code: malformed_payload, unreadable_points (some points refused, "
        "the others sent), decode_error"
    )
    reason: str = Field(description="what was wrong, for a person")
    source: DeadLetterSource
    payload_base64: str = Field(
        description="the original record value, base64; only its first bytes when the whole would not fit "
        "in half of AIOPS_MAX_RECORD_BYTES (the reason then says how many of how many, and payload_bytes is "
        "set), empty for a record batch the fetcher could not read (the reason gives its offsets)"
    )
    payload_bytes: int | None = Field(
        None, description="the original value's size, when payload_base64 holds only its start"
    )
