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
        slo = ["slo", "service", "group", "window"]
        self.sli_events = Counter(
            "aiops_sli_events",
            "SLO events by arrival: on_time, late (within the lateness, counted), dropped (beyond it), "
            "future (newer than the wall clock allows)",
            ["outcome"], registry=registry,
        )
        self.slo_error_ratio = Gauge("aiops_slo_error_ratio", "bad over total events in the window (NaN: no data)",
                                     slo, registry=registry)
        self.slo_burn_rate = Gauge("aiops_slo_burn_rate", "the window's error ratio over the error budget (1 - target)",
                                   slo, registry=registry)
        self.slo_budget_remaining = Gauge(
            "aiops_slo_budget_remaining", "fraction of the error budget left over the SLO window (window: the SLO's)",
            slo, registry=registry,
        )
        self.slo_time_to_exhaustion = Gauge(
            "aiops_slo_time_to_exhaustion_seconds",
            "seconds until the remaining budget is spent at the current burn rate (+Inf: nothing burns)",
            slo, registry=registry,
        )
        self.slo_latency = Gauge(
            "aiops_slo_latency_seconds", "latency percentile of a latency SLO's requests (quantile: p50, p95, p99)",
            [*slo, "quantile"], registry=registry,
        )
        self.slo_alerts = Counter("aiops_slo_alerts", "SLO alert events sent, by severity and status",
                                  ["severity", "status"], registry=registry)
