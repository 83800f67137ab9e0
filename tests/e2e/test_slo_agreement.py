"""The stream and Prometheus agree on one SLO spec; its page fires in time and resolves in Alertmanager.

A stack of this module's own runs ``fixtures/agreement-slos.yaml``: the
worker evaluates it and the stack's Prometheus loads the rules generated from
it at ``up``. The module runs twice, once per histogram aggregation of the
demo: explicit buckets (classic histograms, Debian's Prometheus 2.42), then
base-2 exponential (``agreement-slos-native.yaml``: native histograms in
Prometheus 3, scraped from the collector's prometheus exporter, so the
rules use ``histogram_count``/``histogram_fraction`` and the p95 is
``histogram_quantile`` of ``sum(rate(x[1m]))``). Its windows are scaled down through the spec: the page's quick
pair is 14.4x over 1m30s (the Workbook's 1h) and 1m (its 5m). The demo
service gets 10 s of normal checkouts, 8 s of a 100% error burst and 8 s of a
300 ms latency spike, then silence.

**Why the comparison is exact, and where.** Prometheus's ``rate()`` reads
the scraped samples in ``(t - w, t]`` and extrapolates their increase to the
window's edges; the stream sums delta points by event time (the SDK's export
instant) in buckets of ``w / sli_buckets_per_window`` and pro-rates the oldest
bucket. The two agree exactly when each window holds the whole load and
nothing else, with silence at both edges, and when the extrapolation factor is
the same for every series, so that it cancels in every ratio and quantile:

- every series (2xx and 5xx, every ``le``) exists before the window opens, so
  Prometheus samples them all at the same scrape instants (a series born
  inside the window loses its first sample's count);
- each series' count before the window is not small next to its increase in
  the window: ``rate()`` extrapolates a counter's start no further back than
  where it would reach zero (``first / increase x sampled interval``), so a
  small first count shortens that series' factor alone. With a prime of
  7 requests this alone cost 0.4% on the error ratios and 1.4% on the latency
  SLI; hence a *prime* of the load's shape at a quarter of its size (140
  requests, under the spec's ``minEvents`` of 150 so it does not page);
- the prime lies before both windows, and the load starts after the short
  window opens (a scrape before it, a bucket of slack for the pro-rating)
  and ends before the window's last scrape (export, collector batch, scrape).

``_Plateau`` computes those instants from the measured times; in it both
sides count exactly the same requests, so the 1m and 1m30s windows hold the
same data. Every stream snapshot (``aiops.sli``) of the plateau is compared
with every evaluation of the recorded rules (``slo:sli_error:ratio_rate1m``,
``...1m30s``, ``slo:current_burn_rate:ratio``) and with ``histogram_quantile``
at those evaluation instants; they must agree within 0.5% relative (they do
to float precision). Percentiles are compared on the 1m window: the stream
keeps bucket counts for the current window and 1 h only.

**Alert delay.** With 100% errors from ``burst_start`` the Workbook's detection
time is 14.4 x 0.001 x 90 s = 1.3 s; the page must be on ``aiops.alerts`` no
later than that plus one evaluation step plus the pipeline's delay: the SDK's
export interval and the measured collector→Kafka, decode, route and window
stages of the point that fired it. The split is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from confluent_kafka import Consumer, KafkaException, TopicPartition
from tests.e2e.conftest import PORT_OFFSET, e2e_settings

from aiops.decode.otlp import Observation, decode_metrics, flatten
from aiops.decode.points_v2 import points_in
from aiops.kafka_config import client_config
from aiops.schemas.alerts import AlertV1
from aiops.settings import Settings
from aiops.slo.durations import format_duration, parse_duration
from aiops.slo.objective import LatencyIndicator, Objective, load_objectives
from aiops.slo.rules import selector_promql
from aiops.stack.local import down, up
from aiops.stream.sli_agent import sli_key
from aiops.topics import SLI_STATE_TABLE, changelog_topic, sli_events_topic
from aiops_producers.loadgen import run_load
from aiops_producers.routes import RouteMix, RouteSpec, order

pytestmark = pytest.mark.e2e

EXPLICIT, EXPONENTIAL = "explicit_bucket_histogram", "base2_exponential_bucket_histogram"
SPECS = {
    EXPLICIT: Path(__file__).parent / "fixtures" / "agreement-slos.yaml",
    EXPONENTIAL: Path(__file__).parent / "fixtures" / "agreement-slos-native.yaml",
}
"""The spec of each run: the demo's histogram aggregation decides how Prometheus holds the metric."""
AVAILABILITY, LATENCY = load_objectives(SPECS[EXPLICIT])
"""Ids, names, windows and matchers: the same in both specs (only how Prometheus stores the metric differs)."""
ROUTE = "/api/checkout"
CHECKOUTS = RouteMix((RouteSpec("POST", ROUTE, 1.0, order),))
MODULE_PORT_OFFSET = PORT_OFFSET + 500
"""Ports of this module's stack: beside the session's stack (``PORT_OFFSET``), never on it."""

