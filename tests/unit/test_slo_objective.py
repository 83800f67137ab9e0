"""SloSpec → Objective: targets, windows, Sloth's factors, overrides, and the events a point adds."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.settings import Settings
from aiops.slo.burn_rate import State
from aiops.slo.durations import format_duration, parse_duration
from aiops.slo.matchers import Matcher
from aiops.slo.names import prometheus_label_name, prometheus_metric_name
from aiops.slo.objective import LatencyIndicator, Objective, RatioIndicator, load_objectives
from aiops.slo.quantile import NotABucketBound
from aiops.slo.sli_windows import SliWindows

GOOD = Path(__file__).resolve().parents[1] / "data" / "slo" / "good"
HOUR, DAY = 3600, 86400


def point(route="/api/checkout", code=200, count=10, **extra) -> dict:
    base = {
        "metric": "http.server.request.duration",
        "kind": "histogram",
        "unit": "s",
        "count": count,
        "attributes": {"http.route": route, "http.response.status_code": code},
        "resource": {"service.name": "demo-service"},
    }
    return {**base, **extra}


@pytest.fixture(scope="module")
def ratio() -> list[Objective]:
    return load_objectives(GOOD / "ratio.yaml")


def test_ratio_spec_resolves_everything_the_spec_left_implicit(ratio):
    checkout, orders = ratio
    assert (checkout.id, checkout.target, checkout.window_s) == (
        "demo-service-checkout-availability",
        0.999,
        30 * DAY,
    )
    assert checkout.labels == {"team": "shop", "tier": "1,critical"}
    assert checkout.group_by == ("service.name",) and checkout.group_labels == ("service_name",)
    assert (checkout.alert_name, checkout.min_events) == ("CheckoutAvailability", 5)
    assert checkout.alert_labels == {"owner": "shop"}
    assert checkout.severity_labels["ticket"] == {"channel": "tickets"}
    assert isinstance(checkout.indicator, RatioIndicator) and checkout.indicator.bad is not None
    assert orders.target == pytest.approx(0.995) and orders.window_s == 28 * DAY


def test_default_windows_and_factors_for_30_days(ratio):
    checkout = ratio[0]
    assert [(p.name, p.short_s, p.long_s) for p in checkout.pairs] == [
        ("page-quick", 300, HOUR),
        ("page-slow", 1800, 6 * HOUR),
        ("ticket-quick", 2 * HOUR, DAY),
        ("ticket-slow", 6 * HOUR, 3 * DAY),
    ]
    assert [p.factor for p in checkout.pairs] == pytest.approx(
        [14.4, 6, 3, 1]
    )  # page-slow set as burnRate: 6
    assert checkout.windows_s == (300, 1800, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY, 30 * DAY)
    assert checkout.current_window_s == 300


def test_factors_scale_with_the_slo_window_as_sloth_scales_them(ratio):
    orders = ratio[1]  # 28 days
    assert [p.factor for p in orders.pairs] == pytest.approx([13.44, 5.6, 2.8, 0.9333333])
    latency = load_objectives(GOOD / "latency.yaml")[0]  # 7 days
    assert [p.factor for p in latency.pairs] == pytest.approx([3.36, 1.4, 0.7, 0.2333333])


def test_windows_scaled_down_through_the_spec():
    fast = load_objectives(GOOD / "scaled-windows.yaml")[0]
    assert [(p.short_s, p.long_s, p.factor) for p in fast.pairs] == [
        (30, 300, 14.4),
        (60, 600, 6),
        (120, 1200, 3),
        (300, HOUR, 1),
    ]
    assert fast.windows_s == (30, 60, 120, 300, 600, 1200, HOUR, 30 * DAY)
    assert [p.severity for p in fast.alert_pairs] == ["page", "page"]  # ticketAlert.disable
    assert fast.current_window_s == 30


def test_bad_over_total_events_of_points():
    checkout = load_objectives(GOOD / "ratio.yaml")[0]
    assert checkout.events(point(code=200, count=10)) == (10.0, 10.0)
    assert checkout.events(point(code=503, count=4)) == (0.0, 4.0)
    assert checkout.events(point(route="/api/users")) is None
    assert checkout.events(point(unit="ms")) is None
    assert checkout.events({**point(), "metric": "http.client.request.duration"}) is None
    assert checkout.events({**point(), "kind": "sum", "value": 3.0}) is None
    assert checkout.group_key(point()) == ("demo-service",)


def test_good_over_total_events_of_a_counter():
    orders = load_objectives(GOOD / "ratio.yaml")[1]
    placed = {
        "metric": "shop.orders",
        "kind": "sum",
        "unit": "{order}",
        "monotonic": True,
        "value": 7.0,
        "attributes": {"outcome": "placed"},
        "resource": {},
    }
    failed = {**placed, "attributes": {"outcome": "failed"}, "value": 2.0}
    assert orders.events(placed) == (7.0, 7.0)
    assert orders.events(failed) == (0.0, 2.0)
    assert orders.events({**placed, "monotonic": False}) is None
    assert orders.group_key(placed) == ()


def test_latency_events_read_the_threshold_bucket():
    latency = load_objectives(GOOD / "latency.yaml")[0]
    assert isinstance(latency.indicator, LatencyIndicator) and latency.indicator.threshold == 0.25
    bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
    counts = [0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0]  # 15 of 21 at or below 0.25
    assert latency.events(
        point(route="/api/users", count=21, bounds=bounds, bucket_counts=counts)
    ) == (15.0, 21.0)
    assert latency.group_key(point(route="/api/users")) == ("/api/users",)
    assert latency.events(point(route="/health", bounds=bounds, bucket_counts=counts)) is None


def test_a_point_whose_buckets_lack_the_threshold_is_an_error_not_data():
    latency = load_objectives(GOOD / "latency.yaml")[0]
    with pytest.raises(NotABucketBound, match="nearest bounds are 0.1 and 0.5"):
        latency.events(
            point(route="/api/users", count=2, bounds=[0.1, 0.5], bucket_counts=[1, 1, 0])
        )


def test_objective_evaluates_windows_from_the_stream():
    fast = load_objectives(GOOD / "scaled-windows.yaml")[0]
    windows = SliWindows(fast.windows_s, max_lateness_s=10)
    t0 = 1_764_000_000.0
    for second in range(600):  # 10 min at 10 requests/s, healthy
        windows.add(t0 + second, good=10, total=10)
    assert [r.state for r in fast.evaluate(windows.snapshot())] == [State.OK]
    for second in range(600, 660):  # then 1 min of 100% errors
        windows.add(t0 + second, good=0, total=10)
    [page] = fast.evaluate(windows.snapshot())
    assert page.state is State.FIRING
    assert [p.pair.name for p in page.firing_pairs] == ["page-quick", "page-slow"]


def test_the_demo_objectives_describe_themselves():
    described = [o.describe() for o in load_objectives(Settings().slo_file)]
    assert described == [
        "demo-service-api-availability: ratio SLI, target 99.9% over 30d, per http.route",
        "demo-service-api-latency: latency SLI <= 0.25s, target 99% over 30d, per http.route",
        "demo-service-availability: ratio SLI, target 99.5% over 4w",
    ]


@pytest.mark.parametrize(
    ("text", "value", "matches"),
    [
        ('code="200"', "200", True),
        ('code="200"', 200, True),
        ('code!="200"', "500", True),
        ('code=~"5.."', "503", True),
        ('code=~"5.."', "1503", False),  # anchored, as in Prometheus
        ('code!~"5.."', "404", True),
        ('code=~"5\\d\\d"', "502", True),
        ('route=""', None, True),
        ('route!=""', None, False),  # missing matches as ""
        ('flag="true"', True, True),
        ('path="/a \\"b\\""', '/a "b"', True),
    ],
)
def test_matchers_follow_prometheus(text, value, matches):
    assert Matcher.parse(text).matches(value) is matches


def test_matcher_text_round_trips_to_promql():
    m = Matcher.parse('path=~"/a\\\\b\\"c"')
    assert m.value == '/a\\b"c'
    assert m.promql("path") == 'path=~"/a\\\\b\\"c"'


@pytest.mark.parametrize(
    ("metric", "unit", "instrument", "expected"),
    [
        ("http.server.request.duration", "s", "histogram", "http_server_request_duration_seconds"),
        ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
        ("shop.orders", "{order}", "counter", "shop_orders_total"),
        ("requests", "1", "counter", "requests_total"),
        ("io", "By", "counter", "io_bytes_total"),
        ("throughput", "By/s", "counter", "throughput_bytes_per_second_total"),
        ("latency_seconds", "s", "histogram", "latency_seconds"),
    ],
)
def test_prometheus_names_of_opentelemetry_metrics(metric, unit, instrument, expected):
    assert prometheus_metric_name(metric, unit, instrument) == expected


def test_prometheus_label_names():
    assert [prometheus_label_name(a) for a in ("http.route", "service.name", "9lives", "_x")] == [
        "http_route",
        "service_name",
        "key_9lives",
        "key_x",
    ]


@pytest.mark.parametrize(
    ("text", "seconds", "again"),
    [
        ("30s", 30, "30s"),
        ("5m", 300, "5m"),
        ("1h", 3600, "1h"),
        ("3d", 259200, "3d"),
        ("1w", 604800, "1w"),
        ("28d", 2419200, "4w"),
        ("30d", 2592000, "30d"),
        ("10d", 864000, "10d"),
        ("90m", 5400, "1h30m"),
    ],
)
def test_durations(text, seconds, again):
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == again


@pytest.mark.parametrize("text", ["", "5", "0m", "1.5h", "5 m", "1y", "-1h"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.yaml")), ids=lambda p: p.name)
def test_an_slo_reads_by_identity_every_series_whose_points_it_counts(path):
    """``reads`` (the SLI agent's filter by series identity) never drops a point that adds events."""
    objectives = load_objectives(path)
    candidates = [
        {**point(route=route, code=code), "kind": kind, "unit": unit, "metric": metric}
        for route in ("/api/checkout", "/api/items", "")
        for code in (200, 404, 500, "503")
        for kind in ("histogram", "sum", "gauge")
        for unit in ("s", "ms", "1")
        for metric in {s.metric for o in objectives for s in o.indicator.selectors} | {"other"}
    ]
    counted = 0
    for objective in objectives:
        for candidate in candidates:
            full = {
                **candidate,
                "value": 3.0,
                "monotonic": True,
                "bounds": [],
                "bucket_counts": [3],
            }
            try:
                adds = objective.events(full) is not None
            except NotABucketBound:
                adds = True
            identity = {
                k: candidate[k] for k in ("metric", "kind", "unit", "attributes", "resource")
            }
            assert objective.reads(identity) or not adds
            counted += adds
    assert counted > 0


def test_a_native_latency_objective_declares_no_buckets_and_any_threshold():
    (native,) = load_objectives(GOOD / "native-latency.yaml")
    assert isinstance(native.indicator, LatencyIndicator)
    assert native.indicator.source.native and native.indicator.buckets == ()
    assert native.indicator.threshold == 0.3
    (classic,) = load_objectives(GOOD / "latency.yaml")
    assert not classic.indicator.source.native
