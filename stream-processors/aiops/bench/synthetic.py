"""Synthetic OTLP metrics exports shaped like a fleet's, for the benchmarks and the tests.

A *fleet* is ``resources`` service instances (``service.name``,
``service.instance.id``, ``host.name``, ``k8s.*`` and the SDK's attributes),
each exporting ``series`` data points per round in one OTLP ``MetricsData``
payload, the way the collector's kafka exporter writes one record per
resource: a quarter cumulative latency histograms (OTel's default 15
buckets; ``http.response.status_code`` an int, as the SDKs send it), a third
cumulative monotonic counters, a tenth up-down sums, the rest gauges (with
int, string and bool attributes). Counters only grow; values come from a
seeded generator, so the same arguments give the same bytes.

Building protobuf in Python would cost more CPU than the pipeline a
benchmark feeds, so each resource's payload is serialised once with
placeholder numbers, and every round writes the new values into a copy of
those bytes at the placeholders' offsets (each field that changes is a
fixed 8 bytes: doubles, ``fixed64`` counts and times, ``sfixed64`` ints), all
at once with numpy: several hundred thousand points a second on one core.

>>> exports = synthetic_exports(resources=2, series=10, exports=3, seed=1)
>>> len(exports), len(exports[0])
(3, 2)
>>> from aiops.decode.otlp import decode_metrics
>>> sum(1 for rm in decode_metrics(exports[0][0]).resource_metrics)
1
>>> synthetic_exports(resources=2, series=10, exports=1, seed=1) == exports[:1]
True
>>> metrics = decode_metrics(exports[2][1]).resource_metrics[0].scope_metrics[0].metrics
>>> [(m.name, len(m.gauge.data_points) + len(m.sum.data_points) + len(m.histogram.data_points)) for m in metrics]
[('http.server.request.duration', 2), ('messaging.client.consumed.messages', 3), ('http.server.active_requests', 1), ('system.cpu.utilization', 4)]
>>> h = metrics[0].histogram.data_points[0]
>>> sum(h.bucket_counts) == h.count, h.time_unix_nano == START + 3 * 10 * SECOND
(True, True)
"""

from __future__ import annotations

import struct

import numpy as np
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["DEFAULT_BOUNDS", "SECOND", "START", "Fleet", "synthetic_exports"]

