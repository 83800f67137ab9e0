"""The local Kafka launcher on a real broker: restarts keep data, busy ports name their setting."""

from __future__ import annotations

import socket

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from aiops.kafka_config import client_config
from aiops.settings import Settings, env_var
from aiops.stack.kafka import broker_answers, ensure_kafka_jars, kafka_component, local_kafka
from aiops.stack.process import ManagedProcess, PortInUseError
from aiops.topics import create_topics

pytestmark = pytest.mark.integration


def _cluster_id(settings: Settings) -> str:
    meta = (settings.stack_dir / "kafka" / "data" / "meta.properties").read_text()
    return next(
        line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id=")
    )


def _produce_one(settings: Settings, topic: str) -> None:
    """Produce one record; the producer is gone when the broker stops, so it cannot log."""
    producer = Producer(client_config(settings))
    producer.produce(topic, key=b"HighBurnRate", value=b'{"status": "firing"}')
    assert producer.flush(10) == 0


def _records_in(settings: Settings, topic: str) -> int:
    consumer = Consumer({**client_config(settings), "group.id": "aiops-test-watermarks"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            high - low
            for low, high in (
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in partitions
            )
        )
    finally:
        consumer.close()


def test_the_broker_keeps_its_topics_and_records_across_a_restart(isolated_kafka_settings):
    settings = isolated_kafka_settings
    with local_kafka(settings):
        assert settings.topic_alerts in create_topics(settings)
        _produce_one(settings, settings.topic_alerts)
    assert not broker_answers(settings.kafka_bootstrap_servers)
    cluster_id = _cluster_id(settings)

    with local_kafka(settings):
        assert create_topics(settings) == []
        assert _records_in(settings, settings.topic_alerts) == 1
    assert _cluster_id(settings) == cluster_id


@pytest.mark.parametrize("port_field", ["kafka_port", "kafka_controller_port"])
def test_a_busy_port_names_the_variable_that_moves_it(isolated_kafka_settings, port_field):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings = isolated_kafka_settings.model_copy(
            update={port_field: squatter.getsockname()[1]}
        )
        broker = ManagedProcess(kafka_component(settings), settings)
        with pytest.raises(PortInUseError, match=env_var(port_field)):
            broker.start()
    assert broker.pid is None


def test_cached_jars_need_no_maven(monkeypatch):
    settings = Settings()
    classpath = ensure_kafka_jars(settings)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ensure_kafka_jars(settings) == classpath
    assert "kafka_2.13-" in classpath and "log4j-slf4j-impl-" in classpath
