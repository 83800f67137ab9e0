"""The detect agent on a real Kafka broker: killed mid-stream (SIGKILL) and restarted, it scores as if never stopped.

Two services export a gauge per route every 10 s of event time; one route's
gauge jumps for a few exports halfway through (one anomaly episode). The
payloads go to the OTLP topic keyed by resource, as the collector writes them.
A worker decodes and scores them; once part of the scores are out it is
killed with SIGKILL, restarted, and runs to the end.

The reference is the same engine fed, offline and uninterrupted, the very
points the worker read from ``aiops.points`` (with the gauge points the
restarted decode agent sent twice: the engine must not learn them twice). Every score the worker wrote
must equal the reference's (tolerance 0: the detector is deterministic and a
replay is not learnt twice), every track and time the reference scored must
be on ``aiops.scores``, and the one episode fires and resolves under one id
(delivery is at least once: a record sent again carries the same id and score).
"""

from __future__ import annotations

import math
import os
import signal
import time

import pytest
from confluent_kafka import Producer
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from aiops.anomaly.alert_policy import AlertPolicies
from aiops.anomaly.engine import DetectEngine, scores_of
from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_of
from aiops.kafka_config import client_config
from aiops.schemas import AlertV1, ScoresV3, ScoreV1
from aiops.settings import Settings
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess, port_is_free

pytestmark = pytest.mark.integration

T0_NS = 1_800_000_000 * 10**9
STEP_NS = 10 * 10**9
EXPORTS = 240
SPIKE = range(150, 154)
SERVICES = ("checkout", "catalog")
ROUTES = ("/a", "/b", "/c")


def depth(service: str, route: str, step: int) -> float:
    """A steady, slightly noisy gauge; catalog's /b jumps during ``SPIKE``."""
    base = 40.0 + 10 * ROUTES.index(route) + ((step * 7 + len(service)) % 5) * 0.3
    return base + 400.0 if service == "catalog" and route == "/b" and step in SPIKE else base


def payload(service: str, step: int) -> bytes:
    points = [
        pb.NumberDataPoint(
            attributes=[KeyValue(key="route", value=AnyValue(string_value=route))],
            time_unix_nano=T0_NS + step * STEP_NS,
            as_double=depth(service, route, step),
        )
        for route in ROUTES
    ]
    metric = pb.Metric(name="queue.depth", unit="1", gauge=pb.Gauge(data_points=points))
    resource = Resource(
        attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))]
    )
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=[metric])])
        ]
    ).SerializeToString()


ALERT_POLICY = {"overrides": {"queue.depth": {"alert": True}}}
"""The test's gauge is no request metric, so by default it would be scored without alerting."""


@pytest.fixture
def settings(worker_settings):
    # checkpoints every second, so a kill or a hand-over lands between two of them: restore plus replay;
    # the points are dated from T0 (January 2027), which the decode agent's window must admit
    return worker_settings(
        detect_alert_policy=ALERT_POLICY,
        detect_checkpoint_interval_s=1.0,
        decode_max_future_s=max(T0_NS / 1e9 - time.time(), 0) + 86_400,
    )


def produce(settings: Settings, steps: range) -> None:
    producer = Producer(client_config(settings))
    for step in steps:
        for service in SERVICES:
            producer.produce(
                settings.topic_otlp_metrics, key=service.encode(), value=payload(service, step)
            )
    assert producer.flush(10) == 0


def records(settings: Settings, topic: str, enough, idle_timeout_s: float = 30.0) -> list:
    out = []
    for record in follow(settings, topic, from_beginning=True, idle_timeout_s=idle_timeout_s):
        out.append(record)
        if enough(out):
            break
    return out


def scored_keys(out: list) -> set[tuple[str, int]]:
    """The (track, time) pairs among score records."""
    return {(s["track"], s["time_unix_nano"]) for r in out for s in scores_of(r.value)}


def reference(points_by_partition: dict[int, list[dict]]) -> tuple[dict, list[AlertV1]]:
    """Scores and alerts of one uninterrupted engine over the points, partition by partition in offset order."""
    engine = DetectEngine(policies=AlertPolicies.from_mapping(ALERT_POLICY))
    scores, alerts = {}, []
    for partition in sorted(points_by_partition):
        for point in points_by_partition[partition]:
            engine.add(point, now=0.0)
            closed = engine.close(now=0.0)
            scores.update({(s.track, s.time_unix_nano): s.score for s in closed.scores})
            alerts += closed.alerts
    closed = engine.close(now=0.0, force=True)  # the last exports, which the worker's timer closes
    scores.update({(s.track, s.time_unix_nano): s.score for s in closed.scores})
    return scores, alerts + closed.alerts


