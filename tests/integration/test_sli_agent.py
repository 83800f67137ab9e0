"""The sli agent on a real Kafka broker: snapshots, one page per error burst, and state across a restart
(also one with other windows and bucket counts).

The SLO's alert windows are scaled down to seconds through the spec (no
special code path): page 14.4x over 20s and 3s, page 6x over 40s and 6s.
Points are produced straight to the points topic as the decode agent writes them.
"""

import json
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from aiops.cli.tail import follow
from aiops.kafka_config import client_config
from aiops.schemas import DeadLetterV1, SliV2
from aiops.schemas.alerts import AlertV1
from aiops.settings import Settings
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from aiops.topics import TopicSpec, sli_events_topic, state_topics

pytestmark = pytest.mark.integration

SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: demo-service
  indicator:
    spec:
      ratioMetric:
        bad:
          metricSource:
            spec:
              metric: http.server.request.duration
              unit: s
              matchers: ['http.response.status_code=~"5.."']
        total:
          metricSource:
            spec:
              metric: http.server.request.duration
              unit: s
  timeWindow:
    - duration: 1h
      isRolling: true
  budgetingMethod: Occurrences
  groupBy: [http.route]
  objectives:
    - target: 0.99
  alerting:
    minEvents: 1
    windows:
      page:
        quick: {burnRate: 14.4, shortWindow: 3s, longWindow: 20s}
        slow: {burnRate: 6, shortWindow: 6s, longWindow: 40s}
      ticket:
        quick: {burnRate: 3, shortWindow: 1m, longWindow: 10m}
        slow: {burnRate: 1, shortWindow: 2m, longWindow: 20m}
    ticketAlert:
      disable: true
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
spec:
  service: demo-service
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          spec:
            metric: http.server.request.duration
            unit: s
            instrument: histogram
            buckets: [0.1, 1]
  timeWindow:
    - duration: 1h
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - op: lte
      value: 0.1
      target: 0.99
  groupBy: [http.route]
  alerting:
    pageAlert:
      disable: true
    ticketAlert:
      disable: true
