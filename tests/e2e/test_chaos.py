"""Chaos on the local stack: the worker and the broker killed, during a page; then the worker killed mid-window.

A stack of this module's own runs ``fixtures/agreement-slos.yaml`` (the page's
quick pair over 1m and 1m30s, see ``test_slo_agreement``), with the demo
exporting every second and the stream evaluating every two. The test alone
sends checkouts, at ``RATE`` per second from start to end, so the checkout
route's SLI counts exactly the requests the load generator got answers to.

The detectors may alert after ``MIN_HISTORY`` scored exports (the stack's
policy, in place of the default 300), and the fault waits until the
service's error percentage has that many scores.

1. Every checkout answers 500 until the availability page and an anomaly
   alert fire (Alertmanager lists the anomaly once); then the
   worker (the child of ``aiops worker --restart``) gets ``kill -9``, then the
   broker gets ``kill -9`` and is started again, with the fault still on; the
   worker must ride the broker's death out by itself.
2. The fault is cleared; a few seconds into the short window that now holds
   good and bad checkouts, the worker gets ``kill -9`` again.

Recovery is measured, printed and not bounded tightly: time until the
worker's ``/health`` answers 200 again, and until an ``aiops.sli`` snapshot
holds a point exported after the kill (or after the broker came back), i.e.
until the pipeline processes again.

What must hold:
- every SLO episode id on ``aiops.alerts`` has one firing event, every
  anomaly episode id one alert (its firing events, sent at least once, carry
  the same labels and start), and no label set has a second episode while
  its first is firing (a restart that lost the alert state would open one);
  the page and the first anomaly are listed by Alertmanager once, with their
  episode's ``startsAt``;
- after recovery the SLI snapshot equals an uninterrupted run's: its 30-day
  window (older than the stack, so nothing is pro-rated) holds exactly the
  checkouts sent, good and total, so no event was lost or counted twice
  across the three restarts.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from tests.e2e.conftest import PORT_OFFSET, e2e_settings

from aiops.anomaly.engine import scores_of
from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_in
from aiops.kafka_config import client_config
from aiops.schemas.alerts import AlertV1
from aiops.settings import Settings
from aiops.slo.durations import format_duration
from aiops.slo.objective import load_objectives
from aiops.stack.kafka import kafka_component
from aiops.stack.local import down, up
from aiops.stack.process import ManagedProcess, http_ok, port_is_free
from aiops.stream.sli_agent import sli_key
from aiops.topics import sli_events_topic
from aiops_producers.loadgen import run_load
from aiops_producers.routes import RouteMix, RouteSpec, order

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "fixtures" / "agreement-slos.yaml"
AVAILABILITY, _ = load_objectives(SPEC)
ROUTE = "/api/checkout"
CHECKOUTS = RouteMix((RouteSpec("POST", ROUTE, 1.0, order),))
MODULE_PORT_OFFSET = PORT_OFFSET + 1500
"""Ports of this module's stack, beside the session's (``+0``), agreement's (``+500``) and anomaly's (``+1000``)."""

RATE = 20.0
REQUEST_METRIC = "http.server.request.duration"
EXPORT_MS = 1000
EVALUATE_INTERVAL_S = 2.0
MID_WINDOW_S = 15.0
"""Seconds of good checkouts after the fault before the second kill: the short window holds both kinds."""
RECOVERY_TIMEOUT_S = 120.0
DRAIN_SLACK_S = 3.0
"""After the load stops: one export, the collector's batch, decode and the window's micro-batch."""

PERIOD = format_duration(AVAILABILITY.window_s)
MIN_HISTORY = 20
"""Scored exports before a series may raise an anomaly alert: the stack's policy, in place of the default 300."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Settings]:
    settings = e2e_settings(
        tmp_path_factory.mktemp("chaos-stack"),
        MODULE_PORT_OFFSET,
        slo_file=SPEC,
        sli_evaluate_interval_s=EVALUATE_INTERVAL_S,
        otlp_export_interval_ms=EXPORT_MS,
        detect_alert_policy={"default": {"min_history": MIN_HISTORY, "min_points": 2}},
    )
    try:
        up(settings, print, with_load=False)
        yield settings
    finally:
        down(settings, print)


