"""Topic creation from the one declaration, against a real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from aiops.cli.tail import follow
from aiops.kafka_config import client_config, record_limits
from aiops.settings import Settings
from aiops.topics import (
    TopicMismatchError,
    TopicSpec,
    create_topics,
    project_topics,
    state_topics,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_bootstrap) -> Settings:
    return Settings(kafka_bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def admin(settings) -> AdminClient:
    return AdminClient(client_config(settings))


@pytest.fixture
def scratch_topics(admin) -> Iterator[list[str]]:
    """Unique topic names for one test; whichever of them exist are deleted afterwards."""
    run = uuid.uuid4().hex[:8]
    names = [f"aiops.test.{run}.{i}" for i in range(2)]
    yield names
    existing = [name for name in names if name in admin.list_topics(timeout=10).topics]
    for future in admin.delete_topics(existing, operation_timeout=30).values():
        future.result()


def _partitions(admin: AdminClient, topic: str) -> int:
    return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def _configs(admin: AdminClient, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: entry.value for name, entry in entries.items()}


def test_project_topics_exist_as_declared(settings, admin):
    for spec in project_topics(settings):
        assert _partitions(admin, spec.name) == settings.kafka_partitions, spec.name
        configs = _configs(admin, spec.name)
        assert configs["cleanup.policy"] == "delete", spec.name
        assert {key: configs[key] for key in spec.topic_config()} == spec.topic_config()
    limits = record_limits(settings)
    for spec in project_topics(settings):
        wanted = (
            limits.deadletter_bytes
            if spec.name == settings.topic_deadletter
            else limits.topic_bytes
        )
        assert _configs(admin, spec.name)["max.message.bytes"] == str(wanted), spec.name


@pytest.mark.parametrize("record_bytes", [Settings().max_record_bytes, 3 * 1024 * 1024])
def test_a_record_at_the_limit_goes_through_and_a_larger_one_is_refused(
    worker_settings, record_bytes
):
    """At the default and at 3 MiB, well above the broker's default message.max.bytes (1 MiB),
    so the topics' own limit decides; a record value of ``max_record_bytes`` always fits."""
    settings = worker_settings(max_record_bytes=record_bytes)
    limits = record_limits(settings)
    state = {t.name: t.topic_config() for t in state_topics(settings)}
    assert state[f"{settings.faust_app_id}-sli-state-changelog"]["max.message.bytes"] == str(
        limits.topic_bytes
    )
    outcomes = {}

    def delivered(error, message):
        outcomes[(message.topic(), len(message.value()))] = error

    producer = Producer(client_config(settings))
    fits, too_big = limits.record_bytes, limits.topic_bytes + 1024
    dead_letter = limits.deadletter_bytes - 1024
    key = b"k" * 200
    producer.produce(settings.topic_points, key=key, value=b"p" * fits, on_delivery=delivered)
    producer.produce(settings.topic_points, key=key, value=b"p" * too_big, on_delivery=delivered)
    producer.produce(settings.topic_deadletter, value=b"d" * dead_letter, on_delivery=delivered)
    assert producer.flush(30) == 0

    assert outcomes[(settings.topic_points, fits)] is None
    assert outcomes[(settings.topic_deadletter, dead_letter)] is None
    refused = outcomes[(settings.topic_points, too_big)]
    assert refused is not None and refused.code() == KafkaError.MSG_SIZE_TOO_LARGE
    records = list(follow(settings, settings.topic_points, from_beginning=True, idle_timeout_s=5))
    assert len(records) == 1, "the record at the limit can be read back with the same client config"


def test_creating_again_creates_nothing(settings):
    assert create_topics(settings) == []


def test_an_extra_compacted_topic_is_co_partitioned(settings, admin, scratch_topics):
    changelog = scratch_topics[0]
    assert create_topics(settings, extra=[TopicSpec(changelog, compacted=True)]) == [changelog]
    assert _partitions(admin, changelog) == settings.kafka_partitions
    assert _configs(admin, changelog)["cleanup.policy"] == "compact"


def test_a_partition_mismatch_is_a_clear_error_and_creates_nothing(settings, admin, scratch_topics):
    existing, new = scratch_topics
    create_topics(settings, extra=[TopicSpec(existing, partitions=1)])

    with pytest.raises(TopicMismatchError) as error:
        create_topics(settings, extra=[TopicSpec(new), TopicSpec(existing)])

    message = str(error.value)
    assert f"topic {existing!r} has 1 partitions" in message
    assert f"declared with {settings.kafka_partitions}" in message
    assert "AIOPS_KAFKA_PARTITIONS=1" in message and "delete it" in message
    assert new not in admin.list_topics(timeout=10).topics
