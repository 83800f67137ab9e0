"""The catalogue of ``aiops_*`` metrics the stream processors export.

Declared once, against a registry passed in, so tests use a fresh
``CollectorRegistry()`` and read samples from it.

>>> from prometheus_client import CollectorRegistry
>>> registry = CollectorRegistry()
>>> metrics = StreamMetrics(registry)
>>> metrics.deadletters.labels(stage="decode", reason="malformed_payload").inc()
>>> registry.get_sample_value("aiops_deadletter_total", {"stage": "decode", "reason": "malformed_payload"})
1.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["StreamMetrics"]


class StreamMetrics:
    """The stream processors' own metrics; later agents add theirs here."""

    def __init__(self, registry: CollectorRegistry):
        self.payloads = Counter(
            "aiops_decode_payloads", "OTLP payloads read from the metrics topic", ["partition"], registry=registry
        )
        self.points = Counter(
            "aiops_decode_points",
            "data points by outcome: emitted, reset (emitted after a counter reset), "
            "baseline (first point with no start time), stale (not newer than the last one)",
            ["outcome"],
            registry=registry,
        )
        self.point_problems = Counter(
            "aiops_decode_point_problems", "data points skipped as unreadable (see the dead-letter topic)",
            registry=registry,
        )
        self.deadletters = Counter(
            "aiops_deadletter", "records sent to the dead-letter topic", ["stage", "reason"], registry=registry
        )
        self.consumer_lag = Gauge(
            "aiops_consumer_lag", "records between the last one processed and the end of the partition",
            ["topic", "partition"], registry=registry,
        )
        self.event_delay = Histogram(
            "aiops_decode_event_delay_seconds",
            "from a point's event time to its record on the points topic: SDK export, collector, Kafka and decode",
            buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
            registry=registry,
        )