@dataclass
class _Checkouts:
    """Checkouts at ``RATE`` in a thread until ``stop``, in two-second runs whose answers are summed."""

    settings: Settings
    counts: Counter = field(default_factory=Counter)
    transport_errors: Counter = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            summary = run_load(
                self.settings.demo_url, rate=RATE, duration_s=2.0, mix=CHECKOUTS, progress=False
            )
            self.counts.update(summary.counts)
            self.transport_errors.update(summary.transport_errors)

    def stop(self) -> float:
        """Stop after the current run; the time its last request was answered."""
        self.stopping.set()
        self._thread.join(timeout=30)
        return time.time()


class _Snapshots:
    """The checkout route's availability snapshots on ``aiops.sli``, read in a thread as they arrive.

    Each is kept with its arrival time; the consumer rides out the broker's kill and restart.
    """

    def __init__(self, settings: Settings):
        self.key = sli_key(AVAILABILITY.id, (ROUTE,)).encode()
        self.arrived: list[tuple[float, dict]] = []
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                **client_config(settings),
                "group.id": f"aiops-chaos-{os.getpid()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 0,
            }
        )
        self._consumer.subscribe([settings.topic_sli])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.2)
            if message is not None and not message.error() and message.key() == self.key:
                self.arrived.append((time.time(), json.loads(message.value())))
        self._consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def first_holding(self, since_s: float, timeout_s: float = RECOVERY_TIMEOUT_S) -> dict:
        """The first snapshot with a point exported after ``since_s`` (its watermark); waits for it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for _, snapshot in list(self.arrived):
                if snapshot["time_unix"] > since_s:
                    return snapshot
            time.sleep(0.1)
        raise AssertionError(f"no {AVAILABILITY.name} snapshot with a point after {since_s:.1f}")

    def arrival_of(self, since_s: float) -> float:
        """When the first snapshot holding a point exported after ``since_s`` arrived."""
        self.first_holding(since_s)
        return next(at for at, s in self.arrived if s["time_unix"] > since_s)


def _worker_pid(settings: Settings) -> int:
    """The worker process: the one child of the restart loop whose pid the stack tracks."""
    loop_pid = int((settings.stack_dir / "run" / "worker.pid").read_text())
    children = Path(f"/proc/{loop_pid}/task/{loop_pid}/children").read_text().split()
    assert len(children) == 1, f"the restart loop {loop_pid} has children {children}"
    return int(children[0])


def _kill_worker(settings: Settings, snapshots: _Snapshots) -> dict[str, float]:
    """``kill -9`` the worker; seconds until ``/health`` answers 200 and until it processes a new point."""
    pid = _worker_pid(settings)
    health = f"http://127.0.0.1:{settings.faust_web_port}/health"
    killed = time.time()
    os.kill(pid, signal.SIGKILL)
    while http_ok(health, timeout_s=0.5) and time.time() - killed < 10:
        time.sleep(0.05)
    while not http_ok(health, timeout_s=0.5):
        assert time.time() - killed < RECOVERY_TIMEOUT_S, "the worker did not come back"
        time.sleep(0.1)
    healthy = time.time()
    assert _worker_pid(settings) != pid, "the restart loop must have started a new worker"
    processing = snapshots.arrival_of(killed)
    return {"health 200": healthy - killed, "next snapshot with a new point": processing - killed}


def _kill_broker(settings: Settings, snapshots: _Snapshots) -> dict[str, float]:
    """``kill -9`` the broker and start it again; seconds until it answers and until the worker processes a new point."""
    broker = ManagedProcess(kafka_component(settings), settings)
    pid = broker.pid
    assert pid is not None, "the broker must have been running"
    began = time.time()
    os.killpg(pid, signal.SIGKILL)
    while broker.pid is not None or not all(map(port_is_free, broker.component.ports.values())):
        time.sleep(
            0.05
        )  # the JVM's last threads close its sockets after its main thread is a zombie
    broker.start()
    back = time.time()
    processing = snapshots.arrival_of(back)
    return {
        "broker answers again": back - began,
        "next snapshot with a new point": processing - began,
    }


def _set_fault(settings: Settings) -> None:
    httpx.post(
        f"{settings.demo_url}/faults",
        json={"route": ROUTE, "error_rate": 1.0, "duration_s": 600},
        timeout=10,
    ).raise_for_status()


def _clear_faults(settings: Settings) -> None:
    httpx.delete(f"{settings.demo_url}/faults", timeout=10).raise_for_status()


def _alerts(settings: Settings) -> list[AlertV1]:
    """Every event on ``aiops.alerts`` so far, in offset order per partition."""
    return [
        AlertV1.model_validate_json(m.value()) for m in _records(settings, settings.topic_alerts)
    ]


def _checkouts_by_stage(settings: Settings) -> dict[str, tuple[float, float]]:
    """(total, good) checkouts on ``aiops.points`` and in the distinct routed SLI events (by points record).

    They say where a count went wrong: before the SLI stage (decode), in its
    route, or in its windows.
    """
    points = Counter()
    for message in _records(settings, settings.topic_points):
        for point in points_in(message.value()):
            attributes = point.get("attributes") or {}
            if point.get("metric") == REQUEST_METRIC and attributes.get("http.route") == ROUTE:
                status = int(attributes.get("http.response.status_code", 0))
                points["total"] += point["count"]
                points["good"] += point["count"] if status < 500 else 0
    routed = {}
    for message in _records(settings, sli_events_topic(settings)):
        event = json.loads(message.value())
        if event.get("slo") == AVAILABILITY.id and event.get("group") == [ROUTE]:
            routed[(tuple(event["source"]), event["t"])] = (event["total"], event["good"])
    return {
        "aiops.points": (points["total"], points["good"]),
        "routed events": tuple(sum(column) for column in zip(*routed.values(), strict=True)),
    }


def _records(settings: Settings, topic: str) -> list:
    """Every record of ``topic`` so far, in offset order per partition."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"aiops-chaos-read-{os.getpid()}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records = []
        while ends:
            message = consumer.poll(10)
            assert message is not None, f"{topic}: partitions {sorted(ends)} stopped short"
            if message.error():
                continue
            records.append(message)
            if message.offset() + 1 >= ends.get(message.partition(), 0):
                ends.pop(message.partition(), None)
        return records
    finally:
        consumer.close()


