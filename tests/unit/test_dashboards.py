"""The generated Grafana dashboards: committed and current, complete panels, valid against the SDK's model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from aiops.dashboards import DASHBOARDS, dashboards_drift, render_all, validate, write_dashboards
from aiops.dashboards.tracing import ERROR_TRACES_QUERY
from aiops.stream.metrics import StreamMetrics

COMMITTED = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
BOARDS = {name: json.loads(text) for name, text in render_all().items()}


def test_committed_dashboards_do_not_drift():
    assert dashboards_drift(COMMITTED) == []


def test_regenerating_into_a_new_directory_gives_the_committed_files(tmp_path):
    paths = write_dashboards(tmp_path)
    assert sorted(p.name for p in paths) == sorted(p.name for p in COMMITTED.glob("*.json"))
    for path in paths:
        assert path.read_text(encoding="utf-8") == (COMMITTED / path.name).read_text(
            encoding="utf-8"
        )


def test_drift_names_stale_missing_and_unexpected_files(tmp_path):
    write_dashboards(tmp_path)
    (tmp_path / "aiops-tracing.json").write_text("{}\n")
    (tmp_path / "aiops-anomalies.json").unlink()
    (tmp_path / "hand-made.json").write_text("{}\n")
    drift = "\n".join(dashboards_drift(tmp_path))
    assert "aiops-tracing.json: differs" in drift
    assert "aiops-anomalies.json: missing" in drift
    assert "hand-made.json: not generated" in drift


def test_json_is_written_with_sorted_keys():
    for name, text in render_all().items():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n", name


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_is_valid_and_every_panel_is_complete(name):
    assert validate(BOARDS[name]) == []


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panel_ids_are_unique_and_the_uid_is_the_file_name(name):
    board = BOARDS[name]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    assert f"{board['uid']}.json" == name


def test_validate_reports_a_panel_without_description_and_an_unknown_field():
    board = json.loads(render_all()["aiops-tracing.json"])
    del board["panels"][1]["description"]
    board["panels"][2]["not_a_grafana_field"] = True
    problems = validate(board)
    assert any("no description" in p for p in problems)
    assert any("round-trip" in p for p in problems)


def test_every_dashboard_of_the_issue_is_there_with_its_panels():
    titles = {board["uid"]: {p["title"] for p in board["panels"]} for board in BOARDS.values()}
    assert (
        set(titles)
        == set(DASHBOARDS)
        == {
            "aiops-slo-overview",
            "aiops-app-performance",
            "aiops-pipeline-health",
            "aiops-tracing",
            "aiops-anomalies",
        }
    )
    assert {
        "SLI (5m)",
        "Error budget remaining (30d)",
        "Burn rate per window",
        "Time to budget exhaustion",
        "Firing SLO alerts",
    } <= titles["aiops-slo-overview"]
    assert {
        "Latency distribution",
        "Latency p50 / p95 / p99 by route",
        "Throughput by route",
        "Errors by status code",
        "CPU",
        "Memory",
    } <= titles["aiops-app-performance"]
    assert {
        "Points in and out per second",
        "Records in per topic and partition",
        "Records out per topic and partition",
        "Dead letters by reason",
        "Decode errors",
        "Consumer lag",
        "Event delay (event time to decoded point)",
        "Processing latency (event time to alert)",
        "Live series (state keys)",
        "State size",
        "Checkpoint age",
        "Collector accepted / refused",
        "Collector sent / failed per exporter",
        "Collector export queue",
    } <= titles["aiops-pipeline-health"]
    assert {"Error traces", "Latency p50 / p95 / p99 by service"} <= titles["aiops-tracing"]


def test_datasources_are_the_provisioned_ones():
    provisioned = (
        COMMITTED.parent / "provisioning" / "datasources" / "datasources.yaml"
    ).read_text()
    for board in BOARDS.values():
        for panel in board["panels"]:
            uid = panel["datasource"]["uid"]
            assert f"uid: {uid}" in provisioned
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


def test_error_trace_search_uses_traceql_on_tempo():
    [panel] = [p for p in BOARDS["aiops-tracing.json"]["panels"] if p["title"] == "Error traces"]
    assert panel["datasource"] == {"type": "tempo", "uid": "tempo"}
    assert panel["targets"][0]["queryType"] == "traceql"
    assert panel["targets"][0]["query"] == ERROR_TRACES_QUERY == "{status=error}"


def test_template_variables_have_defaults():
    for board in BOARDS.values():
        for variable in board.get("templating", {}).get("list", []):
            assert variable["current"]["value"], (board["uid"], variable["name"])
            if variable["current"]["value"] == "$__all":
                assert variable["allValue"] == ".*"


def test_prometheus_queries_use_only_declared_variables():
    for board in BOARDS.values():
        declared = {v["name"] for v in board.get("templating", {}).get("list", [])}
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = target.get("expr", "")
                used = {
                    word.split("}")[0].split("]")[0].split('"')[0].split(")")[0]
                    for word in expr.split("$")[1:]
                    if not word.startswith("__")
                }
                assert used <= declared, (board["uid"], panel["title"], used - declared)


SELF_MONITORING_METRICS = {
    "aiops_consumer_lag",
    "aiops_records_in_total",
    "aiops_records_out_total",
    "aiops_decode_payloads_total",
    "aiops_decode_points_total",
    "aiops_deadletter_total",
    "aiops_decode_errors_total",
    "aiops_decode_point_problems_total",
    "aiops_decode_event_delay_seconds_bucket",
    "aiops_alert_latency_seconds_bucket",
    "aiops_state_keys",
    "aiops_state_bytes",
    "aiops_checkpoint_age_seconds",
    "otelcol_receiver_accepted_metric_points",
    "otelcol_receiver_refused_metric_points",
    "otelcol_exporter_sent_metric_points",
    "otelcol_exporter_send_failed_metric_points",
    "otelcol_exporter_queue_size",
}
"""The pipeline's own metrics (issue 5, section 5), each of which a pipeline-health panel must query."""


def test_pipeline_health_queries_every_self_monitoring_metric():
    board = BOARDS["aiops-pipeline-health.json"]
    exprs = " ".join(t["expr"] for panel in board["panels"] for t in panel["targets"])
    assert {m for m in SELF_MONITORING_METRICS if m not in exprs} == set()


def test_self_monitoring_metrics_are_declared_in_the_catalogue():
    registry = CollectorRegistry()
    StreamMetrics(registry)
    declared = {
        sample_name
        for family in registry.collect()
        for sample_name in (family.name, f"{family.name}_total", f"{family.name}_bucket")
    }
    assert {m for m in SELF_MONITORING_METRICS if m.startswith("aiops_")} <= declared


def test_the_slo_overview_reads_requests_from_classic_or_native_histograms():
    board = BOARDS["aiops-slo-overview.json"]
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    raw = [q for q in queries if "http_server_request_duration_seconds" in q]
    assert len(raw) == 1, "only the request-rate panel reads the HTTP histogram itself"
    classic, native = raw[0].split(" or ")
    assert "http_server_request_duration_seconds_count{" in classic
    assert "histogram_count(rate(http_server_request_duration_seconds{" in native
