"""``aiops doctor``: check a running stack end to end and say what is wrong and how to fix it.

Each check is a function of the settings that returns a ``Check``: whether it
passed, what it saw, and the fix to try when it did not. The checks run in
dependency order; when Kafka does not answer, the Kafka-based ones are skipped,
and when Prometheus does not, the ones that query it.

What they cover: each component answers (Kafka, collector, worker,
Alertmanager, Prometheus, the demo service), every topic is there with its
partitions, Prometheus scrapes every target, the collector delivers to Kafka
without refusing or failing, OTLP arrives on the metrics topic and decoded
points leave on the points topic, and every consumer group (the worker's, the
forwarder's) is at most ``MAX_LAG`` records behind on each topic it reads.
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
from aiops.stream.sli_agent import sli_events_topic
from aiops.topics import project_topics

__all__ = ["Check", "run_checks"]

MAX_LAG = 1000
"""Records a consumer group may be behind on any partition it reads before the doctor complains."""

COLLECTOR_TROUBLE_WINDOW = "2m"
"""How far back the collector check looks for refused data and failed exports to Kafka."""


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``fix`` says what to try when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings, flow_window_s: float = 10.0) -> Iterator[Check]:
    """Every check, in order; Kafka's own checks only when the broker answers, Prometheus's only when it does."""
    kafka = _kafka_reachable(settings)
    yield kafka
    if kafka.ok:
        yield _topics_present(settings)
    yield _http_check(
        "collector",
        f"http://127.0.0.1:{settings.collector_health_port}/",
        "aiops stack logs collector",
    )
    yield _http_check(
        "worker", f"http://127.0.0.1:{settings.faust_web_port}/metrics", "aiops stack logs worker"
    )
    yield _http_check(
        "alertmanager",
        f"http://127.0.0.1:{settings.alertmanager_port}/-/ready",
        "aiops stack logs alertmanager",
    )
    yield _http_check(
        "demo",
        f"{settings.demo_url}/health",
        "aiops stack logs demo (only the local stack runs the demo service)",
    )
    prometheus = _http_check(
        "prometheus",
        f"http://127.0.0.1:{settings.prometheus_port}/-/ready",
        "aiops stack logs prometheus",
    )
    yield prometheus
    if prometheus.ok:
        yield _scrape_targets_up(settings)
        yield _collector_delivers(settings)
    if kafka.ok:
        yield from _flowing(settings, flow_window_s)
        yield _group_lag(
            settings,
            "lag",
            settings.faust_app_id,
            [settings.topic_otlp_metrics, settings.topic_points, sli_events_topic(settings)],
            "aiops stack logs worker; more partitions and workers if it stays behind",
        )
        yield _group_lag(
            settings,
            "forward lag",
            settings.forwarder_group,
            [settings.topic_alerts],
            "aiops stack logs forwarder; is Alertmanager up (aiops stack status)?",
        )


def _kafka_reachable(settings: Settings) -> Check:
    try:
        AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
    except KafkaException as error:
        return Check(
            "kafka",
            False,
            f"{settings.kafka_bootstrap_servers} does not answer: {error.args[0]}",
            f"start it (aiops stack up) or point {env_var('kafka_bootstrap_servers')} at your brokers",
        )
    return Check("kafka", True, f"{settings.kafka_bootstrap_servers} answers")


def _topics_present(settings: Settings) -> Check:
    metadata = AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
    wanted = [*project_topics(settings), *state_topics(settings)]
    missing = [spec.name for spec in wanted if spec.name not in metadata.topics]
    wrong = [
        f"{spec.name} has {len(metadata.topics[spec.name].partitions)} partitions, want "
        f"{spec.partitions or settings.kafka_partitions}"
        for spec in wanted
        if spec.name in metadata.topics
        and len(metadata.topics[spec.name].partitions)
        != (spec.partitions or settings.kafka_partitions)
    ]
    if missing or wrong:
        return Check(
            "topics",
            False,
            "; ".join([*(f"{name} is missing" for name in missing), *wrong]),
            "aiops topics create (it says how to fix a partition mismatch)",
        )
    return Check("topics", True, f"all {len(wanted)} present with their partitions")


def _http_check(name: str, url: str, fix: str) -> Check:
    if http_ok(url, timeout_s=2.0):
        return Check(name, True, f"{url} answers")
    return Check(name, False, f"{url} does not answer", f"aiops stack status; {fix}")


def _query(settings: Settings, expr: str) -> list[dict]:
    """An instant query's result vector (raises ``OSError``, ``ValueError`` or ``KeyError`` when it fails)."""
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expr}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]


def _scrape_targets_up(settings: Settings) -> Check:
    try:
        results = _query(settings, "up")
    except (OSError, ValueError, KeyError) as error:
        return Check(
            "scrapes", False, f"Prometheus query failed: {error}", "aiops stack logs prometheus"
        )
    down = sorted(r["metric"].get("job", "?") for r in results if r["value"][1] != "1")
    if not results:
        return Check(
            "scrapes",
            False,
            "Prometheus has no targets yet",
            "wait a scrape interval, then run again",
        )
    if down:
        return Check(
            "scrapes",
            False,
            f"targets down: {', '.join(down)}",
            f"http://127.0.0.1:{settings.prometheus_port}/targets says why",
        )
    return Check("scrapes", True, f"{len(results)} targets up")


