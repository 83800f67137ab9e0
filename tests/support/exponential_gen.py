"""OTLP payloads of exponential histograms as the OpenTelemetry Python SDK exports them.

``SdkExponentialExports`` records seeded observations into a real SDK
``MeterProvider`` with the base-2 exponential aggregation (a small
``max_size``, so the SDK lowers its scale as values spread) and serialises
each collection with the OTLP exporter's own encoder: the bytes a service
switched to ``base2_exponential_bucket_histogram`` sends.
"""

from __future__ import annotations

import random

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

__all__ = ["SdkExponentialExports"]


class SdkExponentialExports:
    """One service's exponential histogram ``latency`` per route; ``export(n)`` records ``n`` values per route.

    ``observed[route]`` keeps every value recorded so far, for the truth a
    test compares the decoded deltas with.
    """

    def __init__(self, seed: int = 0, delta: bool = False, max_size: int = 16, routes=("/a", "/b")):
        self.rng = random.Random(seed)
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        self.reader = InMemoryMetricReader(preferred_temporality={Histogram: temporality})
        self.provider = MeterProvider(
            metric_readers=[self.reader],
            resource=Resource.create({"service.name": "exp-demo"}),
            views=[
                View(
                    instrument_type=Histogram,
                    aggregation=ExponentialBucketHistogramAggregation(max_size=max_size),
                )
            ],
        )
        self.histogram = self.provider.get_meter("exp").create_histogram("latency", unit="s")
        self.routes = routes
        self.observed: dict[str, list[float]] = {route: [] for route in routes}

    def export(self, n: int, spread: float = 1.0) -> bytes:
        """Record ``n`` log-normal values per route (wider with ``spread``), collect, encode."""
        for route in self.routes:
            for _ in range(n):
                value = self.rng.lognormvariate(-3.0, spread)
                self.histogram.record(value, {"http.route": route})
                self.observed[route].append(value)
        return encode_metrics(self.reader.get_metrics_data()).SerializeToString()