def assert_scores_match_an_uninterrupted_run(settings: Settings, scored: list) -> list[AlertV1]:
    """Every score the worker(s) wrote equals the reference's, every reference score was written; its alerts."""
    tracks = len(SERVICES) * len(ROUTES)
    points: dict[int, list[dict]] = {}
    for record in records(settings, settings.topic_points, lambda out: False, idle_timeout_s=5):
        points.setdefault(record.partition, []).extend(points_of(record.value))
    # gauges carry no decode state, so a restarted decode agent re-emits what it had not committed
    assert (
        len({(p["series"], p["time_unix_nano"]) for recs in points.values() for p in recs})
        == tracks * EXPORTS
    )
    for service in SERVICES:
        assert (
            len(
                {
                    p
                    for p, recs in points.items()
                    if any(f'"{service}"' in r["series"] for r in recs)
                }
            )
            == 1
        ), "all of a resource's points must share one partition"
    expected_scores, expected_alerts = reference(points)
    got: dict[tuple[str, int], float | None] = {}
    for record in scored:
        ScoresV3.model_validate(record.value)
        for value in scores_of(record.value):
            score = ScoreV1.model_validate(value)
            key = (score.track, score.time_unix_nano)
            assert got.get(key, score.score) == score.score, f"{key} scored twice, differently"
            got[key] = score.score
    assert set(got) == set(expected_scores)
    expected = {key: None if math.isnan(value) else value for key, value in expected_scores.items()}
    assert got == expected, "scores must equal the uninterrupted run's exactly"
    return expected_alerts


def test_a_worker_killed_mid_stream_resumes_with_the_same_scores_and_no_second_page(settings):
    tracks = len(SERVICES) * len(ROUTES)
    worker = ManagedProcess(worker_component(settings), settings)
    produce(settings, range(EXPORTS))
    worker.start()
    try:
        records(
            settings,
            settings.topic_scores,
            lambda out: len(scored_keys(out)) >= tracks * EXPORTS // 3,
        )
        os.killpg(worker.pid, signal.SIGKILL)
        while worker.pid is not None or not port_is_free(settings.faust_web_port):
            time.sleep(0.1)
        worker.start()
        # every export but each resource's last is closed by the next; the last by the quiet timer
        scored = records(
            settings,
            settings.topic_scores,
            lambda out: len(scored_keys(out)) >= tracks * EXPORTS,
            idle_timeout_s=60,
        )
    finally:
        worker.stop()

    expected_alerts = assert_scores_match_an_uninterrupted_run(settings, scored)
    alerts = [
        AlertV1.model_validate(r.value)
        for r in records(settings, settings.topic_alerts, lambda out: False, idle_timeout_s=5)
    ]
    anomaly = [a for a in alerts if a.labels["alertname"] == "AnomalyDetected"]
    firing = {a.id: a for a in anomaly if a.status == "firing"}
    assert list(firing) == [a.id for a in expected_alerts if a.status == "firing"], (
        "one episode, fired once"
    )
    (alert,) = firing.values()
    assert alert.labels["route"] == "/b" and alert.labels["service"] == "catalog"
    assert {a.id for a in anomaly if a.status == "resolved"} == set(firing)


def test_a_second_worker_takes_over_half_the_resources_and_their_state(
    settings, tmp_path, free_port
):
    """Rebalances both ways: a second worker joins mid-stream, then the first leaves; scores stay exact."""
    tracks = len(SERVICES) * len(ROUTES)
    first = ManagedProcess(worker_component(settings), settings)
    second_settings = settings.model_copy(
        update={"stack_dir": tmp_path / "second", "faust_web_port": free_port()}
    )
    second = ManagedProcess(worker_component(second_settings), second_settings)
    thirds = [range(80), range(80, 160), range(160, EXPORTS)]

    first.start()
    try:
        produce(settings, thirds[0])
        records(
            settings,
            settings.topic_scores,
            lambda out: len(scored_keys(out)) >= tracks * (len(thirds[0]) - 1),
        )
        second.start()
        produce(settings, thirds[1])
        records(
            settings, settings.topic_scores, lambda out: len(scored_keys(out)) >= tracks * (160 - 1)
        )
        first.stop()
        produce(settings, thirds[2])
        scored = records(
            settings,
            settings.topic_scores,
            lambda out: len(scored_keys(out)) >= tracks * EXPORTS,
            idle_timeout_s=60,
        )
    finally:
        second.stop()
        first.stop()

    expected_alerts = assert_scores_match_an_uninterrupted_run(settings, scored)
    alerts = [
        AlertV1.model_validate(r.value)
        for r in records(settings, settings.topic_alerts, lambda out: False, idle_timeout_s=5)
    ]
    firing = {
        a.id for a in alerts if a.labels["alertname"] == "AnomalyDetected" and a.status == "firing"
    }
    assert firing == {a.id for a in expected_alerts if a.status == "firing"}
    restored = [line for line in second.log_path.read_text().splitlines() if "restored {" in line]
    for service in SERVICES:
        assert any(f'service.name="{service}"' in line for line in restored), (
            f"the second worker must take {service} over from the checkpoint"
        )