def _collector_delivers(settings: Settings) -> Check:
    """The collector neither refused data nor failed an export to Kafka lately (Tempo is best effort: not checked)."""
    window = COLLECTOR_TROUBLE_WINDOW
    counters = {
        "refused by its receivers": [
            "otelcol_receiver_refused_metric_points",
            "otelcol_receiver_refused_spans",
        ],
        "failed to reach Kafka": [
            'otelcol_exporter_send_failed_metric_points{exporter="kafka"}',
            'otelcol_exporter_send_failed_spans{exporter="kafka"}',
        ],
    }
    try:
        troubles = {
            what: sum(
                float(r["value"][1])
                for metric in metrics
                for r in _query(settings, f"sum(increase({metric}[{window}]))")
            )
            for what, metrics in counters.items()
        }
        seen = _query(settings, "otelcol_receiver_accepted_metric_points")
    except (OSError, ValueError, KeyError) as error:
        return Check(
            "exports", False, f"Prometheus query failed: {error}", "aiops stack logs prometheus"
        )
    if not seen:
        return Check(
            "exports",
            False,
            "Prometheus has none of the collector's own metrics",
            "is the collector up (aiops stack status)? Then check the otel-collector-self scrape job "
            f"and the collector's telemetry port ({env_var('collector_telemetry_port')})",
        )
    bad = {what: n for what, n in troubles.items() if n > 0}
    if bad:
        return Check(
            "exports",
            False,
            "; ".join(f"{n:.0f} items {what} in the last {window}" for what, n in bad.items()),
            "aiops stack logs collector (refused: its memory limiter, raise "
            "AIOPS_COLLECTOR_MEMORY_LIMIT_MIB in its environment; failed: can it reach Kafka?)",
        )
    return Check(
        "exports",
        True,
        f"collector: nothing refused, no failed export to Kafka in the last {window}",
    )


def _end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
        for p in partitions
    }


def _flowing(settings: Settings, window_s: float) -> Iterator[Check]:
    """New OTLP payloads on the metrics topic (collector → Kafka), then new points (decode), then scores (detect)."""
    topics = (settings.topic_otlp_metrics, settings.topic_points, settings.topic_scores)
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"aiops-doctor-{uuid.uuid4().hex[:8]}",
            "log_level": 0,
        }
    )
    try:
        before = {topic: sum(_end_offsets(consumer, topic).values()) for topic in topics}
        time.sleep(window_s)
        added = {
            topic: sum(_end_offsets(consumer, topic).values()) - before[topic] for topic in topics
        }
    finally:
        consumer.close()
    otlp, points, scores = (added[topic] for topic in topics)
    if otlp > 0:
        yield Check(
            "otlp", True, f"{otlp / window_s:.1f} payloads/s on {settings.topic_otlp_metrics}"
        )
    else:
        yield Check(
            "otlp",
            False,
            f"no new payload on {settings.topic_otlp_metrics} in {window_s:.0f}s",
            "is anything sending OTLP to the collector (aiops stack logs load)? "
            "aiops stack logs collector: can it reach Kafka?",
        )
    if points > 0:
        yield Check("points", True, f"{points / window_s:.1f} points/s on {settings.topic_points}")
    else:
        yield Check(
            "points",
            False,
            f"no new point on {settings.topic_points} in {window_s:.0f}s",
            "is the worker up and decoding (aiops stack logs worker)?"
            if otlp > 0
            else "nothing to decode: fix the otlp check first",
        )
    if scores > 0:
        yield Check("scores", True, f"{scores / window_s:.1f} scores/s on {settings.topic_scores}")
    else:
        yield Check(
            "scores",
            False,
            f"no new score on {settings.topic_scores} in {window_s:.0f}s",
            "aiops stack logs worker: is the detect agent running, or at AIOPS_DETECT_MAX_SERIES "
            '(aiops_detect_points_total{outcome="skipped"})?'
            if points > 0
            else "nothing to score: fix the points check first",
        )


def _group_lag(settings: Settings, name: str, group: str, topics: list[str], fix: str) -> Check:
    """How far ``group``'s committed offsets are behind the end of each partition of ``topics``."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"aiops-doctor-{uuid.uuid4().hex[:8]}",
            "log_level": 0,
        }
    )
    try:
        ends = {
            TopicPartition(topic, p): end
            for topic in topics
            for p, end in _end_offsets(consumer, topic).items()
        }
    finally:
        consumer.close()
    admin = AdminClient({**client_config(settings), "log_level": 0})
    request = ConsumerGroupTopicPartitions(group, list(ends))
    listed = admin.list_consumer_group_offsets([request])[group].result(timeout=10).topic_partitions
    committed = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in listed}
    lag = {
        (tp.topic, tp.partition): end - committed.get((tp.topic, tp.partition), 0)
        for tp, end in ends.items()
    }
    behind = {tp: n for tp, n in lag.items() if n > MAX_LAG}
    if behind:
        detail = ", ".join(f"{topic}[{p}]: {n}" for (topic, p), n in sorted(behind.items()))
        return Check(name, False, f"{group} is more than {MAX_LAG} records behind on {detail}", fix)
    worst = max(lag.items(), key=lambda item: item[1], default=None)
    most = f"; most on {worst[0][0]}[{worst[0][1]}]: {worst[1]}" if worst else ""
    return Check(name, True, f"{group} within {MAX_LAG} records on {len(lag)} partitions{most}")
