"""Pipeline health: the stream processors and the collector watching themselves.

Reads the worker's ``aiops_*`` metrics (job ``aiops-stream-processors``, the
catalogue in ``aiops/stream/metrics.py``): points and records in and out per
topic and partition, consumer lag, dead letters, decode errors, event delay,
processing latency to alerts, live series, state size and checkpoint age;
and the collector's ``otelcol_*`` metrics (job ``otel-collector-self``;
collector 0.165 names its counters without a ``_total`` suffix).

>>> [p.title for p in panels()][:2]
['Points in and out per second', 'Consumer lag']
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builder

from aiops.dashboards.defaults import RATE, dashboard, prom, thresholds, timeseries

__all__ = ["UID", "build", "panels"]

UID = "aiops-pipeline-health"

_COLLECTOR = 'job="otel-collector-self"'


def points_in_out():
    return (
        timeseries(
            "Points in and out per second",
            "The decode agent per partition of the OTLP topic. In: OTLP payloads read per second. Out: data points "
            "per second by outcome (emitted and reset go to aiops.points; baseline and stale are held back). "
            "Out falling to 0 while in goes on means decode is failing: see Decode errors.",
            "ops",
        )
        .with_target(
            prom(
                f"sum by (partition) (rate(aiops_decode_payloads_total[{RATE}]))",
                "payloads in [{{partition}}]",
                "A",
            )
        )
        .with_target(
            prom(
                f"sum by (partition, outcome) (rate(aiops_decode_points_total[{RATE}]))",
                "points {{outcome}} [{{partition}}]",
                "B",
            )
        )
    )


def records_in():
    return timeseries(
        "Records in per topic and partition",
        "Records per second the worker consumes from each topic partition (aiops_records_in_total): OTLP payloads, "
        "points (one record each), SLO events. A partition at 0 while others flow is unassigned or its producer stopped.",
        "ops",
    ).with_target(
        prom(
            f"sum by (topic, partition) (rate(aiops_records_in_total[{RATE}]))",
            "{{topic}}[{{partition}}]",
        )
    )


def records_out():
    return timeseries(
        "Records out per topic and partition",
        "Records per second the worker produced and Kafka acknowledged, per topic partition (aiops_records_out_total): "
        "points, SLO events, snapshots, alerts, dead letters and the tables' changelogs. Out of aiops.points should "
        "follow the decode agent's emitted points.",
        "ops",
    ).with_target(
        prom(
            f"sum by (topic, partition) (rate(aiops_records_out_total[{RATE}]))",
            "{{topic}}[{{partition}}]",
        )
    )


def consumer_lag():
    return (
        timeseries(
            "Consumer lag",
            "Records between the worker's position and the end of each topic partition (aiops_consumer_lag). "
            "Near 0 is healthy; a steady climb means the worker cannot keep up (add partitions and workers).",
            "short",
        )
        .thresholds(thresholds((None, "green"), (1000, "yellow"), (10000, "red")))
        .with_target(
            prom("max by (topic, partition) (aiops_consumer_lag)", "{{topic}}[{{partition}}]")
        )
    )


def dead_letters():
    return timeseries(
        "Dead letters by reason",
        "Records per second sent to aiops.deadletter, by stage and reason (malformed_payload, unreadable_points, "
        "not_a_bucket_bound...). Any non-zero value is bad input that was kept, not dropped: read it with the "
        "dead-letter topic's original bytes.",
        "ops",
    ).with_target(
        prom(
            f"sum by (stage, reason) (rate(aiops_deadletter_total[{RATE}]))",
            "{{stage}} {{reason}}",
        )
    )


def decode_errors():
    return (
        timeseries(
            "Decode errors",
            "OTLP payloads per second the decode agent set aside, per source partition and kind (malformed_payload: "
            "not OTLP; decode_error: a bug, see the worker log; unreadable_points: some points skipped), and the "
            "unreadable data points themselves. One partition alone points at one producer.",
            "ops",
        )
        .with_target(
            prom(
                f"sum by (partition, kind) (rate(aiops_decode_errors_total[{RATE}]))",
                "{{kind}} [{{partition}}]",
                "A",
            )
        )
        .with_target(
            prom(f"sum(rate(aiops_decode_point_problems_total[{RATE}]))", "unreadable points", "B")
        )
    )


def _delay(q: float, ref_id: str):
    return prom(
        f"histogram_quantile({q}, sum by (le) (rate(aiops_decode_event_delay_seconds_bucket[{RATE}])))",
        f"p{round(q * 100)}",
        ref_id,
    )


def event_delay():
    return (
        timeseries(
            "Event delay (event time to decoded point)",
            "Seconds from a data point's event time to its record on aiops.points: SDK export interval, collector batch, "
            "Kafka and decode together. A few seconds is normal; a rising p99 means a backlog somewhere upstream.",
            "s",
        )
        .with_target(_delay(0.5, "A"))
        .with_target(_delay(0.95, "B"))
        .with_target(_delay(0.99, "C"))
    )


_ALERT_LATENCY_WINDOW = "15m"
"""Alerts are rare: their latency percentiles are taken over the alerts of the last 15 minutes."""


def _alert_latency(q: float, ref_id: str):
    return prom(
        f"histogram_quantile({q}, sum by (le) "
        f'(increase(aiops_alert_latency_seconds_bucket{{status="firing"}}[{_ALERT_LATENCY_WINDOW}])))',
        f"p{round(q * 100)}",
        ref_id,
    )


def processing_latency():
    return (
        timeseries(
            "Processing latency (event time to alert)",
            "Seconds from the event time a firing SLO alert stands on (its startsAt: the newest event the SLI agent "
            "had accepted) to the alert's send on aiops.alerts, over the alerts of the last 15 minutes (empty when "
            "none fired). It adds the SLI agent's evaluation interval to the event delay; tens of seconds mean the "
            "SLI agent is behind.",
            "s",
        )
        .with_target(_alert_latency(0.5, "A"))
        .with_target(_alert_latency(0.95, "B"))
        .with_target(_alert_latency(0.99, "C"))
    )


def live_series():
    return timeseries(
        "Live series (state keys)",
        "Keys each state table holds (aiops_state_keys): decode-state has one per live OTLP stream (series the "
        "pipeline tracks), sli-state one per SLO and group. A steady climb is a cardinality leak upstream (an id "
        "in a label).",
        "short",
    ).with_target(prom("sum by (table) (aiops_state_keys)", "{{table}}"))


def state_size():
    return timeseries(
        "State size",
        "Approximate bytes of each state table as its changelog holds it (aiops_state_bytes; JSON keys and values, "
        "estimated from a sample). It grows with the keys; a worker restart replays this much from the changelog.",
        "bytes",
    ).with_target(prom("sum by (table) (aiops_state_bytes)", "{{table}}"))


def checkpoint_age():
    return (
        timeseries(
            "Checkpoint age",
            "Seconds since each table last wrote its state to its changelog topic, per partition "
            "(aiops_checkpoint_age_seconds). It stays near the input interval while data flows; a climb with data "
            "flowing means state is no longer saved: a restarted worker would recover state that old.",
            "s",
        )
        .thresholds(thresholds((None, "green"), (60, "yellow"), (300, "red")))
        .with_target(
            prom(
                "max by (table, partition) (aiops_checkpoint_age_seconds)",
                "{{table}}[{{partition}}]",
            )
        )
    )


def collector_accepted_refused():
    return (
        timeseries(
            "Collector accepted / refused",
            "Metric points and spans per second the collector's receivers accepted or refused (refused: memory limiter or "
            "a bad request; senders retry or drop). Refused above 0 means the collector is overloaded.",
            "ops",
        )
        .with_target(
            prom(
                f"sum by (receiver) (rate(otelcol_receiver_accepted_metric_points{{{_COLLECTOR}}}[{RATE}]))",
                "accepted points {{receiver}}",
                "A",
            )
        )
        .with_target(
            prom(
                f"sum by (receiver) (rate(otelcol_receiver_accepted_spans{{{_COLLECTOR}}}[{RATE}]))",
                "accepted spans {{receiver}}",
                "B",
            )
        )
        .with_target(
            prom(
                f"sum by (receiver) (rate(otelcol_receiver_refused_metric_points{{{_COLLECTOR}}}[{RATE}]))",
                "refused points {{receiver}}",
                "C",
            )
        )
        .with_target(
            prom(
                f"sum by (receiver) (rate(otelcol_receiver_refused_spans{{{_COLLECTOR}}}[{RATE}]))",
                "refused spans {{receiver}}",
                "D",
            )
        )
    )


def collector_sent_failed():
    return (
        timeseries(
            "Collector sent / failed per exporter",
            "Metric points and spans per second each exporter (kafka, prometheus, otlp to Tempo) delivered or failed to "
            "deliver. Failed above 0 means a downstream (Kafka, Tempo) is unreachable.",
            "ops",
        )
        .with_target(
            prom(
                f"sum by (exporter) (rate(otelcol_exporter_sent_metric_points{{{_COLLECTOR}}}[{RATE}]))",
                "sent points {{exporter}}",
                "A",
            )
        )
        .with_target(
            prom(
                f"sum by (exporter) (rate(otelcol_exporter_sent_spans{{{_COLLECTOR}}}[{RATE}]))",
                "sent spans {{exporter}}",
                "B",
            )
        )
        .with_target(
            prom(
                f"sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points{{{_COLLECTOR}}}[{RATE}]))",
                "failed points {{exporter}}",
                "C",
            )
        )
        .with_target(
            prom(
                f"sum by (exporter) (rate(otelcol_exporter_send_failed_spans{{{_COLLECTOR}}}[{RATE}]))",
                "failed spans {{exporter}}",
                "D",
            )
        )
    )


def collector_queue():
    return (
        timeseries(
            "Collector export queue",
            "Batches waiting in each exporter's sending queue, and the queue's capacity. A queue near its capacity "
            "drops data next: the downstream is slow or down.",
            "short",
        )
        .with_target(
            prom(
                f"max by (exporter, data_type) (otelcol_exporter_queue_size{{{_COLLECTOR}}})",
                "{{exporter}} {{data_type}}",
                "A",
            )
        )
        .with_target(
            prom(
                f"max by (exporter) (otelcol_exporter_queue_capacity{{{_COLLECTOR}}})",
                "capacity {{exporter}}",
                "B",
            )
        )
    )


def collector_resources():
    return (
        timeseries(
            "Collector CPU and memory",
            "The collector process's CPU (cores used) and resident memory. The memory limiter refuses data near its limit.",
            "short",
            width=24,
        )
        .with_target(
            prom(f"rate(otelcol_process_cpu_seconds{{{_COLLECTOR}}}[{RATE}])", "CPU cores", "A")
        )
        .with_target(prom(f"otelcol_process_memory_rss{{{_COLLECTOR}}} / 2^20", "RSS MiB", "B"))
    )


def _builders():
    return [
        points_in_out(),
        consumer_lag(),
        records_in(),
        records_out(),
        dead_letters(),
        decode_errors(),
        event_delay(),
        processing_latency(),
        live_series(),
        state_size(),
        checkpoint_age(),
        collector_accepted_refused(),
        collector_sent_failed(),
        collector_queue(),
        collector_resources(),
    ]


def panels():
    """The panels in layout order (built)."""
    return [p.build() for p in _builders()]


def build() -> dashboard_builder.Dashboard:
    """The pipeline health dashboard (no variables: one pipeline per Prometheus)."""
    board = dashboard(
        UID,
        "aiops / Pipeline health",
        "The stream processors and the collector watching themselves: throughput, lag, delay, losses, state.",
        ["pipeline"],
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
