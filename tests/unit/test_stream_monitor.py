"""The worker's monitor keeps the aiops_* self-monitoring metrics: state size per table, records out, checkpoint age.

A real Faust app and table (no broker: nothing here connects) and a fresh
``CollectorRegistry``; Kafka's acknowledgements are aiokafka's own
``RecordMetadata`` records, as the producer hands them to the monitor.
"""

from __future__ import annotations

import faust
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import CollectorRegistry

from aiops.settings import Settings
from aiops.stream.metrics import StreamMetrics
from aiops.stream.monitor import (
    AiopsMonitor,
    FaustAiopsMonitor,
    approximate_json_bytes,
    monitor_for,
)


def _app(tmp_path) -> faust.App:
    return faust.App(
        "aiops-monitor-test", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path)
    )


@pytest.fixture(params=[False, True], ids=["aiops only", "with faust event metrics"])
def wired(tmp_path, request):
    app = _app(tmp_path)
    table = app.Table("decode-state", default=None, partitions=3)
    registry = CollectorRegistry()
    settings = Settings(faust_event_metrics=request.param)
    monitor = monitor_for(settings, app, registry, StreamMetrics(registry))
    monitor.watch_tables(app.tables.values())
    return app, table, monitor, registry


def test_faust_own_per_event_metrics_only_when_asked(tmp_path):
    for asked, kind in ((False, AiopsMonitor), (True, FaustAiopsMonitor)):
        registry = CollectorRegistry()
        app = _app(tmp_path)
        monitor = monitor_for(
            Settings(faust_event_metrics=asked), app, registry, StreamMetrics(registry)
        )
        faust_metrics = {m.name for m in registry.collect() if m.name.startswith("faust_")}
        assert type(monitor) is kind
        assert bool(faust_metrics) is asked, faust_metrics
        assert "faust_messages_received_per_topics_partition" in faust_metrics or not asked


def _acknowledged(monitor, topic: str, partition: int) -> None:
    metadata = RecordMetadata(topic, partition, TopicPartition(topic, partition), 0, -1, 0, 0)
    monitor.on_send_completed(producer=None, state=monitor.time(), metadata=metadata)


def test_state_keys_and_bytes_follow_the_table_when_scraped(wired):
    _, table, _, registry = wired
    labels = {"table": "decode-state"}
    assert registry.get_sample_value("aiops_state_keys", labels) == 0
    assert registry.get_sample_value("aiops_state_bytes", labels) == 0
    table.data["stream-a"] = {"value": 5.0, "time_unix_nano": 1}
    table.data["stream-b"] = {"value": 7.0, "time_unix_nano": 2}
    assert registry.get_sample_value("aiops_state_keys", labels) == 2
    assert (
        registry.get_sample_value("aiops_state_bytes", labels)
        == approximate_json_bytes(dict(table.data))
        > 0
    )


def test_acknowledged_records_are_counted_per_topic_and_partition(wired):
    _, _, monitor, registry = wired
    for partition in (0, 0, 2):
        _acknowledged(monitor, "aiops.points", partition)
    assert (
        registry.get_sample_value(
            "aiops_records_out_total", {"topic": "aiops.points", "partition": "0"}
        )
        == 2
    )
    assert (
        registry.get_sample_value(
            "aiops_records_out_total", {"topic": "aiops.points", "partition": "2"}
        )
        == 1
    )


def test_a_changelog_write_starts_that_partitions_checkpoint_age(wired):
    _, table, monitor, registry = wired
    changelog = table.changelog_topic.get_topic_name()
    assert changelog == "aiops-monitor-test-decode-state-changelog"
    _acknowledged(monitor, "aiops.points", 1)
    assert (
        registry.get_sample_value(
            "aiops_checkpoint_age_seconds", {"table": "decode-state", "partition": "1"}
        )
        is None
    )
    _acknowledged(monitor, changelog, 1)
    first = registry.get_sample_value(
        "aiops_checkpoint_age_seconds", {"table": "decode-state", "partition": "1"}
    )
    later = registry.get_sample_value(
        "aiops_checkpoint_age_seconds", {"table": "decode-state", "partition": "1"}
    )
    assert 0 <= first <= later, "the age grows from the last write"
    assert (
        registry.get_sample_value(
            "aiops_checkpoint_age_seconds", {"table": "decode-state", "partition": "0"}
        )
        is None
    )


def test_size_estimate_is_exact_up_to_the_sample_and_close_beyond():
    small = {f"k{i}": {"v": i} for i in range(100)}
    exact = sum(len(f'"k{i}"') + len(f'{{"v":{i}}}') for i in range(100))  # compact JSON
    assert approximate_json_bytes(small) == exact
    large = {
        f"series-{i:06d}": {"value": float(i), "bounds": [0.1, 0.5, 1.0]} for i in range(50_000)
    }
    exact_large = approximate_json_bytes(large, sample=len(large))
    assert approximate_json_bytes(large) == pytest.approx(exact_large, rel=0.05)
