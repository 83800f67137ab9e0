"""Seeded OTLP payloads of good points with bad ones mixed in, and the same payloads with the good points only.

A decode that cannot be poisoned gives, for every good stream, the same
output from both: the bad points (NaN and Inf, times beyond int64 or far
ahead, starts after times, negative monotonic sums, infinite deltas, broken
histograms, a histogram under a counter's name and attributes, the string
"200" beside the int 200, a point with thousands of attributes) are
refused or land in other series, and they change no state.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["NOW", "SECOND", "Generated", "PayloadGenerator", "kv"]

SECOND = 1_000_000_000
NOW = 1_800_000_000 * SECOND
CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
BOUNDS = (0.1, 0.5, 1.0)


def kv(key: str, value) -> KeyValue:
    """One OTLP attribute, typed as the Python value is."""
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass
class Generated:
    """One step: every point (``payload``), the good points only (``good``), the bad points by expected code."""

    payload: bytes
    good: bytes
    bad: Counter = field(default_factory=Counter)


_NUMBER_FAULTS = (
    ("nan_value", "not_finite"),
    ("inf_value", "not_finite"),
    ("time_max", "out_of_range"),
    ("time_int64_max", "future"),
    ("time_future", "future"),
    ("time_zero", "unreadable"),
    ("start_after_time", "start_after_time"),
    ("negative", "negative_monotonic"),
)
_HISTOGRAM_FAULTS = (
    ("nan_sum", "not_finite"),
    ("inf_sum", "not_finite"),
    ("count_max", "out_of_range"),
    ("buckets_mismatch", "unreadable"),
    ("time_future", "future"),
)


class PayloadGenerator:
    """Steps of a few resources' counters, gauges and histograms, ``fault_rate`` of their points doubled by a bad one.

    Step ``i`` is at ``NOW - (steps - i) * 10 s``, so every good point is
    inside a 300 s-ahead window around ``NOW``. ``huge_attributes`` adds, on
    some steps, a point with that many attributes (refused as too large).
    """

    def __init__(self, seed: int, steps: int, fault_rate: float = 0.2, huge_attributes: int = 0):
        self.rng = random.Random(seed)
        self.steps = steps
        self.fault_rate = fault_rate
        self.huge_attributes = huge_attributes
        self.totals: dict[tuple, float] = {}
        self.buckets: dict[tuple, list[int]] = {}
        self.sums: dict[tuple, float] = {}

    def step(self, i: int) -> Generated:
        """The payloads of step ``i`` (call in order: counters grow from step to step)."""
        rng = self.rng
        t = NOW - (self.steps - i) * 10 * SECOND
        start = NOW - self.steps * 20 * SECOND
        bad: Counter = Counter()
        resources_all, resources_good = [], []
        for service in ("a", "b"):
            metrics_all, metrics_good = [], []
            for route in ("/x", "/y"):
                attributes = [kv("http.route", route), kv("code", 200)]
                key = (service, route)
                grow = rng.choice([0, 1, 2, 5, 40]) if rng.random() > 0.05 else -3
                self.totals[key] = max(self.totals.get(key, 0.0) + grow, 0.0)
                if grow < 0:  # a reset: the counter starts over
                    self.totals[key] = 1.0
                good = pb.NumberDataPoint(
                    attributes=attributes,
                    start_time_unix_nano=start if grow >= 0 else t - SECOND,
                    time_unix_nano=t,
                    as_double=self.totals[key],
                )
                faults = self._number_faults(good, t, bad)
                metrics_all.append(_counter("requests", [*faults, good]))
                metrics_good.append(_counter("requests", [good]))
                # the same name and attributes, typed differently: another series
                twin = [kv("http.route", route), kv("code", "200")]
                metrics_all.append(
                    _counter(
                        "requests",
                        [
                            pb.NumberDataPoint(
                                attributes=twin,
                                start_time_unix_nano=start,
                                time_unix_nano=t,
                                as_double=1e6 * rng.random(),
                            )
                        ],
                    )
                )
                # a histogram under the counter's name and attributes, with a later start
                metrics_all.append(
                    _histogram(
                        "requests",
                        [
                            pb.HistogramDataPoint(
                                attributes=attributes,
                                start_time_unix_nano=t - SECOND,
                                time_unix_nano=t,
                                count=1,
                                sum=0.2,
                                bucket_counts=[0, 1, 0, 0],
                                explicit_bounds=BOUNDS,
                            )
                        ],
                    )
                )
                gauge = pb.NumberDataPoint(
                    attributes=attributes, time_unix_nano=t, as_double=rng.uniform(-5, 5)
                )
                metrics_all.append(pb.Metric(name="load", gauge=pb.Gauge(data_points=[gauge])))
                metrics_good.append(pb.Metric(name="load", gauge=pb.Gauge(data_points=[gauge])))
                histogram = self._histogram_point(key, attributes, start, t)
                faults = self._histogram_faults(histogram, t, bad)
                metrics_all.append(_histogram("latency", [*faults, histogram]))
                metrics_good.append(_histogram("latency", [histogram]))
            extreme = self._extreme(service, start, t, i, bad)
            metrics_all.append(extreme)
            if self.huge_attributes and rng.random() < 0.3:
                metrics_all.append(self._huge(t))
                bad["too_large"] += 1
            scope = pb.ScopeMetrics(scope=InstrumentationScope(name="s"))
            resource = Resource(attributes=[kv("service.name", service)])
            rng.shuffle(metrics_all)
            resources_all.append(
                pb.ResourceMetrics(
                    resource=resource,
                    scope_metrics=[pb.ScopeMetrics(scope=scope.scope, metrics=metrics_all)],
                )
            )
            resources_good.append(
                pb.ResourceMetrics(
                    resource=resource,
                    scope_metrics=[pb.ScopeMetrics(scope=scope.scope, metrics=metrics_good)],
                )
            )
        return Generated(
            pb.MetricsData(resource_metrics=resources_all).SerializeToString(),
            pb.MetricsData(resource_metrics=resources_good).SerializeToString(),
            bad,
        )

    def _number_faults(self, good, t: int, bad: Counter) -> list:
        if self.rng.random() >= self.fault_rate:
            return []
        fault, code = self.rng.choice(_NUMBER_FAULTS)
        point = pb.NumberDataPoint()
        point.CopyFrom(good)
        point.time_unix_nano = t + SECOND  # newer than the good point: if admitted, it would win
        if fault == "nan_value":
            point.as_double = math.nan
        elif fault == "inf_value":
            point.as_double = -math.inf
        elif fault == "time_max":
            point.time_unix_nano = 2**64 - 1
        elif fault == "time_int64_max":
            point.time_unix_nano = 2**63 - 1
        elif fault == "time_future":
            point.time_unix_nano = NOW + 3600 * SECOND
        elif fault == "time_zero":
            point.time_unix_nano = 0
        elif fault == "start_after_time":
            point.start_time_unix_nano = t + 2 * SECOND
        elif fault == "negative":
            point.as_double = -1.0
        bad[code] += 1
        return [point]

    def _histogram_point(self, key, attributes, start: int, t: int):
        buckets = self.buckets.setdefault(key, [0] * (len(BOUNDS) + 1))
        for _ in range(self.rng.randint(0, 5)):
            buckets[self.rng.randrange(len(buckets))] += 1
        self.sums[key] = self.sums.get(key, 0.0) + self.rng.uniform(0, 2)
        return pb.HistogramDataPoint(
            attributes=attributes,
            start_time_unix_nano=start,
            time_unix_nano=t,
            count=sum(buckets),
            sum=self.sums[key],
            bucket_counts=list(buckets),
            explicit_bounds=BOUNDS,
        )

    def _histogram_faults(self, good, t: int, bad: Counter) -> list:
        if self.rng.random() >= self.fault_rate:
            return []
        fault, code = self.rng.choice(_HISTOGRAM_FAULTS)
        point = pb.HistogramDataPoint()
        point.CopyFrom(good)
        point.time_unix_nano = t + SECOND
        if fault == "nan_sum":
            point.sum = math.nan
        elif fault == "inf_sum":
            point.sum = math.inf
        elif fault == "count_max":
            point.count = 2**64 - 1
            point.bucket_counts[:] = [0, 2**64 - 1, 0, 0]
        elif fault == "buckets_mismatch":
            point.bucket_counts.append(1)
        elif fault == "time_future":
            point.time_unix_nano = 2**63 + 5
            code = "out_of_range"
        bad[code] += 1
        return [point]

    def _extreme(self, service: str, start: int, t: int, i: int, bad: Counter):
        """A histogram stream of its own whose sum swings from -1.7e308 to 1.7e308: every other delta is infinite."""
        total = -1.7e308 if i % 2 == 0 else 1.7e308
        if i % 2 and i > 0:
            bad["infinite_delta"] += 1
        return _histogram(
            "extreme",
            [
                pb.HistogramDataPoint(
                    attributes=[kv("service", service)],
                    start_time_unix_nano=start,
                    time_unix_nano=t,
                    count=i,
                    sum=total,
                    bucket_counts=[0, i, 0, 0],
                    explicit_bounds=BOUNDS,
                )
            ],
        )

    def _huge(self, t: int):
        attributes = [kv(f"k{j:05d}", "v" * 20) for j in range(self.huge_attributes)]
        return pb.Metric(
            name="huge",
            gauge=pb.Gauge(
                data_points=[
                    pb.NumberDataPoint(attributes=attributes, time_unix_nano=t, as_double=1.0)
                ]
            ),
        )


def _counter(name: str, points: list):
    return pb.Metric(
        name=name,
        unit="1",
        sum=pb.Sum(data_points=points, aggregation_temporality=CUMULATIVE, is_monotonic=True),
    )


def _histogram(name: str, points: list):
    return pb.Metric(
        name=name,
        unit="s",
        histogram=pb.Histogram(data_points=points, aggregation_temporality=CUMULATIVE),
    )
