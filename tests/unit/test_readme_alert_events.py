"""The README's alert events are a contract: each example validates against the committed JSON Schema.

A consumer written only from that section relies on its examples, the id rule
and the episode rule; this holds them to the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from aiops.schemas import JSON_DIR, AlertV1, alert_id

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[dict]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Alert events (`aiops.alerts/v1`)", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", section, re.DOTALL)]


def test_every_example_validates_against_the_committed_schema():
    schema = json.loads((JSON_DIR / "aiops.alerts.v1.schema.json").read_text())
    events = examples()
    assert len(events) == 3
    for event in events:
        jsonschema.validate(event, schema)
        AlertV1.model_validate(event)


def test_the_id_rule_and_the_episode_rule_hold_for_the_examples():
    firing, resolved, anomaly = (AlertV1.model_validate(e) for e in examples())
    for alert in (firing, resolved, anomaly):
        assert alert.id == alert_id(alert.labels, alert.startsAt)
    assert (firing.id, firing.status, resolved.status) == (resolved.id, "firing", "resolved")
    assert resolved.endsAt is not None and firing.endsAt is None
    assert firing.labels["severity"] == "page" and anomaly.labels["alertname"] == "AnomalyDetected"
    assert "attribution" in anomaly.annotations
