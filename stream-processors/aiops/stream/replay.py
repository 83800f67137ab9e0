"""Reading a stretch of a partition again, beside the worker's consumer: the records a checkpoint misses.

An agent that stores, with its state, the newest offset the state covers
(detect's checkpoints, the SLI windows' offset marks) reads the records
between that offset and the first one its consumer hands it after a restart
with ``read_range``: the consumer's committed offset can be ahead of the
state, because Faust commits without waiting for the table's changelog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiops.kafka_config import client_config
from aiops.settings import Settings

__all__ = ["Record", "read_range"]


@dataclass(frozen=True)
class Record:
    """One record read again: where it is, its key and value bytes, and its timestamp in seconds."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None


def read_range(
    settings: Settings,
    topic: str,
    partition: int,
    start: int,
    end: int,
    *,
    group_id: str,
    timeout_s: float = 120.0,
) -> list[Record]:
    """The records of ``topic[partition]`` at offsets ``start`` to ``end - 1`` (blocking: run it in a thread).

    Offsets the topic no longer holds (retention) are skipped. Raises
    ``TimeoutError`` when the range is not read within ``timeout_s``: the
    caller must not go on as if it had seen it.
    """
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    records: list[Record] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout_s
        offset = start
        while offset < end:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}[{partition}]: read offsets {start} to {offset - 1} of {start} to "
                    f"{end - 1} in {timeout_s:.0f} s"
                )
            for message in consumer.consume(1000, timeout=1.0):
                if message.error():
                    continue
                offset = max(offset, message.offset() + 1)
                if message.offset() >= end:
                    continue
                kind, ms = message.timestamp()
                records.append(
                    Record(
                        topic,
                        partition,
                        message.offset(),
                        message.key(),
                        message.value(),
                        ms / 1000 if kind else None,
                    )
                )
    finally:
        consumer.close()
    return records
