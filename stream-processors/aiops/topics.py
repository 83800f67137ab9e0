"""The Kafka topics the project owns, declared once, and their idempotent creation.

Names come from the settings; every topic has ``settings.kafka_partitions``
partitions because Faust tables must be co-partitioned with the stream that
feeds them. ``project_topics`` are the streams the project owns;
``state_topics`` are the Faust tables' changelogs, the SLI agent's
repartition topic and Faust's leader topic, named here so they can be created
up front with matching partitions. Any other topic joins through ``extra``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from aiops.kafka_config import client_config, record_limits
from aiops.settings import Settings, env_var

__all__ = [
    "DECODE_STATE_TABLE",
    "DETECT_STATE_TABLE",
    "SLI_STATE_TABLE",
    "TopicMismatchError",
    "TopicSpec",
    "changelog_topic",
    "create_topics",
    "end_offsets",
    "group_lag",
    "project_topics",
    "retention",
    "sli_events_topic",
    "state_topics",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

DECODE_STATE_TABLE = "decode-state"
"""The decode agent's table: each stream's last cumulative point."""
SLI_STATE_TABLE = "sli-state"
"""The SLI agent's table: event-time windows per SLO and group."""
DETECT_STATE_TABLE = "detect-state"
"""The detect agent's table: detector checkpoints, alert states and export groups."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the project wants it.

    ``partitions`` and ``replication_factor`` default to the settings, so that
    every topic is co-partitioned unless it says otherwise. A ``compacted``
    topic (a Faust table's changelog) keeps the latest record per key instead
    of deleting by age; ``config`` adds or overrides topic-level settings.

    >>> TopicSpec("aiops-decode-state-changelog", compacted=True).topic_config()
    {'cleanup.policy': 'compact'}
    """

    name: str
    partitions: int | None = None
    replication_factor: int | None = None
    config: Mapping[str, str] = field(default_factory=dict)
    compacted: bool = False

    def topic_config(self) -> dict[str, str]:
        """The topic-level configuration Kafka receives."""
        return ({"cleanup.policy": "compact"} if self.compacted else {}) | dict(self.config)


class TopicMismatchError(RuntimeError):
    """An existing topic differs from its declaration in a way Kafka cannot fix in place."""


def retention(retention_ms: int) -> dict[str, str]:
    """Config of a stream topic that deletes records older than ``retention_ms``.

    Kafka deletes whole closed segments only, so a segment is rolled every
    quarter of the retention (at most daily); otherwise a topic with a short
    retention would keep up to a week, the default segment age, on disk.

    >>> retention(6 * HOUR_MS)
    {'cleanup.policy': 'delete', 'retention.ms': '21600000', 'segment.ms': '5400000'}
    """
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(retention_ms),
        "segment.ms": str(min(retention_ms // 4, DAY_MS)),
    }


def project_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """Every topic the project owns, in pipeline order.

    Raw OTLP is large and decoded within seconds, so it is kept for hours;
    derived streams for a day (replays, restarts); dead letters for a week,
    so someone can look at them; alerts for a month, because they are few
    and their consumers may be away for days.

    >>> [(t.name, int(t.config["retention.ms"]) // HOUR_MS) for t in project_topics(Settings())]
    [('otlp_metrics', 6), ('otlp_spans', 6), ('aiops.points', 24), ('aiops.sli', 24),
     ('aiops.scores', 24), ('aiops.alerts', 720), ('aiops.deadletter', 168)]
    """
    limits = record_limits(settings)
    size = {"max.message.bytes": str(limits.topic_bytes)}

    def stream(retention_ms: int) -> dict[str, str]:
        return retention(retention_ms) | size

    deadletter = retention(7 * DAY_MS) | {"max.message.bytes": str(limits.deadletter_bytes)}
    return (
        TopicSpec(settings.topic_otlp_metrics, config=stream(6 * HOUR_MS)),
        TopicSpec(settings.topic_otlp_spans, config=stream(6 * HOUR_MS)),
        TopicSpec(settings.topic_points, config=stream(DAY_MS)),
        TopicSpec(settings.topic_sli, config=stream(DAY_MS)),
        TopicSpec(settings.topic_scores, config=stream(DAY_MS)),
        TopicSpec(settings.topic_alerts, config=stream(30 * DAY_MS)),
        TopicSpec(settings.topic_deadletter, config=deadletter),
    )


def changelog_topic(settings: Settings, table: str) -> str:
    """The name Faust gives a table's changelog topic, so it can be created up front.

    >>> changelog_topic(Settings(), DECODE_STATE_TABLE)
    'aiops-decode-state-changelog'
    """
    return f"{settings.faust_app_id}-{table}-changelog"


def sli_events_topic(settings: Settings) -> str:
    """The intermediate topic that repartitions SLO events by ``<slo id>|<group>``.

    >>> sli_events_topic(Settings())
    'aiops-sli-events-repartition'
    """
    return f"{settings.faust_app_id}-sli-events-repartition"


def state_topics(settings: Settings) -> list[TopicSpec]:
    """The Faust changelog and repartition topics, created up front so their partitions match their sources.

    They take records as large as the streams' (``record_limits``), like the project's topics.

    >>> [t.name for t in state_topics(Settings())]  # doctest: +NORMALIZE_WHITESPACE
    ['aiops-decode-state-changelog', 'aiops-sli-state-changelog', 'aiops-detect-state-changelog',
     'aiops-__assignor-__leader', 'aiops-sli-events-repartition']
    """
    size = {"max.message.bytes": str(record_limits(settings).topic_bytes)}
    return [
        TopicSpec(changelog_topic(settings, DECODE_STATE_TABLE), config=size, compacted=True),
        TopicSpec(changelog_topic(settings, SLI_STATE_TABLE), config=size, compacted=True),
        TopicSpec(changelog_topic(settings, DETECT_STATE_TABLE), config=size, compacted=True),
        # Faust's leader-election topic; missing, every worker start logs an ERROR for it
        TopicSpec(f"{settings.faust_app_id}-__assignor-__leader", partitions=1),
        TopicSpec(sli_events_topic(settings), config=retention(DAY_MS) | size),
    ]


def create_topics(
    settings: Settings, extra: Iterable[TopicSpec] = (), timeout_s: float = 30.0
) -> list[str]:
    """Create the project's topics and ``extra`` where missing; return the names created.

    Existing topics are left as they are, so running it again is harmless. An
    existing topic with another partition count raises ``TopicMismatchError``
    before anything is created: adding partitions would move keys to other
    partitions and break co-partitioned state, so a person has to decide.
    """
    specs = [*project_topics(settings), *extra]
    names = [spec.name for spec in specs]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"topics declared more than once: {', '.join(duplicates)}")

    admin = AdminClient(client_config(settings))
    existing = _partition_counts(admin, timeout_s)
    for spec in specs:
        wanted = spec.partitions or settings.kafka_partitions
        if spec.name in existing and existing[spec.name] != wanted:
            raise TopicMismatchError(_mismatch_message(spec, wanted, existing[spec.name]))

    missing = [spec for spec in specs if spec.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                spec.partitions or settings.kafka_partitions,
                spec.replication_factor or settings.kafka_replication_factor,
                config=spec.topic_config(),
            )
            for spec in missing
        ],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created = [spec.name for spec in missing if _created(futures[spec.name])]
    _wait_visible(admin, created, timeout_s)
    return created


