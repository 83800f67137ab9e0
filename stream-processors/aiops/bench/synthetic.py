"""Synthetic OTLP metrics that look like a fleet's: what the pipeline benchmark floods Kafka with.

A *fleet* is ``resources`` service instances (``service.name``,
``service.instance.id``, ``host.name``, ``k8s.namespace.name``,
``k8s.pod.name`` and the SDK's attributes), each exporting ``series`` data
points per round in one OTLP ``MetricsData`` payload, the way the
collector's kafka exporter writes one record per resource. A third of the
points are gauges (``queue.depth`` per queue), a third monotonic cumulative
sums (``http.server.requests`` per route, status code and shard) and a third
classic cumulative histograms (``http.server.request.duration`` per route,
method, status code and shard, with the SDK's default bounds). Values are
smooth with Poisson noise; counters only grow, round after round.

Building protobuf in Python would cost more CPU than the pipeline it feeds,
so each resource's payload is serialised once with placeholder numbers, and
every round writes the new values into a copy of those bytes at the
placeholders' offsets (every field that changes is a fixed 8 bytes: doubles,
``fixed64`` counts and times), all at once with numpy.

>>> fleet = Fleet(resources=2, series=30, seed=1)
>>> first, second = fleet.round(1_800_000_010 * 10**9), fleet.round(1_800_000_020 * 10**9)
>>> len(second), fleet.points_per_round
(2, 60)
>>> from opentelemetry.proto.metrics.v1 import metrics_pb2
>>> metrics = metrics_pb2.MetricsData.FromString(second[0]).resource_metrics[0].scope_metrics[0].metrics
>>> [len(m.gauge.data_points) + len(m.sum.data_points) + len(m.histogram.data_points) for m in metrics]
[10, 10, 10]
>>> {p.time_unix_nano for m in metrics for p in m.histogram.data_points} == {1_800_000_020 * 10**9}
True
>>> h = metrics[2].histogram.data_points[0]
>>> sum(h.bucket_counts) == h.count and h.count > 0
True
"""

from __future__ import annotations

import struct

import numpy as np
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["BOUNDS", "Fleet"]

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""The OTel SDK's default explicit bucket bounds for durations in seconds (semantic conventions)."""
_ROUTES = ("/api/checkout", "/api/items", "/api/items/{id}", "/api/users", "/api/cart", "/health")
_STATUSES = (200, 201, 404, 500)
_METHODS = ("GET", "POST")
_PLACEHOLDER = 0x4123_4500_0000_0000
"""Placeholder ``k`` is this plus ``k``: as a double a finite number near 6.6e5, as fixed64 an integer;
both serialise as these 8 bytes, so each is found again in the payload."""
_INTERVAL_S = 10.0


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


class _Placeholders:
    """Hands out placeholder numbers in the order the values will be written."""

    def __init__(self) -> None:
        self.count = 0

    def fixed(self) -> int:
        self.count += 1
        return _PLACEHOLDER + self.count

    def double(self) -> float:
        return struct.unpack("<d", struct.pack("<Q", self.fixed()))[0]