EVALUATE_INTERVAL_S = 2.0
RATE = 20.0
LOAD_PHASES_S = (10.0, 8.0, 8.0)
"""Seconds of normal checkouts, of the 100% error burst and of the latency spike."""
PRIME_PHASES_S = (3.0, 2.0, 2.0)
"""The prime: the load's shape, a quarter of its size (every series and bucket gets a fair first count),
below the spec's ``minEvents`` (150) so that it does not page."""
PRIME_TO_LOAD_S = 70.0
"""Quiet time between the prime and the load: long enough for the long window to leave the prime behind."""
LATENCY_SPIKE_MS = 300.0
DELIVERY_SLACK_S = 2.0
"""The collector's batch timeout (1 s) plus processing, between an SDK export and Kafka or the exporter."""
RELATIVE_TOLERANCE = 0.005
ABSOLUTE_TOLERANCE = 1e-9
"""Near zero (never the case here: every compared value is above 0.1) a relative bound means nothing."""
RESOLVE_TIMEOUT_S = 150.0

PIPELINE_STAGES = (
    "collector → kafka (otlp_metrics)",
    "decode (aiops.points)",
    "sli route (repartition topic)",
    "sli windows (micro-batch, state)",
)
"""The measured stages that make up the pipeline's own delay (the SDK's is bounded by its export interval)."""

SHORT_S = AVAILABILITY.current_window_s
LONG_S = next(p.long_s for p in AVAILABILITY.pairs if p.name == "page-quick")
SHORT, LONG = format_duration(SHORT_S), format_duration(LONG_S)


@pytest.fixture(scope="module", params=[EXPLICIT, EXPONENTIAL])
def stack(request, tmp_path_factory) -> Iterator[Settings]:
    """Kafka, collector, Prometheus, Alertmanager, worker, forwarder and demo, all on the fixture spec.

    Once per histogram aggregation of the demo: explicit buckets (classic
    histograms in Debian's Prometheus 2.42), then exponential (native
    histograms in Prometheus 3, which interpolates inside them as the stream does).
    """
    aggregation = request.param
    settings = e2e_settings(
        tmp_path_factory.mktemp("agreement-stack"),
        MODULE_PORT_OFFSET,
        slo_file=SPECS[aggregation],
        sli_evaluate_interval_s=EVALUATE_INTERVAL_S,
        demo_histogram_aggregation=aggregation,
        prometheus_native_histograms=aggregation == EXPONENTIAL,
    )
    try:
        up(settings, print, with_load=False)
        yield settings
    finally:
        down(settings, print)


@dataclass(frozen=True)
class Load:
    """When the prime and the load ran (wall-clock seconds), and the plateau they give."""

    settings: Settings
    prime_end: float
    load_start: float
    burst_start: float
    burst_end: float
    load_end: float
    plateau: _Plateau


@dataclass(frozen=True)
class Page:
    """The checkout page of the burst: its events, its record time, and what Alertmanager showed."""

    firing: AlertV1
    firing_record_s: float
    in_alertmanager: dict
    resolved: AlertV1
    gone_from_alertmanager: bool


