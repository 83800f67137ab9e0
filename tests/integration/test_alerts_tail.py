"""`aiops alerts tail` against a real broker: filters, JSON lines, records that are not alerts."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer

from aiops.kafka_config import client_config
from aiops.schemas import AlertV1
from aiops.settings import Settings, env_var
from aiops.topics import create_topics

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def test_tail_filters_by_severity_and_service_and_skips_foreign_records(kafka_bootstrap):
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_alerts=f"aiops.alerts.{uuid.uuid4().hex[:8]}"
    )
    create_topics(settings)
    ticket = AlertV1.firing(
        {"alertname": "SLOBurnRate", "severity": "ticket", "service": "demo"}, {}, START, "u"
    )
    other = AlertV1.firing(
        {"alertname": "SLOBurnRate", "severity": "page", "service": "other"}, {}, START, "u"
    )
    page = AlertV1.firing(
        {"alertname": "SLOBurnRate", "severity": "page", "service": "demo"},
        {"summary": "burning"},
        START,
        "u",
    )
    producer = Producer(client_config(settings))
    page_key = page.id.encode()
    for key, value in (
        (b"t", ticket.model_dump_json(by_alias=True)),
        (page_key, '{"not": "an alert"}'),
        (b"o", other.model_dump_json(by_alias=True)),
        (page_key, page.model_dump_json(by_alias=True)),
        (page_key, page.resolve(START).model_dump_json(by_alias=True)),
    ):
        producer.produce(settings.topic_alerts, key=key, value=value.encode())
    assert producer.flush(10) == 0

    env = {
        env_var("kafka_bootstrap_servers"): kafka_bootstrap,
        env_var("topic_alerts"): settings.topic_alerts,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiops",
            "alerts",
            "tail",
            "--from-beginning",
            "--json",
            "--severity",
            "page",
            "--service",
            "demo",
            "--limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_environ(), **env},
    )
    assert result.returncode == 0, result.stderr
    events = [AlertV1.model_validate(json.loads(line)) for line in result.stdout.splitlines()]
    assert [(e.status, e.id) for e in events] == [("firing", page.id), ("resolved", page.id)]
    assert "is not an aiops.alerts/v1 event" in result.stderr


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