DEFAULT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""The OTel SDK's default explicit bucket bounds for durations in seconds (semantic conventions)."""
START = 1_764_000_000_000_000_000
"""Every cumulative series' start time (ns)."""
SECOND = 1_000_000_000
_CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_ROUTES = [
    "/api/checkout",
    "/api/cart",
    "/api/products",
    "/api/products/{id}",
    "/api/users/{id}",
    "/api/search",
    "/api/orders",
    "/api/orders/{id}",
    "/health",
    "/api/recommendations",
]
_METHODS = ["GET", "POST", "PUT", "DELETE"]
_STATUSES = [200, 201, 204, 400, 404, 500, 503]
_NAMES = {
    "histogram": ("http.server.request.duration", "s"),
    "counter": ("messaging.client.consumed.messages", "{message}"),
    "updown": ("http.server.active_requests", "{request}"),
    "gauge": ("system.cpu.utilization", "1"),
}
_PLACEHOLDER = 0x4123_4500_0000_0000
"""Placeholder ``k`` is this plus ``k``: as a double a finite number near 6.6e5, as an integer itself;
either way it serialises as the same 8 bytes, so each is found again in the payload."""


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
    """(kind, point attributes) for each series of one resource, grouped by kind."""
    plan: list[tuple[str, dict]] = []
    histograms, counters, updowns = series // 4, series // 3, series // 10
    for i in range(histograms):
        route = (
            _ROUTES[i % 10] if i < 140 else f"{_ROUTES[i % 10]}/v{i // 140}"
        )  # unique past 4 x 10 x 7
        plan.append(
            (
                "histogram",
                {
                    "http.request.method": _METHODS[i % 4],
                    "http.route": route,
                    "http.response.status_code": _STATUSES[i % 7],
                    "url.scheme": "http",
                },
            )
        )
    for i in range(counters):
        plan.append(
            (
                "counter",
                {
                    "messaging.system": "kafka",
                    "messaging.destination.name": f"topic-{i % 20}",
                    "messaging.operation": ["publish", "receive"][i // 20 % 2],
                    "partition": i,
                },
            )
        )
    for i in range(updowns):
        plan.append(("updown", {"http.route": _ROUTES[i % 10], "worker": i}))
    for i in range(series - len(plan)):
        plan.append(
            (
                "gauge",
                {"system.cpu.logical_number": i, "system.cpu.state": "user", "ratio": i % 2 == 0},
            )
        )
    return plan


def _bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


class _Instance:
    """One resource's payload template, where its changing numbers sit, and its running values."""

    def __init__(self, index: int, plan: list[tuple[str, dict]], rng: np.random.Generator) -> None:
        count = {kind: sum(1 for k, _ in plan if k == kind) for kind in _NAMES}
        self.n = count
        marks = iter(range(_PLACEHOLDER + 1, _PLACEHOLDER + 1 + 64 * len(plan)))
        where: dict[str, list[int]] = {
            k: [] for k in ("time", "hcount", "hsum", "bucket", "counter", "updown", "gauge")
        }

        def fixed(slot: str) -> int:
            where[slot].append(next(marks))
            return where[slot][-1]

        def double(slot: str) -> float:
            return struct.unpack("<d", struct.pack("<Q", fixed(slot)))[0]

        points: dict[str, list] = {kind: [] for kind in _NAMES}
        for kind, attrs in plan:
            attributes = _attributes(attrs)
            if kind == "histogram":
                points[kind].append(
                    pb.HistogramDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=START,
                        time_unix_nano=fixed("time"),
                        count=fixed("hcount"),
                        sum=double("hsum"),
                        bucket_counts=[fixed("bucket") for _ in range(len(DEFAULT_BOUNDS) + 1)],
                        explicit_bounds=DEFAULT_BOUNDS,
                    )
                )
            elif kind == "gauge":
                points[kind].append(
                    pb.NumberDataPoint(
                        attributes=attributes,
                        time_unix_nano=fixed("time"),
                        as_double=double("gauge"),
                    )
                )
            else:
                points[kind].append(
                    pb.NumberDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=START,
                        time_unix_nano=fixed("time"),
                        as_int=fixed(kind),
                    )
                )
        metrics = []
        for kind, kind_points in points.items():
            if not kind_points:
                continue
            name, unit = _NAMES[kind]
            if kind == "histogram":
                metrics.append(
                    pb.Metric(
                        name=name,
                        unit=unit,
                        histogram=pb.Histogram(
                            data_points=kind_points, aggregation_temporality=_CUMULATIVE
                        ),
                    )
                )
            elif kind == "gauge":
                metrics.append(
                    pb.Metric(name=name, unit=unit, gauge=pb.Gauge(data_points=kind_points))
                )
            else:
                metrics.append(
                    pb.Metric(
                        name=name,
                        unit=unit,
                        sum=pb.Sum(
                            data_points=kind_points,
                            aggregation_temporality=_CUMULATIVE,
                            is_monotonic=kind == "counter",
                        ),
                    )
                )
        raw = pb.MetricsData(
            resource_metrics=[
                pb.ResourceMetrics(
                    resource=Resource(attributes=_attributes(_resource(index))),
                    scope_metrics=[
                        pb.ScopeMetrics(
                            scope=InstrumentationScope(name="opentelemetry.instrumentation"),
                            metrics=metrics,
                        )
                    ],
                )
            ]
        ).SerializeToString()
        self.template = np.frombuffer(raw, dtype=np.uint8)
        order = [
            mark
            for slot in ("time", "hcount", "hsum", "bucket", "counter", "updown", "gauge")
            for mark in where[slot]
        ]
        self.offsets = np.array([raw.index(struct.pack("<Q", mark)) for mark in order])[
            :, None
        ] + np.arange(8)
        self.times = len(where["time"])
        h = count["histogram"]
        self.rate = rng.uniform(0.1, 3.0, h)
        self.mu = rng.uniform(-4.0, -2.0, h)
        self.buckets = np.zeros((h, len(DEFAULT_BOUNDS) + 1), dtype=np.int64)
        self.sums = np.zeros(h)
        self.counters = np.zeros(count["counter"], dtype=np.int64)
        self.updowns = np.zeros(count["updown"], dtype=np.int64)
        edges = np.log(np.array(DEFAULT_BOUNDS))[None, :] - self.mu[:, None]
        from math import erf, sqrt

        cdf = np.vectorize(lambda z: 0.5 * (1 + erf(z / sqrt(2))))(
            edges
        )  # lognormal(mu, 1) latencies
        self.shares = np.diff(np.hstack([np.zeros((h, 1)), cdf, np.ones((h, 1))]), axis=1)

    def payload(self, time_unix_nano: int, interval_s: float, rng: np.random.Generator) -> bytes:
        new = rng.poisson(self.rate * interval_s)
        for row, n in enumerate(new):
            self.buckets[row] += rng.multinomial(n, self.shares[row])
        self.sums += new * np.exp(self.mu + 0.5) * rng.uniform(0.8, 1.2, len(new))
        self.counters += rng.integers(0, 500, len(self.counters))
        self.updowns = np.maximum(0, self.updowns + rng.integers(-3, 4, len(self.updowns)))
        values = np.concatenate(
            [
                np.full(self.times, time_unix_nano, dtype=np.int64),
                self.buckets.sum(axis=1),
                self.sums.view(np.int64),
                self.buckets.ravel(),
                self.counters,
                self.updowns,
                np.round(rng.random(self.n["gauge"]), 4).view(np.int64),
            ]
        )
        out = self.template.copy()
        out[self.offsets] = values.view(np.uint8).reshape(-1, 8)
        return out.tobytes()


class Fleet:
    """``resources`` instances of ``series`` points each; :meth:`round` is one export of all of them."""

    def __init__(self, resources: int = 50, series: int = 100, seed: int = 0) -> None:
        self.resources, self.series = resources, series
        self.rng = np.random.default_rng(seed)
        plan = _plan(series)
        self.instances = [_Instance(index, plan, self.rng) for index in range(resources)]

    @property
    def points_per_round(self) -> int:
        return self.resources * self.series

    def round(self, time_unix_nano: int, interval_s: float = 10.0) -> list[bytes]:
        """One payload per instance at ``time_unix_nano``, counters grown by ``interval_s`` worth."""
        return [
            instance.payload(time_unix_nano, interval_s, self.rng) for instance in self.instances
        ]


def synthetic_exports(
    resources: int = 50, series: int = 100, exports: int = 20, seed: int = 0, interval_s: int = 10
) -> list[list[bytes]]:
    """``exports`` rounds of one ``MetricsData`` payload per resource: ``result[round][resource]``.

    Every payload holds one resource with one scope and one data point per
    series. Cumulative points share :data:`START` as their start time; round
    ``i`` is at ``START + (i + 1) * interval_s`` seconds.
    """
    fleet = Fleet(resources, series, seed)
    return [fleet.round(START + (i + 1) * interval_s * SECOND, interval_s) for i in range(exports)]