class _Instance:
    """One resource's payload template, its placeholder offsets and its counters."""

    def __init__(self, index: int, series: int, services: int, start_ns: int, rng) -> None:
        self.gauges = series // 3
        self.sums = (series - self.gauges) // 2
        self.histograms = series - self.gauges - self.sums
        marks = _Placeholders()
        time_marks, gauge_marks, sum_marks, count_marks, hsum_marks, bucket_marks = (
            [],
            [],
            [],
            [],
            [],
            [],
        )

        def time_mark() -> int:
            time_marks.append(marks.fixed())
            return time_marks[-1]

        def mark(into: list, value) -> float | int:
            into.append(value)
            return value

        sum_keys = [(r, s) for r in _ROUTES for s in _STATUSES]
        hist_keys = [(r, m, s) for r in _ROUTES for m in _METHODS for s in _STATUSES]
        gauges = [
            pb.NumberDataPoint(
                attributes=[_kv("queue", f"q-{g:03d}")],
                time_unix_nano=time_mark(),
                as_double=mark(gauge_marks, marks.double()),
            )
            for g in range(self.gauges)
        ]
        sums = [
            pb.NumberDataPoint(
                attributes=[
                    _kv("http.route", sum_keys[c % len(sum_keys)][0]),
                    _kv("http.response.status_code", sum_keys[c % len(sum_keys)][1]),
                    _kv("shard", c // len(sum_keys)),
                ],
                start_time_unix_nano=start_ns,
                time_unix_nano=time_mark(),
                as_double=mark(sum_marks, marks.double()),
            )
            for c in range(self.sums)
        ]
        histograms = []
        for h in range(self.histograms):
            route, method, status = hist_keys[h % len(hist_keys)]
            histograms.append(
                pb.HistogramDataPoint(
                    attributes=[
                        _kv("http.route", route),
                        _kv("http.request.method", method),
                        _kv("http.response.status_code", status),
                        _kv("shard", h // len(hist_keys)),
                    ],
                    start_time_unix_nano=start_ns,
                    time_unix_nano=time_mark(),
                    count=mark(count_marks, marks.fixed()),
                    sum=mark(hsum_marks, marks.double()),
                    bucket_counts=[
                        mark(bucket_marks, marks.fixed()) for _ in range(len(BOUNDS) + 1)
                    ],
                    explicit_bounds=list(BOUNDS),
                )
            )
        service = f"svc-{index % services:03d}"
        resource = Resource(
            attributes=[
                _kv("service.name", service),
                _kv("service.instance.id", f"{service}-{index:05d}"),
                _kv("host.name", f"node-{index % 37:02d}.eu-west-1.compute.internal"),
                _kv("k8s.namespace.name", "shop"),
                _kv("k8s.pod.name", f"{service}-7d9f8b6c5-{index:05x}"),
                _kv("telemetry.sdk.name", "opentelemetry"),
                _kv("telemetry.sdk.language", "python"),
            ]
        )
        metrics = [
            pb.Metric(name="queue.depth", unit="{message}", gauge=pb.Gauge(data_points=gauges)),
            pb.Metric(
                name="http.server.requests",
                unit="{request}",
                sum=pb.Sum(
                    aggregation_temporality=pb.AGGREGATION_TEMPORALITY_CUMULATIVE,
                    is_monotonic=True,
                    data_points=sums,
                ),
            ),
            pb.Metric(
                name="http.server.request.duration",
                unit="s",
                histogram=pb.Histogram(
                    aggregation_temporality=pb.AGGREGATION_TEMPORALITY_CUMULATIVE,
                    data_points=histograms,
                ),
            ),
        ]
        self.template = np.frombuffer(
            pb.MetricsData(
                resource_metrics=[
                    pb.ResourceMetrics(
                        resource=resource, scope_metrics=[pb.ScopeMetrics(metrics=metrics)]
                    )
                ]
            ).SerializeToString(),
            dtype=np.uint8,
        )
        raw = self.template.tobytes()
        order = [
            *time_marks,
            *[struct.unpack("<Q", struct.pack("<d", v))[0] for v in gauge_marks],
            *[struct.unpack("<Q", struct.pack("<d", v))[0] for v in sum_marks],
            *count_marks,
            *[struct.unpack("<Q", struct.pack("<d", v))[0] for v in hsum_marks],
            *bucket_marks,
        ]
        offsets = np.array([raw.index(struct.pack("<Q", mark)) for mark in order])
        self.where = offsets[:, None] + np.arange(8)
        self.times = len(time_marks)
        self.level = rng.uniform(10, 1000, self.gauges)
        self.rate = rng.uniform(0.5, 50, self.sums)
        self.requests = rng.uniform(1, 30, self.histograms)
        self.mean_s = rng.uniform(0.02, 0.3, self.histograms)
        self.counters = np.zeros(self.sums)
        self.counts = np.zeros(self.histograms, dtype=np.uint64)
        self.sum_s = np.zeros(self.histograms)
        self.buckets = np.zeros((self.histograms, len(BOUNDS) + 1), dtype=np.uint64)
        # share of each bucket for a gamma(2) latency with the histogram's mean
        edges = np.array((0.0, *BOUNDS))[None, :] / (self.mean_s[:, None] / 2.0)
        cdf = 1.0 - np.exp(-edges) * (1.0 + edges)
        self.shares = np.diff(np.hstack([cdf, np.ones((self.histograms, 1))]), axis=1)

    def payload(self, time_unix_nano: int, rng) -> bytes:
        self.counters += rng.poisson(self.rate * _INTERVAL_S)
        new = rng.poisson(self.requests * _INTERVAL_S)
        for h, n in enumerate(new):
            self.buckets[h] += rng.multinomial(n, self.shares[h]).astype(np.uint64)
        self.counts += new.astype(np.uint64)
        self.sum_s += new * self.mean_s * rng.uniform(0.9, 1.1, self.histograms)
        values = np.concatenate(
            [
                np.full(self.times, time_unix_nano, dtype=np.uint64),
                (self.level * (1 + 0.05 * rng.standard_normal(self.gauges))).view(np.uint64),
                self.counters.view(np.uint64),
                self.counts,
                self.sum_s.view(np.uint64),
                self.buckets.ravel(),
            ]
        )
        out = self.template.copy()
        out[self.where] = values.view(np.uint8).reshape(-1, 8)
        return out.tobytes()


class Fleet:
    """``resources`` instances of ``series`` points each, four instances per service."""

    def __init__(
        self,
        resources: int = 50,
        series: int = 100,
        seed: int = 0,
        start_unix_nano: int = 1_800_000_000 * 10**9,
    ) -> None:
        self.resources, self.series = resources, series
        self.rng = np.random.default_rng(seed)
        services = max(1, resources // 4)
        self.instances = [
            _Instance(index, series, services, start_unix_nano, self.rng)
            for index in range(resources)
        ]

    @property
    def points_per_round(self) -> int:
        return self.resources * self.series

    def round(self, time_unix_nano: int) -> list[bytes]:
        """One export of every instance at ``time_unix_nano``: one payload each, counters grown by one interval."""
        return [instance.payload(time_unix_nano, self.rng) for instance in self.instances]
