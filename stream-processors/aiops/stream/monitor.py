"""The worker's Faust monitor: Faust's own Prometheus metrics plus consumer lag per partition.

Attached once in ``build_app`` (``app.monitor``), so no agent sprinkles
metric calls for what Faust already sees: messages in per topic and
partition, messages sent per topic, rebalances, table operations.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, AppT, Message
from prometheus_client import CollectorRegistry

from aiops.stream.metrics import StreamMetrics

__all__ = ["AiopsMonitor"]


class AiopsMonitor(PrometheusMonitor):
    """Faust's Prometheus monitor (metrics prefixed ``faust_``) that also sets ``aiops_consumer_lag``."""

    def __init__(self, app: AppT, registry: CollectorRegistry, metrics: StreamMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=FaustMetrics.create(registry, "faust"), **kwargs)
        self._app = app
        self._lag = metrics.consumer_lag

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        """Count the message as Faust does, and record how far this partition is behind its end."""
        super().on_message_in(tp, offset, message)
        highwater = self._app.consumer.highwater(tp)
        if highwater is not None and highwater >= 0:
            self._lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(highwater - offset - 1, 0))
