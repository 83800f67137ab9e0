"""What one ``engine.close`` did with its points becomes the detect agent's counters, withheld points included."""

from prometheus_client import CollectorRegistry

from aiops.anomaly.alert_policy import AlertPolicies
from aiops.anomaly.engine import DetectEngine, gauge
from aiops.stream.detect_agent import count_closed
from aiops.stream.metrics import StreamMetrics

T0 = 1_800_000_000


def test_a_blip_pending_on_a_two_point_policy_is_counted_as_withheld():
    engine = DetectEngine(
        policies=AlertPolicies.from_mapping(
            {"default": {"alert": True, "min_points": 2, "min_history": 300}}
        )
    )
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    for i, value in enumerate([0.0] * 350 + [40.0] + [0.0] * 9):
        t = T0 + 10 * i
        engine.add(gauge("errors.percent", value, t), now=t)
        count_closed(metrics, engine.close(now=t, force=True))
    assert registry.get_sample_value("aiops_detect_withheld_points_total") == 1.0
    assert registry.get_sample_value("aiops_detect_points_total", {"outcome": "scored"}) == 360.0
