"""Follow a topic from the command line without disturbing the stream processors' offsets.

Used by ``aiops points tail`` and ``aiops alerts tail``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException

from aiops.kafka_config import client_config
from aiops.settings import Settings

__all__ = ["Record", "follow"]


@dataclass(frozen=True)
class Record:
    """One consumed record with its JSON value decoded (or None when it is not JSON)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict | None


def follow(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout_s: float | None = None,
    group: str | None = None,
    keep: Callable[[Record], bool] = lambda record: True,
) -> Iterator[Record]:
    """Yield the records of ``topic`` as they arrive; stop after ``idle_timeout_s`` of silence if given.

    With ``group`` the consumer joins that group and commits, so the next run
    resumes where this one stopped; without, it commits nothing. A broker that
    does not answer raises ``KafkaException`` within seconds (librdkafka's own
    connection log is silenced: the exception says it once).
    """
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": group or f"aiops-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": group is not None,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "log_level": 0,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=5)
        if metadata.topics[topic].error is not None:
            raise KafkaException(metadata.topics[topic].error)
        consumer.subscribe([topic])
        idle = 0.0
        while idle_timeout_s is None or idle < idle_timeout_s:
            message = consumer.poll(0.5)
            if message is None:
                idle += 0.5
                continue
            if message.error():
                raise KafkaException(message.error())
            idle = 0.0
            record = Record(
                message.topic(),
                message.partition(),
                message.offset(),
                message.key().decode(errors="replace") if message.key() else None,
                _json(message.value()),
            )
            if keep(record):
                yield record
    finally:
        consumer.close()


def _json(value: bytes | None) -> dict | None:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None
