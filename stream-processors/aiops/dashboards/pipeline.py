"""Pipeline health: points in and out, dead letters, consumer lag, event delay, and the collector's own metrics.

Reads the worker's ``aiops_*`` and ``faust_*`` metrics (job
``aiops-stream-processors``, see ``aiops/stream/metrics.py``) and the
collector's ``otelcol_*`` metrics (job ``otel-collector-self``; collector
0.165 names its counters without a ``_total`` suffix).

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
            "In: OTLP payloads per second the decode agent reads from Kafka (faust, per topic). Out: decoded points per second "
            "by outcome (emitted, reset, baseline, stale). Out falling to 0 while in goes on means decode is failing.",
            "ops",
        )
        .with_target(
            prom(
                f'sum by (topic) (rate(faust_messages_received_per_topic_total{{topic=~"otlp_metrics|aiops.points"}}[{RATE}]))',
                "in {{topic}}",
                "A",
            )
        )
        .with_target(
            prom(
                f"sum by (outcome) (rate(aiops_decode_points_total[{RATE}]))",
                "out {{outcome}}",
                "B",
            )
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
    return (
        timeseries(
            "Dead letters by reason",
            "Records per second sent to aiops.deadletter, by stage and reason (malformed_payload, unreadable_points...). "
            "Any non-zero value is bad input that was kept, not dropped: read it with the dead-letter topic's original bytes.",
            "ops",
        )
        .with_target(
            prom(
                f"sum by (stage, reason) (rate(aiops_deadletter_total[{RATE}]))",
                "{{stage}} {{reason}}",
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


def messages_sent():
    return timeseries(
        "Messages sent per topic",
        "Records per second the worker produces, per topic (faust_topic_messages_sent_total): points, changelogs, "
        "dead letters, SLI snapshots.",
        "ops",
    ).with_target(
        prom(f"sum by (topic) (rate(faust_topic_messages_sent_total[{RATE}]))", "{{topic}}")
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
        dead_letters(),
        event_delay(),
        messages_sent(),
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
        "The stream processors and the collector watching themselves: throughput, lag, delay, losses.",
        ["pipeline"],
    )
    for panel in _builders():
        board = board.with_panel(panel)
    return board
