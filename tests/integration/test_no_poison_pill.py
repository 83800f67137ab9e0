"""No poison pill, on a real broker: what the worker cannot read is dead-lettered and its partition moves on.

Two layers: a record batch whose bytes were corrupted on the broker's disk
(the fetcher cannot read it: bad CRC) and points records that no consumer can
read (not JSON, not an object, not a points record). The worker stays alive,
each goes to the dead-letter topic with its topic, partition, offset, reason
and bytes (the batch's as the broker sent them), the records after them are
processed, and the committed offsets pass them.
"""

import base64
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_of
from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1
from aiops.settings import Settings
from aiops.stack.kafka import local_kafka
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from aiops.topics import create_topics, state_topics
from integration.test_decode_agent import SECOND, START, counter_payload

pytestmark = pytest.mark.integration

POISON_POINTS = (b"{not json", b"[1, 2]", b'{"schema": "aiops.points/v2", "resource": 7}')


@pytest.fixture
def broker(isolated_kafka_settings, free_port):
    """A broker of the test's own, so the test can reach its log files; settings for a worker on it."""
    with local_kafka(isolated_kafka_settings):
        run = uuid.uuid4().hex[:8]
        settings = isolated_kafka_settings.model_copy(
            update={
                "faust_app_id": f"aiops-test-{run}",
                "faust_web_port": free_port(),
                "kafka_partitions": 1,
                "worker_stall_s": 5.0,
            }
        )
        create_topics(settings, extra=state_topics(settings))
        yield settings


def produce(settings: Settings, topic: str, value: bytes) -> int:
    """Produce one record to partition 0 of ``topic`` (one batch of its own); its offset."""
    producer = Producer(client_config(settings))
    offsets = []
    producer.produce(
        topic,
        value=value,
        key=b"k",
        partition=0,
        on_delivery=lambda e, m: offsets.append(m.offset()),
    )
    assert producer.flush(10) == 0
    return offsets[0]


def corrupt(settings: Settings, topic: str, marker: bytes) -> None:
    """Flip one byte of ``marker`` in the broker's log of partition 0 of ``topic``: the batch's CRC no longer holds."""
    log = next((settings.stack_dir / "kafka" / "data" / f"{topic}-0").glob("*.log"))
    data = log.read_bytes()
    at = data.index(marker)
    with log.open("r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0xFF]))


def committed(settings: Settings, topic: str) -> int:
    consumer = Consumer({**client_config(settings), "group.id": settings.faust_app_id})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    return tp.offset


def read(settings: Settings, topic: str, count: int, skip: tuple[int, ...] = ()) -> list[dict]:
    """The JSON values of the first ``count`` records of ``topic``'s partitions, but those at offsets ``skip``."""
    records = []
    keep = lambda record: record.offset not in skip
    for record in follow(settings, topic, from_beginning=True, idle_timeout_s=60, keep=keep):
        records.append(record.value)
        if len(records) >= count:
            break
    return records


@pytest.mark.timeout(240)
def test_unreadable_batches_and_records_are_dead_lettered_and_partitions_move_on(broker):
    settings = broker
    marker = b"corrupt-me-" + uuid.uuid4().hex.encode()
    bad_batch = produce(settings, settings.topic_otlp_metrics, marker * 4)
    corrupt(settings, settings.topic_otlp_metrics, marker)
    good_payload = produce(
        settings, settings.topic_otlp_metrics, counter_payload(5, START + SECOND)
    )
    bad_points = [produce(settings, settings.topic_points, value) for value in POISON_POINTS]

    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        dead: list[DeadLetterV1] = []
        for record in follow(
            settings, settings.topic_deadletter, from_beginning=True, idle_timeout_s=60
        ):
            dead.append(DeadLetterV1.model_validate(record.value))
            stages = [d.stage for d in dead]
            if stages.count("fetch") >= 1 and stages.count("detect") >= len(POISON_POINTS):
                break
        fetch = next(d for d in dead if d.stage == "fetch")
        assert (fetch.kind, fetch.source.topic, fetch.source.offset) == (
            "unreadable_batch",
            settings.topic_otlp_metrics,
            bad_batch,
        )
        assert "CorruptRecordException" in fetch.reason
        assert marker in base64.b64decode(fetch.payload_base64), "the batch's bytes are kept"
        detect = sorted((d for d in dead if d.stage == "detect"), key=lambda d: d.source.offset)
        assert [(d.source.topic, d.source.partition, d.source.offset) for d in detect] == [
            (settings.topic_points, 0, offset) for offset in bad_points
        ]
        assert [base64.b64decode(d.payload_base64) for d in detect] == list(POISON_POINTS)
        # refused at the door (check_points) before any processing: none reaches the agent's error guard
        assert all(d.kind == "bad_points_record" for d in detect), [d.kind for d in detect]

        (decoded,) = read(settings, settings.topic_points, 1, skip=tuple(bad_points))
        assert [p["value"] for p in points_of(decoded)] == [5.0], (
            "the payload after the unreadable batch is decoded"
        )

        deadline = time.monotonic() + 30
        while (
            committed(settings, settings.topic_otlp_metrics) <= good_payload
            or committed(settings, settings.topic_points) <= bad_points[-1]
        ):
            assert time.monotonic() < deadline, "the committed offsets must pass the poison"
            time.sleep(1)
        answer = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/health", timeout=2)
        assert answer.status_code == 200, answer.text
        assert worker.pid is not None
    finally:
        worker.stop()
    assert "restarting" not in Path(worker.log_path).read_text(), "the worker never exited"