@pytest.fixture(scope="module")
def load(stack: Settings) -> Load:
    """The prime, a quiet wait, then the load with its error burst and latency spike, until both plateaus passed."""
    settings = stack
    _phases(settings, *PRIME_PHASES_S)
    prime_end = time.time()
    time.sleep(max(0.0, prime_end + PRIME_TO_LOAD_S - time.time()))
    load_start = time.time()
    burst_start, burst_end = _phases(settings, *LOAD_PHASES_S)
    load_end = time.time()
    plateau = _Plateau.of(settings, prime_end, load_start, load_end)
    time.sleep(max(0.0, max(plateau.stream[1], plateau.prometheus[1]) - time.time() + 1.0))
    return Load(settings, prime_end, load_start, burst_start, burst_end, load_end, plateau)


@pytest.fixture(scope="module")
def page(load: Load) -> Page:
    """Good checkouts after the load until the burst's page has fired, reached Alertmanager and resolved."""
    settings = load.settings
    stop = threading.Event()
    good_traffic = threading.Thread(target=_good_checkouts, args=(settings, stop), daemon=True)
    good_traffic.start()
    try:
        firing, firing_record_s = _wait_for_alert(settings, load.burst_start, "firing")
        in_alertmanager = _wait_in_alertmanager(settings, firing.labels, present=True)
        resolved, _ = _wait_for_alert(settings, load.burst_start, "resolved", episode=firing.id)
        gone = _wait_in_alertmanager(settings, firing.labels, present=False) is None
    finally:
        stop.set()
        good_traffic.join(timeout=10)
    return Page(firing, firing_record_s, in_alertmanager or {}, resolved, gone)


