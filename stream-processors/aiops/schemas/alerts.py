"""``aiops.alerts/v1``: firing and resolved alert events, in Alertmanager's alert model.

The event carries Alertmanager's own fields (``labels``, ``annotations``,
``startsAt``, ``endsAt``, ``generatorURL``) so a forwarder can post it to
Alertmanager's API v2 unchanged, plus ``status`` and a stable ``id`` that is
the same for the firing and the resolved event of one episode, so that a
consumer can deduplicate. Producers key each event by ``id``, so the events of
one episode stay in order on one partition.

>>> from datetime import datetime, timezone
>>> start = datetime(2026, 11, 27, 21, 0, tzinfo=timezone.utc)
>>> firing = AlertV1.firing({"alertname": "SLOBurnRate", "severity": "page", "service": "demo"},
...                         {"summary": "burning"}, start, "http://prometheus/graph")
>>> resolved = firing.resolve(datetime(2026, 11, 27, 21, 30, tzinfo=timezone.utc))
>>> (firing.status, resolved.status, firing.id == resolved.id)
('firing', 'resolved', True)
>>> sorted(resolved.for_alertmanager())
['annotations', 'endsAt', 'generatorURL', 'labels', 'startsAt']
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AlertV1", "alert_id"]

REQUIRED_LABELS = ("alertname", "severity")


def alert_id(labels: dict[str, str], starts_at: datetime) -> str:
    """The episode's id: a hash of the sorted labels and the start time.

    >>> from datetime import datetime, timezone
    >>> alert_id({"b": "2", "a": "1"}, datetime(2026, 1, 1, tzinfo=timezone.utc))
    '...'
    >>> len(alert_id({}, datetime(2026, 1, 1, tzinfo=timezone.utc)))
    16
    """
    text = json.dumps(sorted(labels.items())) + starts_at.isoformat()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class AlertV1(BaseModel):
    """One alert event: ``firing`` when an episode starts, ``resolved`` (with ``endsAt``) when it ends."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["aiops.alerts/v1"] = Field("aiops.alerts/v1", alias="schema")
    id: str = Field(description="stable per episode: the same on its firing and resolved events")
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(
        description="identity of the alert; always alertname and severity, plus slo, service and the group's labels"
    )
    annotations: dict[str, str] = Field(description="summary and description, for people")
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = Field(None, description="set on resolved events only")
    generatorURL: str = Field(description="where to look: a Prometheus graph or Grafana panel")

    @field_validator("labels")
    @classmethod
    def _required_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        missing = [name for name in REQUIRED_LABELS if not labels.get(name)]
        if missing:
            raise ValueError(f"labels must include {', '.join(missing)}")
        return labels

    @model_validator(mode="after")
    def _ends_when_resolved(self) -> AlertV1:
        if (self.status == "resolved") != (self.endsAt is not None):
            raise ValueError("endsAt is set on resolved events and only on them")
        return self

    @classmethod
    def firing(
        cls,
        labels: dict[str, str],
        annotations: dict[str, str],
        starts_at: datetime,
        generator_url: str,
    ) -> AlertV1:
        """A new episode's firing event."""
        return cls(
            id=alert_id(labels, starts_at),
            status="firing",
            labels=labels,
            annotations=annotations,
            startsAt=starts_at,
            generatorURL=generator_url,
        )

    def resolve(self, ends_at: datetime, annotations: dict[str, str] | None = None) -> AlertV1:
        """The resolved event of the same episode."""
        return self.model_copy(
            update={
                "status": "resolved",
                "endsAt": ends_at,
                "annotations": annotations or self.annotations,
            }
        )

    def for_alertmanager(self) -> dict:
        """The body of one alert in a POST to Alertmanager's ``/api/v2/alerts``."""
        return self.model_dump(
            mode="json",
            include={"labels", "annotations", "startsAt", "endsAt", "generatorURL"},
            exclude_none=True,
        )
