"""A native latency SLO on a real Kafka broker, fed by what an OTel SDK exports with exponential histograms.

The SDK's cumulative exports go through the real decode (``decode_payload_v2``)
onto the points topic as the decode agent writes them; the worker's SLI
agents must count the good events and the p95 as the pure functions do on
the same points, and say that the count was interpolated.
"""

import time

import pytest
from confluent_kafka import Producer

from aiops.cli.tail import follow
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import check_points
from aiops.kafka_config import client_config
from aiops.schemas import SliV2
from aiops.slo.exponential_histogram import sum_histograms
from aiops.slo.objective import exponential_of, objectives_from
from aiops.slo.quantile import native_histogram_quantile
from aiops.slo.spec import parse_slos
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from support.exponential_gen import SdkExponentialExports

pytestmark = pytest.mark.integration

SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: latency-native
spec:
  service: exp-demo
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          spec:
            metric: latency
            unit: s
            instrument: histogram
            histogram: native
  timeWindow:
    - duration: 1h
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - op: lte
      value: 0.05
      target: 0.9
  alerting:
    pageAlert:
      disable: true
    ticketAlert:
      disable: true
"""
KEY = "exp-demo-latency-native|[]"


def test_a_native_latency_slo_counts_and_ranks_as_the_pure_functions_do(worker_settings, tmp_path):
    spec = tmp_path / "slos.yaml"
    spec.write_text(SPEC)
    settings = worker_settings(
        slo_file=spec,
        sli_evaluate_interval_s=0.5,
        sli_max_lateness_s=5.0,
        sli_buckets_per_window=30,
    )
    (objective,) = objectives_from(parse_slos(SPEC))
    sdk, state = SdkExponentialExports(seed=9), DeltaState()
    producer = Producer(client_config(settings))
    points = []
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        for step in range(6):
            for record in decode_payload_v2(
                sdk.export(40, spread=0.5 + step / 4), lambda key: state
            ).records:
                points += check_points(record.value).points()
                producer.produce(settings.topic_points, key=record.key, value=record.value)
            assert producer.flush(10) == 0
            time.sleep(0.5)
        good = sum(objective.events(p)[0] for p in points)
        total = sum(p["count"] for p in points)
        want = sum_histograms(*(exponential_of(p) for p in points))
        snapshot = None
        for record in follow(settings, settings.topic_sli, from_beginning=True, idle_timeout_s=20):
            if record.key == KEY and record.value["windows"]["5m"]["total"] == total:
                snapshot = record.value
                break
    finally:
        worker.stop()

    assert snapshot is not None, "no snapshot with every request"
    SliV2.model_validate(snapshot)
    assert snapshot["interpolated"] is True
    assert snapshot["windows"]["5m"]["good"] == pytest.approx(good, rel=1e-9)
    assert 0 < good < total
    assert snapshot["latency"]["5m"]["p95"] == pytest.approx(
        native_histogram_quantile(0.95, want), rel=1e-9
    )