def test_stream_and_prometheus_agree_on_ratios_burn_rates_and_p95(load: Load):
    settings, plateau = load.settings, load.plateau
    availability = _snapshots(settings, AVAILABILITY, plateau, load.load_start)
    latency = _snapshots(settings, LATENCY, plateau, load.load_start)
    assert availability and latency, (
        f"no aiops.sli snapshot in the stream's plateau {plateau.stream}"
    )

    route = {"http_route": ROUTE}
    ratio_short = _recorded(
        settings, f"slo:sli_error:ratio_rate{SHORT}", AVAILABILITY, route, plateau
    )
    ratio_long = _recorded(
        settings, f"slo:sli_error:ratio_rate{LONG}", AVAILABILITY, route, plateau
    )
    latency_ratio = _recorded(settings, f"slo:sli_error:ratio_rate{SHORT}", LATENCY, route, plateau)
    burn_short = _recorded(
        settings,
        "slo:current_burn_rate:ratio",
        AVAILABILITY,
        route,
        plateau,
        settle_s=_prometheus_interval_s(settings, "evaluation_interval"),
    )
    burn_long = {
        at: _instant(
            settings,
            f"slo:sli_error:ratio_rate{LONG}{_sloth_selector(AVAILABILITY, route)}"
            " / on(sloth_id, sloth_service, sloth_slo) group_left() "
            f"slo:error_budget:ratio{_sloth_selector(AVAILABILITY)}",
            at,
        )
        for at in ratio_long
    }
    assert isinstance(LATENCY.indicator, LatencyIndicator)
    if settings.prometheus_native_histograms:
        native = selector_promql(LATENCY.indicator.source, "", [f'http_route="{ROUTE}"'])
        quantile = f"histogram_quantile(0.95, sum(rate({native}[{SHORT}])))"
    else:
        buckets = selector_promql(LATENCY.indicator.source, "_bucket", [f'http_route="{ROUTE}"'])
        quantile = f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{SHORT}])))"
    p95 = {at: _instant(settings, quantile, at) for at in ratio_short}

    comparisons = {
        f"error ratio {SHORT}": (
            [s["windows"][SHORT]["error_ratio"] for s in availability],
            ratio_short,
        ),
        f"error ratio {LONG}": (
            [s["windows"][LONG]["error_ratio"] for s in availability],
            ratio_long,
        ),
        f"burn rate {SHORT}": (
            [s["windows"][SHORT]["burn_rate"] for s in availability],
            burn_short,
        ),
        f"burn rate {LONG}": ([s["windows"][LONG]["burn_rate"] for s in availability], burn_long),
        f"p95 {SHORT} (s)": ([s["latency"][SHORT]["p95"] for s in latency], p95),
        f"latency SLI error ratio {SHORT}": (
            [s["windows"][SHORT]["error_ratio"] for s in latency],
            latency_ratio,
        ),
    }
    print(
        f"\n{settings.demo_histogram_aggregation}: agreement in the plateau: stream {_span(plateau.stream, load.load_start)}, "
        f"Prometheus {_span(plateau.prometheus, load.load_start)} (s after the load began); "
        f"{len(availability)} + {len(latency)} snapshots, {len(ratio_short)} rule evaluations"
    )
    print(f"{'quantity':<30} {'stream':>14} {'prometheus':>14} {'max rel diff':>13}")
    failures = []
    for name, (stream_values, prometheus_values) in comparisons.items():
        assert prometheus_values, (
            f"{name}: no Prometheus evaluation in the plateau {plateau.prometheus}"
        )
        assert all(v is not None for v in stream_values), (
            f"{name}: the stream has no value: {stream_values}"
        )
        worst = max(
            _relative_difference(s, p) for s in stream_values for p in prometheus_values.values()
        )
        print(
            f"{name:<30} {stream_values[-1]:>14.9g} {list(prometheus_values.values())[-1]:>14.9g} {worst:>13.3g}"
        )
        if not all(
            math.isclose(s, p, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
            for s in stream_values
            for p in prometheus_values.values()
        ):
            failures.append(f"{name}: stream {stream_values} vs Prometheus {prometheus_values}")
    assert not failures, "\n".join(failures)
    burst_share = LOAD_PHASES_S[1] / sum(LOAD_PHASES_S)
    assert math.isclose(
        availability[-1]["windows"][SHORT]["error_ratio"], burst_share, rel_tol=0.1
    ), "the windows must hold the load (its burst share of errors), not an empty or partial window"
    assert latency[-1]["latency"][SHORT]["p95"] > LATENCY_SPIKE_MS / 1000, (
        "the spike must set the p95"
    )


def test_page_fires_within_detection_time_plus_one_step_plus_the_pipeline_delay(
    load: Load, page: Page
):
    settings = load.settings
    pair = next(p for p in AVAILABILITY.pairs if p.name == "page-quick")
    burst_error_ratio = 1.0
    detection_s = pair.factor * AVAILABILITY.error_budget * pair.long_s / burst_error_ratio
    export_interval_s = settings.otlp_export_interval_ms / 1000
    stages = _delay_stages(settings, load, page)
    measured_pipeline_s = sum(
        seconds for name, seconds in stages.items() if name in PIPELINE_STAGES
    )
    bound_s = detection_s + EVALUATE_INTERVAL_S + export_interval_s + measured_pipeline_s
    took_s = page.firing_record_s - load.burst_start
    print(
        f"\npage delay after a 100% error burst: {took_s:.3f} s; bound {bound_s:.3f} s = detection "
        f"{detection_s:.3f} + evaluation step {EVALUATE_INTERVAL_S:g} + SDK export interval "
        f"{export_interval_s:g} + measured pipeline {measured_pipeline_s:.3f}"
    )
    for name, seconds in stages.items():
        print(f"  {name:<34} {seconds:8.3f} s")
    print(f"  {'total (burst start → alert record)':<34} {took_s:8.3f} s")
    starts_at = page.firing.startsAt.timestamp()
    print(
        f"  {'(alert startsAt → record, agent lag)':<34} {page.firing_record_s - starts_at:8.3f} s"
    )
    assert took_s <= bound_s


def test_page_appears_in_alertmanager_and_resolves_when_the_fault_ends(load: Load, page: Page):
    firing, resolved = page.firing, page.resolved
    assert (
        firing.labels["alertname"] == AVAILABILITY.alert_name
        and firing.labels["http_route"] == ROUTE
    )
    assert page.in_alertmanager.get("labels") == firing.labels, "the page must reach Alertmanager"
    assert resolved.id == firing.id and resolved.labels == firing.labels
    assert resolved.endsAt is not None and resolved.endsAt.timestamp() > load.burst_end
    assert resolved.annotations.get("resolution") == "ok", (
        "good traffic follows the fault: the page resolves ok"
    )
    assert page.gone_from_alertmanager, "Alertmanager must stop listing the page once it resolved"
    print(
        f"\npage resolved {resolved.endsAt.timestamp() - load.burst_end:.1f} s after the fault ended "
        f"({SHORT} short window), and left Alertmanager's active alerts"
    )


@dataclass(frozen=True)
class _Plateau:
    """The instants at which both windows of each side hold exactly the load: (first, last), wall-clock seconds."""

    stream: tuple[float, float]
    prometheus: tuple[float, float]

    @classmethod
    def of(
        cls, settings: Settings, prime_end: float, load_start: float, load_end: float
    ) -> _Plateau:
        export_s = settings.otlp_export_interval_ms / 1000
        scrape_s = _prometheus_interval_s(settings, "scrape_interval")
        bucket_s = LONG_S / settings.sli_buckets_per_window
        prime_seen = prime_end + export_s + DELIVERY_SLACK_S
        load_seen = load_end + export_s + DELIVERY_SLACK_S
        stream = (
            max(prime_seen + bucket_s + LONG_S, load_seen),
            load_start - SHORT_S / settings.sli_buckets_per_window + SHORT_S,
        )
        prometheus = (
            max(prime_seen + LONG_S, load_seen + scrape_s),
            load_start - scrape_s + SHORT_S,
        )
        return cls(stream, prometheus)


def _phases(
    settings: Settings, normal_s: float, burst_s: float, spike_s: float
) -> tuple[float, float]:
    """Normal checkouts, a 100% error burst, a latency spike; returns when the burst began and ended.

    No request is in flight while a fault is set or cleared, so the burst's
    first error comes after ``burst_start`` and its last before ``burst_end``.
    """
    _checkouts(settings, normal_s)
    _set_fault(settings, error_rate=1.0)
    burst_start = time.time()
    _checkouts(settings, burst_s)
    _clear_faults(settings)
    burst_end = time.time()
    _set_fault(settings, latency_ms=LATENCY_SPIKE_MS)
    _checkouts(settings, spike_s)
    _clear_faults(settings)
    return burst_start, burst_end


def _prometheus_interval_s(settings: Settings, name: str) -> int:
    """``scrape_interval`` or ``evaluation_interval`` of the stack's Prometheus, from its one config file."""
    config = yaml.safe_load(
        (settings.repo_root / "storage" / "prometheus" / "prometheus.yml").read_text()
    )
    return parse_duration(config["global"][name])


def _checkouts(settings: Settings, duration_s: float) -> None:
    run_load(
        settings.demo_url, rate=RATE, duration_s=duration_s, mix=CHECKOUTS, seed=7, progress=False
    )


def _set_fault(settings: Settings, **fault: float) -> None:
    """Set a fault on the checkout route (for longer than the test runs; it is cleared explicitly)."""
    httpx.post(
        f"{settings.demo_url}/faults", json={"route": ROUTE, "duration_s": 600, **fault}, timeout=10
    ).raise_for_status()


def _clear_faults(settings: Settings) -> None:
    httpx.delete(f"{settings.demo_url}/faults", timeout=10).raise_for_status()


def _good_checkouts(settings: Settings, stop: threading.Event, rate: float = 5.0) -> None:
    """Fault-free checkouts until ``stop``: the short window refills with good requests and the page resolves."""
    rng = random.Random(5)
    with httpx.Client(base_url=settings.demo_url, timeout=10) as client:
        while not stop.wait(1 / rate):
            client.post(ROUTE, json=order(rng)).raise_for_status()


@dataclass(frozen=True)
class _Message:
    timestamp_s: float
    key: bytes | None
    value: bytes | None


def _read(settings: Settings, topic: str, since_s: float) -> list[_Message]:
    """Every record of ``topic`` from ``since_s`` (record time) to its current end, oldest first."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"aiops-agreement-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, int(since_s * 1000)) for p in partitions], timeout=10
        )
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        assigned = [tp for tp in starts if 0 <= tp.offset < ends[tp.partition]]
        consumer.assign(assigned)
        open_partitions = {tp.partition for tp in assigned}
        messages = []
        while open_partitions:
            message = consumer.poll(10)
            if message is None:
                raise TimeoutError(
                    f"{topic}: partitions {sorted(open_partitions)} stopped short of their end"
                )
            if message.error():
                raise KafkaException(message.error())
            messages.append(_Message(message.timestamp()[1] / 1000, message.key(), message.value()))
            if message.offset() >= ends[message.partition()] - 1:
                open_partitions.discard(message.partition())
        return sorted(messages, key=lambda m: m.timestamp_s)
    finally:
        consumer.close()


def _is_checkout_page(alert: AlertV1) -> bool:
    return (
        alert.labels.get("slo") == AVAILABILITY.name
        and alert.labels.get("severity") == "page"
        and alert.labels.get("http_route") == ROUTE
    )


def _wait_for_alert(
    settings: Settings,
    since_s: float,
    status: str,
    episode: str | None = None,
    timeout_s: float = RESOLVE_TIMEOUT_S,
) -> tuple[AlertV1, float]:
    """The first checkout page event with ``status`` (of ``episode`` if given) and its record time."""
    deadline = time.monotonic() + timeout_s
    while True:
        for message in _read(settings, settings.topic_alerts, since_s - 5):
            alert = AlertV1.model_validate_json(message.value or b"{}")
            if (
                _is_checkout_page(alert)
                and alert.status == status
                and episode in (None, alert.id)
                and alert.startsAt.timestamp() >= since_s
            ):
                return alert, message.timestamp_s
        assert time.monotonic() < deadline, f"no {status} checkout page on {settings.topic_alerts}"
        time.sleep(1)


def _wait_in_alertmanager(
    settings: Settings, labels: dict[str, str], *, present: bool, timeout_s: float = 60.0
) -> dict | None:
    """The alert with ``labels`` as Alertmanager's API v2 lists it, once it is (``present``) or is not listed."""
    deadline = time.monotonic() + timeout_s
    while True:
        listed = httpx.get(f"{settings.alertmanager_base_url}/api/v2/alerts", timeout=5).json()
        found = next((a for a in listed if a["labels"] == labels), None)
        if (found is not None) == present or time.monotonic() > deadline:
            return found
        time.sleep(1)


def _snapshots(
    settings: Settings, objective: Objective, plateau: _Plateau, since_s: float
) -> list[dict]:
    """The ``aiops.sli`` snapshots of the checkout route evaluated inside the stream's plateau."""
    key = sli_key(objective.id, (ROUTE,)).encode()
    first, last = plateau.stream
    records = [
        json.loads(m.value or b"{}")
        for m in _read(settings, settings.topic_sli, since_s)
        if m.key == key
    ]
    return [r for r in records if first <= r["time_unix"] <= last]


def _sloth_selector(objective: Objective, extra: dict[str, str] | None = None) -> str:
    labels = {"sloth_id": objective.id, **(extra or {})}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _prometheus(settings: Settings, query: str, at: float) -> list[dict]:
    response = httpx.get(
        f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query",
        params={"query": query, "time": f"{at:.3f}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


def _recorded(
    settings: Settings,
    series: str,
    objective: Objective,
    labels: dict[str, str],
    plateau: _Plateau,
    settle_s: float = 0.0,
) -> dict[float, float]:
    """Every evaluation of a recorded series in Prometheus's plateau: {evaluation instant: value}.

    ``settle_s`` skips the plateau's first seconds for rules that read other
    recorded series (evaluated by another group up to one interval earlier).
    """
    first, last = plateau.prometheus
    span_s = math.ceil(last - first)
    result = _prometheus(settings, f"{series}{_sloth_selector(objective, labels)}[{span_s}s]", last)
    assert len(result) == 1, f"{series}: expected one series, got {result}"
    return {
        float(t): float(v) for t, v in result[0]["values"] if first + settle_s <= float(t) <= last
    }


def _instant(settings: Settings, query: str, at: float) -> float:
    result = _prometheus(settings, query, at)
    assert len(result) == 1, f"{query} at {at}: expected one series, got {result}"
    return float(result[0]["value"][1])


def _relative_difference(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


def _span(interval: tuple[float, float], origin: float) -> str:
    return f"[{interval[0] - origin:.1f}, {interval[1] - origin:.1f}]"


def _delay_stages(settings: Settings, load: Load, page: Page) -> dict[str, float]:
    """Seconds per stage, for the error point the page was decided on (the newest one up to its startsAt).

    SDK export (burst start → the point's export instant), collector → Kafka
    (→ the ``otlp_metrics`` record), decode (→ ``aiops.points``), sli route
    (→ the repartition topic), sli windows (→ the ``sli-state`` changelog
    write of its micro-batch), sli evaluate (→ the alert record).
    """
    since = load.burst_start - 5
    decided_ns = round(page.firing.startsAt.timestamp() * 1e9)
    errors = [
        (m, p) for m in _read(settings, settings.topic_points, since) for p in points_in(m.value)
    ]
    errors = [
        (m, p)
        for m, p in errors
        if _is_checkout_error(p)
        and p["count"] > 0
        and load.burst_start * 1e9 <= p["time_unix_nano"] <= decided_ns + 1_000
    ]
    assert errors, "no error point of the burst on aiops.points up to the page's startsAt"
    point_message, point = max(errors, key=lambda e: e[1]["time_unix_nano"])
    exported_ns = point["time_unix_nano"]
    exported_s = exported_ns / 1e9
    otlp = next(
        m
        for m in _read(settings, settings.topic_otlp_metrics, since)
        if any(
            isinstance(o, Observation)
            and o.time_unix_nano == exported_ns
            and _is_checkout_error({"metric": o.metric, "attributes": o.attributes})
            for o in flatten(decode_metrics(m.value or b""))
        )
    )
    routed = next(
        m
        for m in _read(settings, sli_events_topic(settings), since)
        if _is_routed_error(json.loads(m.value or b"{}"), exported_s)
    )
    key = sli_key(AVAILABILITY.id, (ROUTE,))
    state = next(
        m
        for m in _read(settings, changelog_topic(settings, SLI_STATE_TABLE), since)
        if m.timestamp_s >= routed.timestamp_s
        and m.key is not None
        and json.loads(m.key) == key
        and json.loads(m.value or b"{}")["windows"]["watermark"] >= exported_s
    )
    return {
        "sdk export": exported_s - load.burst_start,
        "collector → kafka (otlp_metrics)": otlp.timestamp_s - exported_s,
        "decode (aiops.points)": point_message.timestamp_s - otlp.timestamp_s,
        "sli route (repartition topic)": routed.timestamp_s - point_message.timestamp_s,
        "sli windows (micro-batch, state)": state.timestamp_s - routed.timestamp_s,
        "sli evaluate (aiops.alerts)": page.firing_record_s - state.timestamp_s,
    }


def _is_checkout_error(point: dict) -> bool:
    attributes = point.get("attributes") or {}
    return (
        point.get("metric") == "http.server.request.duration"
        and attributes.get("http.route") == ROUTE
        and str(attributes.get("http.response.status_code", "")).startswith("5")
    )


def _is_routed_error(event: dict, exported_s: float) -> bool:
    return (
        event.get("slo") == AVAILABILITY.id
        and event.get("group") == [ROUTE]
        and abs(float(event.get("t", 0)) - exported_s) < 1e-6
        and event["good"] < event["total"]
    )
