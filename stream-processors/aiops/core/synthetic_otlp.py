"""Synthetic OTLP metrics exports shaped like a fleet's, for benchmarks and tests.

Each resource is a service instance (``service.name``, ``service.instance.id``,
``host.name``, ``k8s.*``, SDK attributes) that exports, every ``interval_s``,
one payload of ``series`` series: a quarter cumulative latency histograms
(OTel's default 15 buckets, ``http.response.status_code`` as an int as the SDKs
send it), a third cumulative monotonic counters, a tenth up-down sums, the rest
gauges. Values follow per-series random walks from a seeded generator, so two
runs with the same arguments give the same bytes.

>>> exports = synthetic_exports(resources=2, series=10, exports=3, seed=1)
>>> len(exports), len(exports[0])
(3, 2)
>>> from aiops.core.otlp import decode_metrics
>>> sum(1 for rm in decode_metrics(exports[0][0]).resource_metrics)
1
>>> synthetic_exports(resources=2, series=10, exports=1, seed=1) == exports[:1]
True
"""

from __future__ import annotations

import random

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["DEFAULT_BOUNDS", "synthetic_exports"]

DEFAULT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
START = 1_764_000_000_000_000_000
SECOND = 1_000_000_000
_CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_ROUTES = ["/api/checkout", "/api/cart", "/api/products", "/api/products/{id}", "/api/users/{id}",
           "/api/search", "/api/orders", "/api/orders/{id}", "/health", "/api/recommendations"]
_METHODS = ["GET", "POST", "PUT", "DELETE"]
_STATUSES = [200, 201, 204, 400, 404, 500, 503]


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _attributes(values: dict) -> list[KeyValue]:
    return [_kv(key, value) for key, value in values.items()]


def _resource(index: int) -> dict:
    service = f"svc-{index % 17:02d}"
    return {
        "service.name": service,
        "service.namespace": "shop",
        "service.instance.id": f"{service}-{index:04d}-7f9c",
        "host.name": f"node-{index % 12:02d}.eu-west-1.compute.internal",
        "k8s.namespace.name": "prod",
        "k8s.pod.name": f"{service}-deployment-6d4cf56db6-{index:05d}",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.29.0",
    }


def _plan(series: int) -> list[tuple[str, dict]]:
    """(kind, point attributes) for each series of one resource."""
    plan: list[tuple[str, dict]] = []
    histograms, counters, updowns = series // 4, series // 3, series // 10
    for i in range(histograms):
        route = _ROUTES[i % 10] if i < 140 else f"{_ROUTES[i % 10]}/v{i // 140}"  # unique past 4 x 10 x 7
        plan.append(("histogram", {"http.request.method": _METHODS[i % 4], "http.route": route,
                                   "http.response.status_code": _STATUSES[i % 7], "url.scheme": "http"}))
    for i in range(counters):
        plan.append(("counter", {"messaging.system": "kafka", "messaging.destination.name": f"topic-{i % 20}",
                                 "messaging.operation": ["publish", "receive"][i // 20 % 2], "partition": i}))
    for i in range(updowns):
        plan.append(("updown", {"http.route": _ROUTES[i % 10], "worker": i}))
    for i in range(series - len(plan)):
        plan.append(("gauge", {"system.cpu.logical_number": i, "system.cpu.state": "user", "ratio": i % 2 == 0}))
    return plan


_NAMES = {"histogram": ("http.server.request.duration", "s"), "counter": ("messaging.client.consumed.messages", "{message}"),
          "updown": ("http.server.active_requests", "{request}"), "gauge": ("system.cpu.utilization", "1")}


def synthetic_exports(resources: int = 50, series: int = 100, exports: int = 20, seed: int = 0,
                      interval_s: int = 10) -> list[list[bytes]]:
    """``exports`` rounds of one ``MetricsData`` payload per resource: ``result[round][resource]``.

    Every payload holds one resource with one scope and one data point per
    series (histograms count one point each). Cumulative points share the
    resource's start time; times advance by ``interval_s``.
    """
    rng = random.Random(seed)
    plan = _plan(series)
    state = [[0.0] * len(plan) for _ in range(resources)]
    buckets = [[[0] * (len(DEFAULT_BOUNDS) + 1) for _ in plan] for _ in range(resources)]
    sums = [[0.0] * len(plan) for _ in range(resources)]
    rounds = []
    for round_ in range(exports):
        t = START + (round_ + 1) * interval_s * SECOND
        payloads = []
        for r in range(resources):
            grouped: dict[str, list] = {kind: [] for kind in _NAMES}
            for s, (kind, attrs) in enumerate(plan):
                attributes = _attributes(attrs)
                if kind == "histogram":
                    for _ in range(rng.randint(0, 30)):
                        latency = rng.lognormvariate(-3.0, 1.0)
                        index = next((b for b, bound in enumerate(DEFAULT_BOUNDS) if latency <= bound),
                                     len(DEFAULT_BOUNDS))
                        buckets[r][s][index] += 1
                        sums[r][s] += latency
                    counts = buckets[r][s]
                    grouped[kind].append(pb.HistogramDataPoint(
                        attributes=attributes, start_time_unix_nano=START, time_unix_nano=t, count=sum(counts),
                        sum=sums[r][s], bucket_counts=counts, explicit_bounds=DEFAULT_BOUNDS))
                elif kind == "counter":
                    state[r][s] += rng.randint(0, 500)
                    grouped[kind].append(pb.NumberDataPoint(attributes=attributes, start_time_unix_nano=START,
                                                            time_unix_nano=t, as_int=int(state[r][s])))
                elif kind == "updown":
                    state[r][s] = max(0.0, state[r][s] + rng.randint(-3, 3))
                    grouped[kind].append(pb.NumberDataPoint(attributes=attributes, start_time_unix_nano=START,
                                                            time_unix_nano=t, as_int=int(state[r][s])))
                else:
                    grouped[kind].append(pb.NumberDataPoint(attributes=attributes, time_unix_nano=t,
                                                            as_double=round(rng.random(), 4)))
            metrics = []
            for kind, points in grouped.items():
                if not points:
                    continue
                name, unit = _NAMES[kind]
                if kind == "histogram":
                    metrics.append(pb.Metric(name=name, unit=unit, histogram=pb.Histogram(
                        data_points=points, aggregation_temporality=_CUMULATIVE)))
                elif kind == "gauge":
                    metrics.append(pb.Metric(name=name, unit=unit, gauge=pb.Gauge(data_points=points)))
                else:
                    metrics.append(pb.Metric(name=name, unit=unit, sum=pb.Sum(
                        data_points=points, aggregation_temporality=_CUMULATIVE, is_monotonic=kind == "counter")))
            data = pb.MetricsData(resource_metrics=[pb.ResourceMetrics(
                resource=Resource(attributes=_attributes(_resource(r))),
                scope_metrics=[pb.ScopeMetrics(scope=InstrumentationScope(name="opentelemetry.instrumentation"),
                                               metrics=metrics)])])
            payloads.append(data.SerializeToString())
        rounds.append(payloads)
    return rounds
