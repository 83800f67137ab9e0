"""``aiops doctor``: check a running stack end to end and say what is wrong and how to fix it.

Each check is a function of the settings that returns a ``Check``: whether it
passed, what it saw, and the fix to try when it did not. The checks run in
dependency order; when Kafka does not answer, the Kafka-based ones are skipped.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from aiops.kafka_config import client_config
from aiops.settings import Settings, env_var
from aiops.stack.local import state_topics
from aiops.stack.process import http_ok
from aiops.topics import project_topics

__all__ = ["Check", "run_checks"]

MAX_LAG = 1000
"""Records the decode agent may be behind on the OTLP topic before the doctor complains."""


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``fix`` says what to try when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings, flow_window_s: float = 10.0) -> Iterator[Check]:
    """Every check, in order; Kafka's own checks only when the broker answers."""
    kafka = _kafka_reachable(settings)
    yield kafka
    if kafka.ok:
        yield _topics_present(settings)
    yield _http_check("collector", f"http://127.0.0.1:{settings.collector_health_port}/",
                      "aiops stack logs collector")
    yield _http_check("worker", f"http://127.0.0.1:{settings.faust_web_port}/metrics",
                      "aiops stack logs worker")
    yield _http_check("alertmanager", f"http://127.0.0.1:{settings.alertmanager_port}/-/ready",
                      "aiops stack logs alertmanager")
    prometheus = _http_check("prometheus", f"http://127.0.0.1:{settings.prometheus_port}/-/ready",
                             "aiops stack logs prometheus")
    yield prometheus
    if prometheus.ok:
        yield _scrape_targets_up(settings)
    if kafka.ok:
        yield _points_flowing(settings, flow_window_s)
        yield _decode_lag(settings)


def _kafka_reachable(settings: Settings) -> Check:
    try:
        AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
    except KafkaException as error:
        return Check("kafka", False, f"{settings.kafka_bootstrap_servers} does not answer: {error.args[0]}",
                     f"start it (aiops stack up) or point {env_var('kafka_bootstrap_servers')} at your brokers")
    return Check("kafka", True, f"{settings.kafka_bootstrap_servers} answers")


def _topics_present(settings: Settings) -> Check:
    metadata = AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
    wanted = [*project_topics(settings), *state_topics(settings)]
    missing = [spec.name for spec in wanted if spec.name not in metadata.topics]
    wrong = [f"{spec.name} has {len(metadata.topics[spec.name].partitions)} partitions, want "
             f"{spec.partitions or settings.kafka_partitions}"
             for spec in wanted if spec.name in metadata.topics
             and len(metadata.topics[spec.name].partitions) != (spec.partitions or settings.kafka_partitions)]
    if missing or wrong:
        return Check("topics", False, "; ".join([*(f"{name} is missing" for name in missing), *wrong]),
                     "aiops topics create (it says how to fix a partition mismatch)")
    return Check("topics", True, f"all {len(wanted)} present with their partitions")


def _http_check(name: str, url: str, fix: str) -> Check:
    if http_ok(url, timeout_s=2.0):
        return Check(name, True, f"{url} answers")
    return Check(name, False, f"{url} does not answer", f"aiops stack status; {fix}")


def _scrape_targets_up(settings: Settings) -> Check:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode({"query": "up"})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            results = json.load(response)["data"]["result"]
    except (OSError, ValueError, KeyError) as error:
        return Check("scrapes", False, f"Prometheus query failed: {error}", "aiops stack logs prometheus")
    down = sorted(r["metric"].get("job", "?") for r in results if r["value"][1] != "1")
    if not results:
        return Check("scrapes", False, "Prometheus has no targets yet", "wait a scrape interval, then run again")
    if down:
        return Check("scrapes", False, f"targets down: {', '.join(down)}",
                     f"http://127.0.0.1:{settings.prometheus_port}/targets says why")
    return Check("scrapes", True, f"{len(results)} targets up")


def _end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in partitions}


def _points_flowing(settings: Settings, window_s: float) -> Check:
    consumer = Consumer({**client_config(settings), "group.id": f"aiops-doctor-{uuid.uuid4().hex[:8]}",
                         "log_level": 0})
    try:
        before = sum(_end_offsets(consumer, settings.topic_points).values())
        time.sleep(window_s)
        after = sum(_end_offsets(consumer, settings.topic_points).values())
    finally:
        consumer.close()
    if after > before:
        return Check("points", True, f"{(after - before) / window_s:.1f} points/s on {settings.topic_points}")
    return Check("points", False, f"no new point on {settings.topic_points} in {window_s:.0f}s",
                 "is anything sending OTLP to the collector (aiops stack logs load)? is the worker up?")


def _decode_lag(settings: Settings) -> Check:
    topic = settings.topic_otlp_metrics
    consumer = Consumer({**client_config(settings), "group.id": f"aiops-doctor-{uuid.uuid4().hex[:8]}",
                         "log_level": 0})
    try:
        ends = _end_offsets(consumer, topic)
    finally:
        consumer.close()
    admin = AdminClient({**client_config(settings), "log_level": 0})
    request = ConsumerGroupTopicPartitions(settings.faust_app_id, [TopicPartition(topic, p) for p in ends])
    future = admin.list_consumer_group_offsets([request])[settings.faust_app_id]
    committed = {tp.partition: max(tp.offset, 0) for tp in future.result(timeout=10).topic_partitions}
    lag = {p: end - committed.get(p, 0) for p, end in ends.items()}
    worst = max(lag.values(), default=0)
    detail = ", ".join(f"p{p}: {n}" for p, n in sorted(lag.items()))
    if worst > MAX_LAG:
        return Check("lag", False, f"decode agent is behind on {topic}: {detail}",
                     "aiops stack logs worker; more partitions and workers if it stays behind")
    return Check("lag", True, f"decode agent lag on {topic}: {detail}")