"""
LATENCY_KEY = 'demo-service-checkout-latency|["/api/checkout"]'

KEY = 'demo-service-checkout-availability|["/api/checkout"]'


def point(status: int, count: int, t_ns: int) -> dict:
    return {
        "schema": "aiops.points/v1",
        "series": f"duration{{status={status}}}",
        "metric": "http.server.request.duration",
        "kind": "histogram",
        "unit": "s",
        "resource": {"service.name": "demo-service"},
        "attributes": {"http.route": "/api/checkout", "http.response.status_code": status},
        "interval_start_unix_nano": t_ns - 250_000_000,
        "time_unix_nano": t_ns,
        "monotonic": True,
        "reset": False,
        "value": 0.0,
        "count": count,
        "sum": 0.01 * count,
        "bounds": [0.1, 1.0],
        "bucket_counts": [count, 0, 0],
    }


class Traffic(threading.Thread):
    """Points every 0.25 s at wall-clock event time: 10 requests each, good or bad by ``mode``."""

    def __init__(self, settings: Settings):
        super().__init__(daemon=True)
        self.settings = settings
        self.mode = "healthy"
        self.halt = threading.Event()

    def run(self) -> None:
        producer = Producer(client_config(self.settings))
        while not self.halt.is_set():
            t = time.time_ns()
            status = 200 if self.mode == "healthy" else 503
            record = point(status, 10, t)
            producer.produce(
                self.settings.topic_points, key=record["series"].encode(), value=json.dumps(record)
            )
            producer.poll(0)
            time.sleep(0.25)
        producer.flush(10)


@pytest.fixture
def settings(worker_settings, tmp_path):
    spec = tmp_path / "slos.yaml"
    spec.write_text(SPEC)
    return worker_settings(
        slo_file=spec,
        sli_evaluate_interval_s=0.5,
        sli_max_lateness_s=5.0,
        sli_buckets_per_window=30,
    )


def alerts(settings: Settings, until, timeout_s: float) -> list[AlertV1]:
    """The SLO's alert events from the beginning, until ``until(events)`` holds or nothing new arrives for
    ``timeout_s`` (the detect agent's anomaly alerts on the same topic are not this test's business)."""
    events: list[AlertV1] = []
    for record in follow(
        settings, settings.topic_alerts, from_beginning=True, idle_timeout_s=timeout_s
    ):
        event = AlertV1.model_validate(record.value)
        if event.labels["alertname"] != "SLOBurnRate":
            continue
        events.append(event)
        if until(events):
            break
    return events


def test_a_burst_pages_once_resolves_once_and_a_restart_keeps_the_episode(settings):
    worker = ManagedProcess(worker_component(settings), settings)
    traffic = Traffic(settings)
    worker.start()
    try:
        traffic.start()
        time.sleep(4)
        traffic.mode = "burst"
        fired = alerts(settings, lambda e: any(a.status == "firing" for a in e), timeout_s=20)
        assert [a.status for a in fired] == ["firing"], "the burst must page once"
        page = fired[0]
        assert page.labels == {
            "alertname": "SLOBurnRate",
            "severity": "page",
            "slo": "checkout-availability",
            "service": "demo-service",
            "http_route": "/api/checkout",
        }
        assert (
            "burn rate" in page.annotations["description"]
            and "Budget remaining" in page.annotations["description"]
        )
        assert (
            f":{settings.prometheus_port}/graph?g0.expr=slo%3Acurrent_burn_rate"
            in page.generatorURL
        )

        worker.stop()  # the burst goes on while the worker is down
        time.sleep(2)
        worker.start()
        time.sleep(3)
        traffic.mode = "healthy"
        events = alerts(settings, lambda e: any(a.status == "resolved" for a in e), timeout_s=30)
        assert [a.status for a in events] == ["firing", "resolved"], (
            "a restart must neither re-fire nor lose it"
        )
        assert events[1].id == page.id and events[1].endsAt > page.startsAt

        time.sleep(2)
        assert len(alerts(settings, lambda e: False, timeout_s=2)) == 2, (
            "nothing after the resolution"
        )
    finally:
        traffic.halt.set()
        worker.stop()

    records = list(follow(settings, settings.topic_sli, from_beginning=True, idle_timeout_s=3))
    snapshots = [r.value for r in records if r.key == KEY]
    for snapshot in (r.value for r in records):
        SliV2.model_validate(snapshot)
    assert snapshots and snapshots[0]["schema"] == "aiops.sli/v2"
    assert snapshots[0]["group"] == {"http_route": "/api/checkout"}
    short_ratios = [s["windows"]["3s"]["error_ratio"] for s in snapshots]
    assert 0.0 in short_ratios and 1.0 in short_ratios, "healthy and 100% error snapshots"
    burst = next(s for s in snapshots if s["windows"]["3s"]["error_ratio"] == 1.0)
    assert burst["windows"]["3s"]["burn_rate"] == pytest.approx(100.0)
    assert burst["severities"]["page"] == "firing"
    assert set(burst["windows"]) == {"3s", "6s", "20s", "40s", "1m", "2m", "10m", "20m", "1h"}

    latency = [r.value for r in records if r.key == LATENCY_KEY]
    assert latency and "latency" not in snapshots[-1]
    # every request in the lowest bucket (0, 0.1]: interpolated from 0, as histogram_quantile does
    assert latency[-1]["latency"]["5m"] == pytest.approx({"p50": 0.05, "p95": 0.095, "p99": 0.099})
    assert latency[-1]["windows"]["5m"]["error_ratio"] == 0.0


def test_a_worker_restarted_with_other_windows_keeps_its_state_and_evaluates(settings, tmp_path):
    """The page-quick long window goes from 20s to 30s and windows from 30 to 20 buckets, across a restart."""
    worker = ManagedProcess(worker_component(settings), settings)
    traffic = Traffic(settings)
    worker.start()
    try:
        traffic.start()
        time.sleep(6)
        worker.stop()
        changed = tmp_path / "changed.yaml"
        changed.write_text(SPEC.replace("longWindow: 20s", "longWindow: 30s"))
        after = settings.model_copy(update={"slo_file": changed, "sli_buckets_per_window": 20})
        worker = ManagedProcess(worker_component(after), after)
        worker.start()
        time.sleep(6)
    finally:
        traffic.halt.set()
        worker.stop()

    records = list(follow(settings, settings.topic_sli, from_beginning=True, idle_timeout_s=3))
    for record in records:
        SliV2.model_validate(record.value)
    snapshots = [r.value for r in records if r.key == KEY]
    before = [s for s in snapshots if "20s" in s["windows"]]
    resumed = [s for s in snapshots if "30s" in s["windows"]]
    assert before and all(w["complete"] for s in before for w in s["windows"].values())
    assert len(resumed) >= 3, "evaluation goes on after the restart"
    assert "20s" not in resumed[0]["windows"]
    added = resumed[0]["windows"]["30s"]
    assert not added["complete"]
    assert before[0]["time_unix"] < added["since_unix"] <= resumed[0]["time_unix"]
    assert all(w["complete"] for name, w in resumed[0]["windows"].items() if name != "30s")
    assert resumed[0]["windows"]["1h"]["total"] >= before[-1]["windows"]["1h"]["total"], (
        "the windows that stay keep their events"
    )
    assert resumed[-1]["severities"] == {"page": "ok"}

    latency = [r.value for r in records if r.key == LATENCY_KEY]
    saved = [s for s in latency if s["time_unix"] <= before[-1]["time_unix"]]
    restored = [s for s in latency if s["time_unix"] >= resumed[0]["time_unix"]]
    assert restored[0]["windows"]["5m"]["total"] >= saved[-1]["windows"]["5m"]["total"]
    assert restored[-1]["latency"]["5m"]["p50"] == pytest.approx(0.05), "bucket counts re-bucketed"


def test_state_topics_include_the_sli_state_and_repartition_topics():
    names = {t.name for t in state_topics(Settings(faust_app_id="x"))}
    assert {"x-sli-state-changelog", "x-sli-events-repartition"} <= names
    assert all(isinstance(t, TopicSpec) for t in state_topics(Settings()))


def test_impossible_points_are_refused_at_the_door_and_the_agent_keeps_going(settings):
    """Points that would make impossible SLI events are refused: a negative count at the SLI route's
    door (``check_points``), more good than total events by the windows (``ImpossibleEvents``)."""
    import json

    t = time.time_ns()
    over = point(200, 3, t)
    over["bucket_counts"] = [10, 0, 0]  # 10 requests at or below 0.1 s of 3 in all
    negative = point(200, -5, t + 250_000_000)
    good = point(200, 10, t + 500_000_000)
    producer = Producer(client_config(settings))
    for record in (over, negative, good):
        producer.produce(
            settings.topic_points, key=record["series"].encode(), value=json.dumps(record)
        )
    assert producer.flush(10) == 0

    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        dead = []
        for record in follow(
            settings, settings.topic_deadletter, from_beginning=True, idle_timeout_s=30
        ):
            letter = DeadLetterV1.model_validate(record.value)
            if letter.stage == "sli":
                dead.append(letter)
            if len(dead) == 2:
                break
        snapshot = next(
            r.value
            for r in follow(settings, settings.topic_sli, from_beginning=True, idle_timeout_s=30)
            if r.key == LATENCY_KEY
        )
        assert worker.pid is not None, "an impossible event must not stop the worker"
    finally:
        worker.stop()

    by_kind = {d.kind: d for d in dead}
    assert set(by_kind) == {"impossible_sli_event", "bad_points_record"}, dead
    refused = by_kind["bad_points_record"]
    assert (refused.source.topic, refused.source.offset) == (settings.topic_points, 1)
    assert "good_over_total" in by_kind["impossible_sli_event"].reason
    assert snapshot["windows"]["5m"]["total"] == 10, "only the possible point is counted"


def test_events_past_the_saved_state_are_counted_when_the_commit_ran_ahead(settings):
    """A worker killed after Faust committed SLI events whose state never reached the changelog.

    The events topic holds 20 events of one key and the worker's group has
    committed past all of them, while the table holds nothing: the state a
    ``kill -9`` loses between a commit and its changelog. The windows must
    still count them, once, besides the event that arrives next.
    """
    topic = sli_events_topic(settings)
    now = time.time()

    def event(i: int, t: float) -> bytes:
        return json.dumps(
            {
                "slo": "demo-service-checkout-availability",
                "group": ["/api/checkout"],
                "t": t,
                "good": 9,
                "total": 10,
                "source": [0, i],
            }
        ).encode()

    producer = Producer(client_config(settings))
    for i in range(20):
        producer.produce(topic, key=json.dumps(KEY), value=event(i, now - 20 + i), partition=0)
    assert producer.flush(10) == 0
    group = Consumer({**client_config(settings), "group.id": settings.faust_app_id})
    group.commit(offsets=[TopicPartition(topic, 0, 20)], asynchronous=False)
    group.close()

    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        producer.produce(topic, key=json.dumps(KEY), value=event(20, time.time()), partition=0)
        assert producer.flush(10) == 0
        totals = []
        for record in follow(settings, settings.topic_sli, from_beginning=True, idle_timeout_s=5):
            if record.key == KEY:
                totals.append(record.value["windows"]["1h"]["total"])
                if totals[-1] == 210 or len(totals) >= 6:
                    break
    finally:
        worker.stop()
    assert totals and totals[-1] == 210, f"every event counted once: {totals}"


def test_an_open_episode_of_a_severity_the_new_spec_disables_is_resolved(settings, tmp_path):
    """The page fires, then the worker restarts with ``pageAlert: disable``: the episode ends ``disabled``."""
    worker = ManagedProcess(worker_component(settings), settings)
    traffic = Traffic(settings)
    worker.start()
    try:
        traffic.start()
        time.sleep(3)
        traffic.mode = "burst"
        fired = alerts(settings, lambda e: any(a.status == "firing" for a in e), timeout_s=20)
        assert [a.status for a in fired] == ["firing"], "the burst must page"
        worker.stop()
        disabled = tmp_path / "no-page.yaml"
        disabled.write_text(
            SPEC.replace(
                "    ticketAlert:\n      disable: true\n---",
                "    pageAlert:\n      disable: true\n    ticketAlert:\n      disable: true\n---",
            )
        )
        after = settings.model_copy(update={"slo_file": disabled})
        worker = ManagedProcess(worker_component(after), after)
        worker.start()
        events = alerts(settings, lambda e: any(a.status == "resolved" for a in e), timeout_s=15)
    finally:
        traffic.halt.set()
        worker.stop()
    assert [a.status for a in events] == ["firing", "resolved"], "the burst goes on, the page ends"
    assert events[1].id == fired[0].id
    assert events[1].annotations["resolution"] == "disabled"
