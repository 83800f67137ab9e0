"""Rules generated from objectives: Sloth's names and labels, committed output without drift, golden files.

Set ``AIOPS_UPDATE_GOLDEN=1`` to rewrite the golden ``out-*.yml`` files after an intended change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from aiops.settings import Settings
from aiops.slo.artifacts import RULES_FILE, SCHEMA_FILE, artifacts, drift, write_artifacts
from aiops.slo.exponential_histogram import ExponentialHistogram
from aiops.slo.objective import load_objectives
from aiops.slo.quantile import native_count_at_or_below
from aiops.slo.rules import render_rules, rule_groups, sli_error_expr

DATA = Path(__file__).resolve().parents[1] / "data" / "slo"
GOLDEN = sorted((DATA / "golden").glob("in-*.yaml"))
SLOTH_META = [
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
]


def test_regenerating_into_a_tmp_dir_matches_the_committed_files(tmp_path: Path):
    settings = Settings()
    written = write_artifacts(settings.slo_file, settings.repo_root, out_dir=tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in written) == sorted([RULES_FILE, SCHEMA_FILE])
    for relative in (RULES_FILE, SCHEMA_FILE):
        assert (tmp_path / relative).read_text() == (settings.repo_root / relative).read_text(), (
            f"{relative} is stale: run `aiops slo generate` and commit the result"
        )
    assert drift(settings.slo_file, settings.repo_root) == []


def test_drift_names_a_stale_file(tmp_path: Path):
    settings = Settings()
    root = tmp_path / "repo"
    write_artifacts(settings.slo_file, settings.repo_root, out_dir=root)
    (root / RULES_FILE).write_text("# edited by hand\n")
    assert drift(settings.slo_file, root) == [RULES_FILE]


@pytest.mark.parametrize("source", GOLDEN, ids=lambda p: p.stem)
def test_golden_rules(source: Path):
    out = source.with_name(source.name.replace("in-", "out-").replace(".yaml", ".yml"))
    text = render_rules(load_objectives(source), source.name)
    if os.environ.get("AIOPS_UPDATE_GOLDEN"):
        out.write_text(text)
    assert text == out.read_text()


@pytest.fixture(scope="module")
def demo_groups() -> dict[str, list[dict]]:
    text = artifacts(Settings().slo_file, Settings().repo_root)[RULES_FILE]
    return {g["name"]: g["rules"] for g in yaml.safe_load(text)["groups"]}


def test_every_slo_gets_sloths_three_groups(demo_groups):
    ids = ["demo-service-api-availability", "demo-service-api-latency", "demo-service-availability"]
    assert list(demo_groups) == [
        f"sloth-slo-{kind}-{i}"
        for i in ids
        for kind in ("sli-recordings", "meta-recordings", "alerts")
    ]


def test_sli_recordings_per_window_with_sloth_labels(demo_groups):
    rules = demo_groups["sloth-slo-sli-recordings-demo-service-api-availability"]
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert [r["record"] for r in rules] == [f"slo:sli_error:ratio_rate{w}" for w in windows]
    for rule, window in zip(rules, windows, strict=True):
        assert rule["labels"] == {
            "sloth_id": "demo-service-api-availability",
            "sloth_service": "demo-service",
            "sloth_slo": "api-availability",
            "sloth_window": window,
            "team": "demo",
        }
        assert f"[{window}]" in rule["expr"] and "sum by (http_route)" in rule["expr"]


def test_meta_recordings_as_sloth_names_them(demo_groups):
    rules = demo_groups["sloth-slo-meta-recordings-demo-service-availability"]
    assert [r["record"] for r in rules] == SLOTH_META
    by_name = {r["record"]: r for r in rules}
    assert by_name["slo:objective:ratio"]["expr"] == "vector(0.995)"
    assert by_name["slo:error_budget:ratio"]["expr"] == "vector(1-0.995)"
    assert by_name["slo:time_period:days"]["expr"] == "vector(28)"
    assert "slo:sli_error:ratio_rate5m{" in by_name["slo:current_burn_rate:ratio"]["expr"]
    assert "slo:sli_error:ratio_rate4w{" in by_name["slo:period_burn_rate:ratio"]["expr"]
    assert by_name["sloth_slo_info"]["labels"]["sloth_objective"] == "99.5"


def test_alerts_and_within_a_pair_or_across_pairs(demo_groups):
    page, ticket = demo_groups["sloth-slo-alerts-demo-service-api-availability"]
    assert page["alert"] == ticket["alert"] == "DemoApiAvailability"
    assert page["labels"] == {
        "severity": "page",
        "sloth_severity": "page",
        "slo": "api-availability",
        "service": "demo-service",
    }
    clauses = page["expr"].split("\nor\n")
    assert len(clauses) == 2
    assert (
        "ratio_rate5m" in clauses[0]
        and "ratio_rate1h" in clauses[0]
        and "(14.4 * 0.001)" in clauses[0]
    )
    assert (
        "ratio_rate30m" in clauses[1]
        and "ratio_rate6h" in clauses[1]
        and "(6 * 0.001)" in clauses[1]
    )
    assert all(
        c.count("\n    and\n") == 1 and c.count("without (sloth_window)") == 2 for c in clauses
    )
    assert "(3 * 0.001)" in ticket["expr"] and "(1 * 0.001)" in ticket["expr"]


def test_28_day_factors_in_the_alerts(demo_groups):
    page, ticket = demo_groups["sloth-slo-alerts-demo-service-availability"]
    assert "(13.44 * 0.005)" in page["expr"] and "(5.6 * 0.005)" in page["expr"]
    assert "(2.8 * 0.005)" in ticket["expr"] and "(0.933333333333 * 0.005)" in ticket["expr"]
    assert ticket["labels"]["routing"] == "demo-tickets"


def test_a_28_day_period_is_named_4w_as_sloth_names_it(demo_groups):
    rules = demo_groups["sloth-slo-sli-recordings-demo-service-availability"]
    period = rules[-1]
    assert period["record"] == "slo:sli_error:ratio_rate4w"
    assert period["labels"]["sloth_window"] == "4w" and "[4w]" in period["expr"]


def test_the_specs_alert_labels_win_over_the_derived_ones(tmp_path: Path):
    source = (DATA / "good" / "ratio.yaml").read_text()
    labels = "    labels:\n      owner: shop\n"
    assert source.count(labels) == 1 and "pageAlert" not in source
    spec = tmp_path / "critical.yaml"
    spec.write_text(
        source.replace(
            labels,
            labels + "      slo: shop-checkout\n"
            "    pageAlert:\n"
            "      labels: {severity: critical}\n",
        )
    )
    objective = load_objectives(spec)[0]
    groups = {g["name"]: g["rules"] for g in rule_groups(objective)}
    page, ticket = groups[f"sloth-slo-alerts-{objective.id}"]
    assert page["labels"] == {
        **page["labels"],
        "severity": "critical",
        "sloth_severity": "page",
        "slo": "shop-checkout",
    }
    assert (ticket["labels"]["severity"], ticket["labels"]["sloth_severity"]) == (
        "ticket",
        "ticket",
    )
    assert ticket["labels"]["slo"] == "shop-checkout"


def test_latency_reads_the_threshold_bucket_over_the_count():
    latency = load_objectives(DATA / "good" / "latency.yaml")[0]
    expr = sli_error_expr(latency, 300)
    assert (
        'http_server_request_duration_seconds_bucket{service_name="demo-service", http_route=~"/api/.*", '
        'le="0.25"}[5m]' in expr
    )
    assert "http_server_request_duration_seconds_count{" in expr and expr.startswith("1 - (")


def test_an_integer_threshold_matches_both_le_spellings(tmp_path: Path):
    source = (DATA / "good" / "latency.yaml").read_text().replace("value: 0.25", "value: 1")
    (tmp_path / "one-second.yaml").write_text(source)
    expr = sli_error_expr(load_objectives(tmp_path / "one-second.yaml")[0], 300)
    assert 'le=~"1|1\\\\.0"' in expr


def test_ungrouped_slos_sum_without_by_and_disabled_severities_have_no_alert():
    fast = load_objectives(DATA / "good" / "scaled-windows.yaml")[0]
    groups = {g["name"]: g["rules"] for g in rule_groups(fast)}
    alerts = groups["sloth-slo-alerts-demo-service-checkout-availability-fast"]
    assert [a["labels"]["severity"] for a in alerts] == ["page"]
    assert (
        "sum(rate("
        in groups["sloth-slo-sli-recordings-demo-service-checkout-availability-fast"][0]["expr"]
    )
    assert [
        r["record"]
        for r in groups["sloth-slo-sli-recordings-demo-service-checkout-availability-fast"]
    ][:2] == ["slo:sli_error:ratio_rate30s", "slo:sli_error:ratio_rate1m"]


def test_native_latency_counts_per_series_fractions_over_histogram_counts():
    native = load_objectives(DATA / "good" / "native-latency.yaml")[0]
    expr = sli_error_expr(native, 300)
    series = (
        'http_server_request_duration_seconds{service_name="demo-service", http_route=~"/api/.*"}'
    )
    good = (
        f"sum by (http_route)(histogram_fraction(-Inf, 0.3, rate({series}[5m]))"
        f" * (histogram_count(rate({series}[5m])) > 0))"
    )
    total = f"sum by (http_route)(histogram_count(rate({series}[5m])))"
    assert expr == f"1 - (\n  (\n    {good}\n    or\n    0 * {total}\n  )\n  /\n  {total}\n)\n"


def test_native_rules_read_no_classic_series():
    text = render_rules(load_objectives(DATA / "golden" / "in-native.yaml"), "in-native.yaml")
    assert "_bucket" not in text and "_count{" not in text and "le=" not in text
    assert text.count("histogram_fraction(-Inf, 0.3, ") == 8  # one per window of the latency SLO


def test_a_native_threshold_keeps_its_digits(tmp_path: Path):
    source = (DATA / "good" / "native-latency.yaml").read_text()
    assert source.count("value: 0.3") == 1
    (tmp_path / "ten-microseconds.yaml").write_text(source.replace("value: 0.3", "value: 0.00001"))
    objective = load_objectives(tmp_path / "ten-microseconds.yaml")[0]
    assert "histogram_fraction(-Inf, 0.00001, " in sli_error_expr(objective, 300)


def test_native_rules_promtool_expectations_are_what_the_stream_computes():
    """promtool-native-rules-test.yml expects from Prometheus what aiops.slo.quantile computes.

    Its input adds, per minute on /api/checkout, the histograms below (OTel offsets are one less
    than the file's Prometheus offsets); the 404 series is constant and adds nothing.
    """
    text = (DATA / "promtool-native-rules-test.yml").read_text()
    assert "+{{schema:0 count:100 sum:25 offset:-2 buckets:[60 40]}}x120" in text
    assert "+{{schema:0 count:10 sum:8 offset:0 buckets:[10]}}x120" in text
    ok = ExponentialHistogram(scale=0, count=100, sum=25, positive_offset=-3, positive=[60, 40])
    failed = ExponentialHistogram(scale=0, count=10, sum=8, positive_offset=-1, positive=[10])
    good = native_count_at_or_below(0.3, ok) + native_count_at_or_below(0.3, failed)
    expected = {
        (t["expr"], s["labels"].split("{")[0]): s["value"]
        for t in yaml.safe_load(text)["tests"][0]["promql_expr_test"]
        for s in t["exp_samples"]
    }
    latency = 'slo:sli_error:ratio_rate5m{sloth_id="demo-service-api-latency"}'
    availability = 'slo:sli_error:ratio_rate5m{sloth_id="demo-service-api-availability"}'
    assert expected[(latency, "slo:sli_error:ratio_rate5m")] == pytest.approx(
        1 - good / 110, rel=1e-15
    )
    assert expected[(availability, "slo:sli_error:ratio_rate5m")] == pytest.approx(
        10 / 110, rel=1e-15
    )
