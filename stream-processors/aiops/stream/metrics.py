"""The catalogue of ``aiops_*`` metrics the stream processors export.

Declared once, against a registry passed in, so tests use a fresh
``CollectorRegistry()`` and read samples from it. The agents update the
decode and SLO metrics; ``AiopsMonitor`` (``monitor.py``) the pipeline's own:
records in and out and lag per topic and partition, state size and
checkpoint age per table.

>>> from prometheus_client import CollectorRegistry
>>> registry = CollectorRegistry()
>>> metrics = StreamMetrics(registry)
>>> metrics.deadletters.labels(stage="decode", reason="malformed_payload").inc()
>>> registry.get_sample_value("aiops_deadletter_total", {"stage": "decode", "reason": "malformed_payload"})
1.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aiops.decode.rejections import REASONS

__all__ = ["StreamMetrics"]


class StreamMetrics:
    """The stream processors' own metrics; later agents add theirs here."""

    def __init__(self, registry: CollectorRegistry):
        self.payloads = Counter(
            "aiops_decode_payloads",
            "OTLP payloads read from the metrics topic",
            ["partition"],
            registry=registry,
        )
        self.points = Counter(
            "aiops_decode_points",
            "data points by source partition of the metrics topic and outcome: emitted, reset (emitted after a "
            "counter reset), baseline (first point with no start time), stale (not newer than the last one), "
            "capped (a new stream beyond AIOPS_DECODE_MAX_STREAMS)",
            ["partition", "outcome"],
            registry=registry,
        )
        self.point_problems = Counter(
            "aiops_decode_point_problems",
            "data points refused (and dead-lettered) by reason: "
            + ", ".join(REASONS)
            + " (aiops.decode.rejections.REASONS says what each means)",
            ["reason"],
            registry=registry,
        )
        self.decode_errors = Counter(
            "aiops_decode_errors",
            "OTLP payloads the decode agent set aside (dead-lettered), by source partition and kind: "
            "malformed_payload (not OTLP), decode_error (a bug), unreadable_points (some points skipped)",
            ["partition", "kind"],
            registry=registry,
        )
        self.deadletters = Counter(
            "aiops_deadletter",
            "records sent to the dead-letter topic",
            ["stage", "reason"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "aiops_consumer_lag",
            "records between the last one processed and the end of the partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.decode_streams = Gauge(
            "aiops_decode_streams",
            "cumulative streams with delta state in this worker (AIOPS_DECODE_MAX_STREAMS caps it)",
            registry=registry,
        )
        self.decode_expired = Counter(
            "aiops_decode_expired_streams",
            "cumulative streams whose delta state was forgotten after AIOPS_DECODE_TTL_S without a point",
            registry=registry,
        )
        self.decode_forgotten_labels = Counter(
            "aiops_decode_forgotten_series_labels",
            "series whose interned labels were forgotten after a TTL without a point (decoded again if they return)",
            registry=registry,
        )
        self.points_from_memory = Counter(
            "aiops_points_records_from_memory",
            "points records a reader (detect, sli) took from memory, sent by this worker and checked already, "
            "instead of parsing their JSON; with aiops_records_in_total of the points topic, the share it saves",
            ["reader"],
            registry=registry,
        )
        self.stage_cpu = Counter(
            "aiops_stage_cpu_seconds",
            "process CPU seconds spent in each stage's own computation (decode, sli, detect), Kafka I/O and "
            "Faust excluded: with process_cpu_seconds_total, where a worker's CPU goes",
            ["stage"],
            registry=registry,
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
            "future (newer than the wall clock allows), replayed (added before a crash, skipped)",
            ["outcome"],
            registry=registry,
        )
        self.slo_error_ratio = Gauge(
            "aiops_slo_error_ratio",
            "bad over total events in the window (NaN: no data)",
            slo,
            registry=registry,
        )
        self.slo_burn_rate = Gauge(
            "aiops_slo_burn_rate",
            "the window's error ratio over the error budget (1 - target)",
            slo,
            registry=registry,
        )
        self.slo_budget_remaining = Gauge(
            "aiops_slo_budget_remaining",
            "fraction of the error budget left over the SLO window (window: the SLO's)",
            slo,
            registry=registry,
        )
        self.slo_time_to_exhaustion = Gauge(
            "aiops_slo_time_to_exhaustion_seconds",
            "seconds until the remaining budget is spent at the current burn rate (+Inf: nothing burns)",
            slo,
            registry=registry,
        )
        self.slo_latency = Gauge(
            "aiops_slo_latency_seconds",
            "latency percentile of a latency SLO's requests (quantile: p50, p95, p99)",
            [*slo, "quantile"],
            registry=registry,
        )
        self.slo_alerts = Counter(
            "aiops_slo_alerts",
            "SLO alert events sent, by severity and status",
            ["severity", "status"],
            registry=registry,
        )
        self.alert_latency = Histogram(
            "aiops_alert_latency_seconds",
            "from the event time an alert stands on (startsAt when firing, endsAt when resolved: for SLO alerts "
            "the newest event time the SLI agent had accepted, for anomaly alerts the point that crossed the "
            "threshold) to the alert's send, by severity and status",
            ["severity", "status"],
            buckets=(0.5, 1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 300, 600),
            registry=registry,
        )
        self.records_in = Counter(
            "aiops_records_in",
            "records the worker consumed, per topic and partition (on aiops.points: points)",
            ["topic", "partition"],
            registry=registry,
        )
        self.records_out = Counter(
            "aiops_records_out",
            "records the worker produced and Kafka acknowledged, per topic and partition (on aiops.points: points)",
            ["topic", "partition"],
            registry=registry,
        )
        self.state_keys = Gauge(
            "aiops_state_keys",
            "keys a state table holds in this worker: decode-state has one per live OTLP stream (the live series), "
            "sli-state one per SLO and group",
            ["table"],
            registry=registry,
        )
        self.state_bytes = Gauge(
            "aiops_state_bytes",
            "approximate size of a state table as its changelog holds it (JSON key and value bytes, "
            "estimated from up to 256 evenly spread keys)",
            ["table"],
            registry=registry,
        )
        self.checkpoint_age = Gauge(
            "aiops_checkpoint_age_seconds",
            "seconds since a state table's last write to its changelog topic was acknowledged, per changelog "
            "partition: how old the state a restarted worker recovers would be",
            ["table", "partition"],
            registry=registry,
        )
        # detect agent
        track = ["series", "metric", "service", "signal"]
        self.anomaly_score = Gauge(
            "aiops_anomaly_score",
            "calibrated anomaly score in [0, 1] of a track's latest point (0.5: a 1e-5 tail probability on the "
            "track's own history; anomaly alerts fire at 0.5 by default); series {} is the service level; only "
            "service-level tracks and tracks above threshold or firing have it (AIOPS_DETECT_MAX_GAUGE_TRACKS)",
            track,
            registry=registry,
        )
        self.anomaly_actual = Gauge(
            "aiops_anomaly_actual",
            "a track's latest value (rate per second, mean, or "
            "gauge value; NaN when the interval had none)",
            track,
            registry=registry,
        )
        self.anomaly_expected = Gauge(
            "aiops_anomaly_expected",
            "the detector's forecast for a track's latest "
            "point, before it learnt it (NaN while warming up)",
            track,
            registry=registry,
        )
        self.anomaly_alerts = Counter(
            "aiops_anomaly_alerts",
            "anomaly alert events sent, by severity and status",
            ["severity", "status"],
            registry=registry,
        )
        self.detect_points = Counter(
            "aiops_detect_points",
            "points by what the detect agent did: accepted (queued in an export group), scored (per track), "
            "late (older than a scored group of its resource), replayed (already scored before a restart), "
            "skipped (beyond AIOPS_DETECT_MAX_SERIES), reset (a rate across a counter reset or restart, not scored), "
            "unscorable",
            ["outcome"],
            registry=registry,
        )
        self.detect_withheld = Counter(
            "aiops_detect_withheld_points",
            "scored points the detector did not learn: above threshold on a track whose alert is pending "
            "(counting towards min_points, not firing yet), so a blip never teaches the model; a subset of "
            'aiops_detect_points_total{outcome="scored"}',
            registry=registry,
        )
        self.detect_tracks = Gauge(
            "aiops_detect_tracks",
            "live detector tracks in this worker (capped by AIOPS_DETECT_MAX_SERIES)",
            registry=registry,
        )
        self.detect_state_bytes = Gauge(
            "aiops_detect_state_bytes",
            "bytes of detector state allocated in this "
            "worker (rows of the numpy bank, live or free)",
            registry=registry,
        )
        self.detect_restore_errors = Counter(
            "aiops_detect_restore_errors",
            "resources whose checkpoint could not be read, or whose detector rows were refused "
            "(their detectors start afresh, alert states kept when only the rows were refused; see "
            "the worker log)",
            registry=registry,
        )
        self.detect_gauges_capped = Counter(
            "aiops_detect_gauges_capped",
            "scored points of watched tracks (service level, elevated) left without gauges because "
            "AIOPS_DETECT_MAX_GAUGE_TRACKS tracks already had them",
            registry=registry,
        )
        self.detect_expired = Counter(
            "aiops_detect_expired_tracks",
            "tracks forgotten after AIOPS_DETECT_IDLE_S without a point",
            registry=registry,
        )
