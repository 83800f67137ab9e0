"""Follow a topic from the command line without disturbing the stream processors' offsets.

Used by ``aiops points tail``, ``aiops scores tail`` and ``aiops alerts tail``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException

from aiops.kafka_config import check_connection, client_config
from aiops.settings import Settings

__all__ = ["Record", "follow", "print_items"]


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
    connection log is silenced: the exception says it once); one that refuses
    the login or TLS raises ``KafkaRefused`` first (``check_connection``).
    """
    check_connection(settings, timeout_s=5.0)
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


def print_items(
    settings: Settings,
    topic: str,
    expand: Callable[[dict], list[dict]],
    line: Callable[[dict], str],
    *,
    keep: Callable[[dict], bool],
    from_beginning: bool,
    limit: int,
    as_json: bool,
    idle_timeout: float,
    what: str,
) -> None:
    """Print the items of ``topic``'s records (``expand`` of each), one line each, until ``limit`` or Ctrl-C.

    A batch record (points, scores) holds many items, each printed on its own
    line: ``line(item)`` for people, or the item as one JSON object. Kafka
    not answering, or ``idle_timeout`` seconds without an item, exits 1 with
    what to check.
    """
    import sys

    import typer

    from aiops.cli.output import console, fail

    shown = 0
    try:
        for record in follow(
            settings, topic, from_beginning=from_beginning, idle_timeout_s=idle_timeout or None
        ):
            for item in expand(record.value or {}):
                if not keep(item):
                    continue
                if as_json:
                    sys.stdout.write(json.dumps(item) + "\n")
                    sys.stdout.flush()
                else:
                    console.print(line(item), highlight=False, soft_wrap=True)
                shown += 1
                if limit and shown >= limit:
                    return
    except KafkaException as error:
        raise fail(
            f"Kafka at {settings.kafka_bootstrap_servers}: {error}; is the stack up (aiops stack status)?"
        ) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    if idle_timeout:
        raise fail(
            f"no {what} for {idle_timeout:.0f}s on {topic}; "
            "check aiops stack status and aiops stack logs worker"
        )