def _partition_counts(admin: AdminClient, timeout_s: float) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout_s)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def _created(future) -> bool:
    """True when this call created the topic, False when someone else just did."""
    try:
        future.result()
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise
    return True


def _wait_visible(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Wait until the broker's metadata lists the new topics, so callers can use them at once."""
    deadline = time.monotonic() + timeout_s
    while not set(names) <= _partition_counts(admin, timeout_s).keys():
        if time.monotonic() > deadline:
            raise TimeoutError(f"created topics not visible after {timeout_s:.0f}s: {names}")
        time.sleep(0.1)


def _mismatch_message(spec: TopicSpec, wanted: int, existing: int) -> str:
    """What is wrong with a topic and the two ways out.

    >>> print(_mismatch_message(TopicSpec("aiops.points"), wanted=3, existing=6))
    topic 'aiops.points' has 6 partitions but is declared with 3; Kafka cannot change that
    without moving keys between partitions. Either keep the topic as it is and set
    AIOPS_KAFKA_PARTITIONS=6, or delete it (its records are lost) and run again to recreate
    it with 3 partitions.
    """
    keep = (
        f"set {env_var('kafka_partitions')}={existing}"
        if spec.partitions is None
        else f"declare it with {existing} partitions"
    )
    return (
        f"topic {spec.name!r} has {existing} partitions but is declared with {wanted}; "
        f"Kafka cannot change that without moving keys between partitions. Either keep the "
        f"topic as it is and {keep}, or delete it (its records are lost) and run again to "
        f"recreate it with {wanted} partitions."
    )


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """Where each partition of ``topic`` ends now (its high watermark)."""
    partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
        for p in partitions
    }


def group_lag(settings: Settings, group: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """Records ``group``'s committed offsets are behind the end of each partition of ``topics``.

    A partition the group never committed on counts from its start.
    """
    consumer = Consumer(
        {**client_config(settings), "group.id": f"aiops-lag-{uuid.uuid4().hex[:8]}", "log_level": 0}
    )
    try:
        ends = {
            TopicPartition(topic, p): end
            for topic in topics
            for p, end in end_offsets(consumer, topic).items()
        }
    finally:
        consumer.close()
    admin = AdminClient({**client_config(settings), "log_level": 0})
    request = ConsumerGroupTopicPartitions(group, list(ends))
    listed = admin.list_consumer_group_offsets([request])[group].result(timeout=10).topic_partitions
    committed = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in listed}
    return {
        (tp.topic, tp.partition): end - committed.get((tp.topic, tp.partition), 0)
        for tp, end in ends.items()
    }
