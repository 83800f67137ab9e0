"""The forwarder against a real Alertmanager and a real broker: delivered, resolved, nothing lost while down."""

import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from confluent_kafka import Producer

from aiops.kafka_config import client_config
from aiops.schemas import AlertV1
from aiops.settings import Settings, env_var
from aiops.stack.alertmanager import alertmanager_component
from aiops.stack.process import Component, ManagedProcess
from aiops.topics import create_topics

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def settings(kafka_bootstrap, tmp_path, free_port):
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        stack_dir=tmp_path,
        alertmanager_port=free_port(),
        topic_alerts=f"aiops.alerts.{run}",
        topic_deadletter=f"aiops.deadletter.{run}",
        forwarder_group=f"forwarder-{run}",
        forwarder_max_backoff_s=1.0,
    )
    create_topics(settings)
    return settings


def forwarder(settings: Settings) -> ManagedProcess:
    env = {
        env_var(name): str(getattr(settings, name))
        for name in (
            "kafka_bootstrap_servers",
            "alertmanager_port",
            "topic_alerts",
            "topic_deadletter",
            "forwarder_group",
            "forwarder_max_backoff_s",
        )
    }
    component = Component(
        name="forwarder",
        command=[sys.executable, "-m", "aiops", "forward", "alertmanager"],
        ports={},
        healthy=lambda: True,
        env=env,
    )
    return ManagedProcess(component, settings)


def publish(settings: Settings, *alerts: AlertV1) -> None:
    producer = Producer(client_config(settings))
    for alert in alerts:
        producer.produce(
            settings.topic_alerts, key=alert.id.encode(), value=alert.model_dump_json(by_alias=True)
        )
    assert producer.flush(10) == 0


def active_alertnames(settings: Settings) -> set[str]:
    response = httpx.get(f"{settings.alertmanager_base_url}/api/v2/alerts", timeout=5)
    response.raise_for_status()
    return {
        alert["labels"]["alertname"]
        for alert in response.json()
        if alert["status"]["state"] == "active"
    }


def wait_for(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def alert(name: str) -> AlertV1:
    return AlertV1.firing(
        {"alertname": name, "severity": "page", "service": "demo", "slo": "availability"},
        {"summary": f"{name} burns"},
        START,
        "http://127.0.0.1:9090/graph",
    )


def test_alerts_reach_alertmanager_resolve_and_survive_outages(settings):
    alertmanager = ManagedProcess(alertmanager_component(settings), settings)
    worker = forwarder(settings)
    alertmanager.start()
    worker.start()
    try:
        first, second, third = alert("First"), alert("Second"), alert("Third")
        publish(settings, first)
        assert wait_for(lambda: active_alertnames(settings) == {"First"})
        labels = httpx.get(f"{settings.alertmanager_base_url}/api/v2/alerts").json()[0]["labels"]
        assert labels == first.labels

        alertmanager.stop()
        publish(settings, second, first.resolve(datetime.now(UTC)))
        assert wait_for(lambda: "retrying" in worker.log_path.read_text()), (
            "the forwarder should retry while down"
        )
        alertmanager.start()
        assert wait_for(lambda: active_alertnames(settings) == {"Second"}), (
            "an alert sent while down was lost"
        )

        worker.stop()
        publish(settings, third, second.resolve(datetime.now(UTC)))
        worker.start()
        assert wait_for(lambda: active_alertnames(settings) == {"Third"}), (
            "the restarted forwarder did not resume"
        )
    finally:
        worker.stop()
        alertmanager.stop()
    assert "Traceback" not in worker.log_path.read_text()
