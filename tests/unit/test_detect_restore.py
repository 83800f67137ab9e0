"""Detector state saved under other parameters (issue 13, item 7): refused, counted, and scoring goes on.

``FastCombined`` state carries its parameters and version, and the bank
refuses rows exported under others; the detect agent's
``restore_checkpoint`` then counts the resource in
``aiops_detect_restore_errors_total``, and its tracks keep their alert state
while their detectors start from scratch.
"""

import json
import math

import numpy as np
from prometheus_client import CollectorRegistry

from aiops.anomaly.alert_policy import AlertPolicies
from aiops.anomaly.engine import DetectEngine, PointOutcome, resource_key
from aiops.stream.detect_agent import restore_checkpoint
from aiops.stream.metrics import StreamMetrics

T0 = 1_800_000_000
STEP = 10
RESOURCE = {"service.name": "demo"}


def queue_depth(step: int, rng: np.random.Generator) -> dict:
    """One gauge point of a steady queue every ``STEP`` seconds."""
    t = T0 + STEP * step
    return {
        "schema": "aiops.points/v1",
        "series": f"queue.depth@{resource_key({'resource': RESOURCE})}",
        "metric": "queue.depth",
        "kind": "gauge",
        "unit": "1",
        "resource": RESOURCE,
        "attributes": {},
        "time_unix_nano": t * 10**9,
        "value": float(rng.normal(100, 5)),
    }


def feed(engine: DetectEngine, steps: range) -> list:
    rng = np.random.default_rng(steps.start)
    scores = []
    for step in steps:
        point = queue_depth(step, rng)
        assert engine.add(point, now=T0 + STEP * step) is PointOutcome.ACCEPTED
        scores += engine.close(now=T0 + STEP * step, force=True).scores
    return scores


def _checkpoint(**params) -> tuple[str, dict]:
    engine = DetectEngine(**params)
    assert feed(engine, range(50))
    key = resource_key({"resource": RESOURCE})
    return key, json.loads(json.dumps(engine.export_source(key)))


def test_a_checkpoint_of_the_same_parameters_restores_and_is_not_counted():
    key, stored = _checkpoint(season=12)
    registry = CollectorRegistry()
    engine = DetectEngine(season=12)
    assert restore_checkpoint(engine, StreamMetrics(registry), key, stored)
    assert registry.get_sample_value("aiops_detect_restore_errors_total") == 0.0
    assert key in engine.sources


def test_a_checkpoint_exported_with_another_season_is_counted_and_scoring_goes_on(caplog):
    key, stored = _checkpoint(season=12)
    registry = CollectorRegistry()
    engine = DetectEngine(season=24)  # the operator changed AIOPS_DETECT_SEASON
    assert restore_checkpoint(engine, StreamMetrics(registry), key, stored)
    assert "exported by a detector with other parameters" in caplog.text
    assert registry.get_sample_value("aiops_detect_restore_errors_total") == 1.0
    assert key in engine.sources and engine.tracks, "the resource and its tracks stay"

    scores = feed(engine, range(50, 100))
    assert len(scores) == 50 and all(math.isfinite(s.score) for s in scores)
    fresh = feed(DetectEngine(season=24), range(50, 100))
    assert [s.score for s in scores] == [s.score for s in fresh], "its detectors start afresh"


ALERTING = AlertPolicies.from_mapping({"default": {"alert": True, "min_points": 1}})


def test_refused_detectors_keep_an_open_episode_which_then_resolves():
    """A track fires, the checkpoint is restored under another season: the episode is kept and resolves once."""
    engine = DetectEngine(season=12, policies=ALERTING)
    feed(engine, range(60))
    spike = queue_depth(60, np.random.default_rng(0)) | {"value": 1000.0}
    engine.add(spike, now=T0 + STEP * 60)
    fired = engine.close(now=T0 + STEP * 60, force=True).alerts
    assert [a.status for a in fired] == ["firing"]
    key = resource_key({"resource": RESOURCE})
    stored = json.loads(json.dumps(engine.export_source(key)))

    restored = DetectEngine(season=24, policies=ALERTING)
    assert restore_checkpoint(restored, StreamMetrics(CollectorRegistry()), key, stored)
    rng = np.random.default_rng(61)
    alerts = []
    for step in range(61, 120):
        restored.add(queue_depth(step, rng), now=T0 + STEP * step)
        alerts += restored.close(now=T0 + STEP * step, force=True).alerts
    assert [(a.status, a.id) for a in alerts] == [("resolved", fired[0].id)], (
        "the episode resolves once, and the fresh detectors do not alert in their warm-up"
    )