def _wait_for_page(settings: Settings, since_s: float) -> AlertV1:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        for alert in _alerts(settings):
            if (
                _is_checkout_page(alert)
                and alert.status == "firing"
                and alert.startsAt.timestamp() >= since_s
            ):
                return alert
        time.sleep(1)
    raise AssertionError("a 100% error burst on the checkout route must page")


def _wait_for_warm_up(settings: Settings) -> int:
    """Wait until the service's error percentage has ``MIN_HISTORY`` scores and a few more; their count."""
    scored = 0
    for record in follow(settings, settings.topic_scores, from_beginning=True, idle_timeout_s=30):
        scored += sum(
            s["metric"] == REQUEST_METRIC and s["signal"] == "error_percent"
            for s in scores_of(record.value)
        )
        if scored >= MIN_HISTORY + 5:
            return scored
    raise AssertionError(f"the service's error percentage was scored {scored} times, then nothing")


def _wait_for_anomaly(settings: Settings, since_s: float) -> AlertV1:
    """The first ``AnomalyDetected`` episode that fires on the request metric after ``since_s``."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        for alert in _alerts(settings):
            if (
                _is_anomaly(alert)
                and alert.status == "firing"
                and alert.startsAt.timestamp() >= since_s
            ):
                return alert
        time.sleep(1)
    raise AssertionError("a 100% error burst on the checkout route must raise an anomaly alert")


def _is_anomaly(alert: AlertV1) -> bool:
    return alert.labels.get("alertname") == "AnomalyDetected"


def _is_checkout_page(alert: AlertV1) -> bool:
    return (
        alert.labels.get("slo") == AVAILABILITY.name
        and alert.labels.get("severity") == "page"
        and alert.labels.get("http_route") == ROUTE
    )


def _in_alertmanager(settings: Settings, labels: dict[str, str]) -> list[dict]:
    listed = httpx.get(f"{settings.alertmanager_base_url}/api/v2/alerts", timeout=5).json()
    return [a for a in listed if a["labels"] == labels]


def _listed_by_alertmanager(
    settings: Settings, alert: AlertV1, timeout_s: float = 30
) -> list[dict]:
    """Alertmanager's alerts with ``alert``'s labels, once the forwarder has posted it (or after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not (listed := _in_alertmanager(settings, alert.labels)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return listed


def _episode_faults(events: list[AlertV1]) -> list[str]:
    """What breaks "one alert per episode": a second firing event of an SLO episode, an anomaly episode fired
    as two alerts, or overlapping episodes of one label set.

    The detect agent delivers at least once: after a restart it sends what
    it scored since its last checkpoint again, an alert with the same id,
    labels and start (its annotations may differ), which Alertmanager takes
    as the same alert.
    """
    faults = []
    firing = Counter(e.id for e in events if e.status == "firing" and not _is_anomaly(e))
    faults += [f"episode {i} fired {n} times" for i, n in firing.items() if n > 1]
    alerts = defaultdict(set)
    for event in events:
        if event.status == "firing":
            alerts[event.id].add((json.dumps(event.labels, sort_keys=True), event.startsAt))
    faults += [f"episode {i} fired as {len(a)} alerts" for i, a in alerts.items() if len(a) > 1]
    open_episode: dict[str, str] = {}
    by_labels: defaultdict[str, list[AlertV1]] = defaultdict(list)
    for event in events:
        by_labels[json.dumps(event.labels, sort_keys=True)].append(event)
    for labels, stream in by_labels.items():
        for event in sorted(stream, key=lambda e: (e.startsAt, e.status == "resolved")):
            current = open_episode.get(labels)
            if event.status == "firing" and current not in (None, event.id):
                faults.append(f"{labels}: episode {event.id} opened while {current} fires")
            if event.status == "firing":
                open_episode[labels] = event.id
            elif current == event.id:
                del open_episode[labels]
    return faults


def test_worker_and_broker_kills_lose_no_event_and_page_once(stack: Settings):
    settings = stack
    snapshots = _Snapshots(settings)
    load = _Checkouts(settings)
    try:
        snapshots.first_holding(time.time())
        warm_up = _wait_for_warm_up(settings)
        fault_at = time.time()
        _set_fault(settings)
        anomaly = _wait_for_anomaly(settings, fault_at)
        anomaly_listed = _listed_by_alertmanager(settings, anomaly)
        page = _wait_for_page(settings, fault_at)
        recovery = {
            "worker kill -9 (during the page)": _kill_worker(settings, snapshots),
            "broker kill -9 (during the page)": _kill_broker(settings, snapshots),
        }
        listed = _in_alertmanager(settings, page.labels)
        _clear_faults(settings)
        time.sleep(MID_WINDOW_S)
        recovery["worker kill -9 (mid-window)"] = _kill_worker(settings, snapshots)
    finally:
        load_end = load.stop()
        _clear_faults(settings)
    try:
        final = snapshots.first_holding(load_end + DRAIN_SLACK_S)
    finally:
        snapshots.close()
    events = _alerts(settings)
    stages = _checkouts_by_stage(settings)

    print()
    for what, seconds in recovery.items():
        print(f"{what}: " + ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items()))
    sent = sum(load.counts.values())
    errors = sum(n for (_, status), n in load.counts.items() if status >= 500)
    period = final["windows"][PERIOD]
    print(
        f"checkouts answered {sent} ({errors} with 5xx), transport errors "
        f"{sum(load.transport_errors.values())}; the stream's {PERIOD} window after recovery: "
        f"total {period['total']}, good {period['good']}"
    )
    for stage, (total, good) in stages.items():
        print(f"  {stage}: total {total}, good {good}")
    pages = [e for e in events if _is_checkout_page(e) and e.status == "firing"]
    anomalies = Counter(e.id for e in events if _is_anomaly(e) and e.status == "firing")
    print(
        f"alert events: {len(events)}; checkout page episodes: {[p.id for p in pages]}; "
        f"anomaly episodes (firing events) after {warm_up} warm-up scores: {dict(anomalies)}, "
        f"first: {anomaly.labels}"
    )

    assert not load.transport_errors, "every checkout must be answered, or the count is unknown"
    assert errors > 0 and sent > errors, "the load must hold bad and good checkouts"
    assert stages["aiops.points"] == (sent, sent - errors), "decode must lose no checkout"
    assert (period["total"], period["good"]) == (sent, sent - errors), (
        f"after recovery the SLI must count every checkout once ({stages})"
    )
    assert _episode_faults(events) == []
    assert [p.id for p in pages] == [page.id], "the page fires once across the restarts"
    assert [_to_ms(datetime.fromisoformat(a["startsAt"])) for a in listed] == [
        _to_ms(page.startsAt)
    ], f"Alertmanager must list the page once, with its episode's start: {listed}"
    assert anomalies[anomaly.id] >= 1
    assert [_to_ms(datetime.fromisoformat(a["startsAt"])) for a in anomaly_listed] == [
        _to_ms(anomaly.startsAt)
    ], f"Alertmanager must list the anomaly once, with its episode's start: {anomaly_listed}"


def _to_ms(at: datetime) -> datetime:
    """``at`` cut to the millisecond, as Alertmanager keeps it."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
