"""The worker's Faust monitor: the pipeline's ``aiops_*`` self-monitoring, and Faust's own metrics if asked.

Attached once in ``build_app`` (``app.monitor``, from ``monitor_for``), so
no agent sprinkles metric calls for what Faust already sees. Faust's own
monitor times every event, send and table access; that bookkeeping cost
about 6% of a loaded worker's CPU (py-spy, 40,000 points/s offered), so it
runs only with ``AIOPS_FAUST_EVENT_METRICS`` (``FaustAiopsMonitor``, which
also serves Faust's ``faust_*`` Prometheus metrics); ``AiopsMonitor`` skips
it. Either keeps, per topic and partition, the records in and out
(``aiops_records_in_total``, ``aiops_records_out_total``) and the consumer
lag (``aiops_consumer_lag``); and, per state table, its keys and approximate
size (``aiops_state_keys``, ``aiops_state_bytes``, computed when scraped) and
the age of its newest changelog write per partition
(``aiops_checkpoint_age_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

import orjson
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, AppT, CollectionT, EventT, Message, ProducerT, RecordMetadata, StreamT
from prometheus_client import CollectorRegistry

from aiops.settings import Settings
from aiops.stream.metrics import StreamMetrics

__all__ = [
    "SIZE_SAMPLE",
    "AiopsMonitor",
    "FaustAiopsMonitor",
    "approximate_json_bytes",
    "monitor_for",
]

SIZE_SAMPLE = 256
"""How many of a table's entries ``aiops_state_bytes`` serialises per scrape, evenly spread."""


def approximate_json_bytes(entries: Mapping[Any, Any], sample: int = SIZE_SAMPLE) -> float:
    """The size of ``entries`` as compact JSON keys and values, estimated from at most ``sample`` evenly spread entries.

    Exact when there are no more entries than ``sample``; otherwise the mean
    size of the sampled entries times their number, so a scrape costs the
    same however large the table grows. A ``bytes`` value (a table stored
    raw) counts as its length; other values JSON cannot encode count as
    their ``str``.

    >>> approximate_json_bytes({"a": 1, "bc": [1, 2], "raw": b"{}"})  # '"a"' '1' '"bc"' '[1,2]' '"raw"' '{}'
    20.0
    >>> table = {f"k{i}": "x" * 10 for i in range(1000)}
    >>> approximate_json_bytes(table, sample=1000), approximate_json_bytes(table, sample=10)  # exact, estimated
    (17890.0, 17800.0)
    >>> approximate_json_bytes({})
    0.0
    """
    count = len(entries)
    if count == 0:
        return 0.0
    step = max(count // sample, 1)
    sizes = [
        _json_size(key) + _json_size(value) for key, value in islice(entries.items(), 0, None, step)
    ]
    return sum(sizes) / len(sizes) * count


def _json_size(value: Any) -> int:
    if isinstance(value, bytes):
        return len(value)
    return len(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


class _AiopsHooks(Monitor):
    """The ``aiops_*`` pipeline metrics, kept on top of whichever Faust monitor comes next in the MRO."""

    def __init__(
        self,
        app: AppT,
        registry: CollectorRegistry,
        pipeline_metrics: StreamMetrics,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._app = app
        self._aiops = pipeline_metrics
        self._table_of_changelog: dict[str, str] = {}
        self._last_checkpoint: dict[tuple[str, int], float] = {}
        self._in: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._out: dict[tuple[str, int], Any] = {}
        """Each topic and partition's labelled counters, looked up once (a look-up per record costs more)."""

    def watch_tables(self, tables: Iterable[CollectionT]) -> None:
        """Export each table's keys and approximate size when scraped, and the age of its changelog writes."""
        for table in tables:
            store = table.data
            self._aiops.state_keys.labels(table=table.name).set_function(
                lambda store=store: len(store)
            )
            self._aiops.state_bytes.labels(table=table.name).set_function(
                lambda store=store: approximate_json_bytes(store)
            )
            self._table_of_changelog[table.changelog_topic.get_topic_name()] = table.name

    def _counted_in(self, tp: TP, offset: int) -> None:
        """Count the message per topic and partition, and record how far this partition is behind its end."""
        children = self._in.get((tp.topic, tp.partition))
        if children is None:
            labels = {"topic": tp.topic, "partition": str(tp.partition)}
            children = self._in[(tp.topic, tp.partition)] = (
                self._aiops.records_in.labels(**labels),
                self._aiops.consumer_lag.labels(**labels),
            )
        records_in, lag = children
        records_in.inc()
        highwater = self._app.consumer.highwater(tp)
        if highwater is not None and highwater >= 0:
            lag.set(max(highwater - offset - 1, 0))

    def _counted_out(self, metadata: RecordMetadata) -> None:
        """Count the acknowledged record per topic and partition; a changelog record is a table's checkpoint."""
        key = (metadata.topic, metadata.partition)
        records_out = self._out.get(key)
        if records_out is None:
            records_out = self._out[key] = self._aiops.records_out.labels(
                topic=metadata.topic, partition=str(metadata.partition)
            )
        records_out.inc()
        table = self._table_of_changelog.get(metadata.topic)
        if table is not None:
            self._checkpointed(table, metadata.partition)

    def _checkpointed(self, table: str, partition: int) -> None:
        key = (table, partition)
        if key not in self._last_checkpoint:
            self._aiops.checkpoint_age.labels(table=table, partition=str(partition)).set_function(
                lambda: time.monotonic() - self._last_checkpoint[key]
            )
        self._last_checkpoint[key] = time.monotonic()


class AiopsMonitor(_AiopsHooks):
    """The ``aiops_*`` metrics only: Faust's per-event, per-send and per-table-access bookkeeping is skipped."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self._counted_in(tp, offset)

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict | None:
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        return None

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: Any, keysize: int, valsize: int
    ) -> None:
        return None

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        self._counted_out(metadata)


class FaustAiopsMonitor(_AiopsHooks, PrometheusMonitor):
    """Faust's Prometheus monitor (metrics prefixed ``faust_``) plus the ``aiops_*`` pipeline metrics."""

    def __init__(
        self, app: AppT, registry: CollectorRegistry, metrics: StreamMetrics, **kwargs: Any
    ) -> None:
        super().__init__(app, registry, metrics, metrics=FaustMetrics.create(registry, "faust"))

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        super().on_message_in(tp, offset, message)
        self._counted_in(tp, offset)

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        super().on_send_completed(producer, state, metadata)
        self._counted_out(metadata)


def monitor_for(
    settings: Settings, app: AppT, registry: CollectorRegistry, metrics: StreamMetrics
) -> _AiopsHooks:
    """The worker's monitor: Faust's own metrics too only with ``AIOPS_FAUST_EVENT_METRICS``."""
    kind = FaustAiopsMonitor if settings.faust_event_metrics else AiopsMonitor
    return kind(app, registry, metrics)
