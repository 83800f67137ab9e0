"""The detect engine alone on a synthetic fleet: CPU per point by step, and a checkpoint's size and time.

What the detect agent does per record, without Kafka: read the
``aiops.points/v2`` record's JSON, queue it (``add_record``), score the
complete groups (``close``), write the ``aiops.scores/v3`` records. Then one
checkpoint of every resource (``export_source``, as JSON) and its restore into
a fresh engine, and a render of the worker's own Prometheus metrics with
the anomaly gauges the agent would have set (:class:`~aiops.stream.gauges.AnomalyGauges`),
which is what a scrape costs beyond Faust's and the process's own metrics.
The records come from the decode path (``decode_payload_v2``)
on :mod:`aiops.bench.synthetic`'s fleet; the first exports warm up untimed.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["EngineBenchResult", "run_engine_bench"]


@dataclass(frozen=True)
class EngineBenchResult:
    resources: int
    series: int
    tracks: int
    points: int
    us_per_point: dict[str, float]
    """CPU microseconds per point by step: ``read`` (JSON), ``add``, ``close``, ``write`` (scores)."""
    checkpoint_bytes: int
    checkpoint_s: float
    restore_s: float
    bank_bytes: int
    restored_tracks: int
    """Tracks the fresh engine holds after the restore (all of them, or the restore lost some)."""
    scrape_bytes: int
    scrape_s: float
    gauge_tracks: int

    @property
    def points_per_s(self) -> float:
        return 1e6 / sum(self.us_per_point.values())


def run_engine_bench(
    resources: int = 50,
    series: int = 100,
    exports: int = 20,
    warmup: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> EngineBenchResult:
    """Time the engine's steps over ``exports`` timed exports of the fleet (after ``warmup`` untimed ones).

    The garbage collector runs at the worker's thresholds (``GC_THRESHOLDS``) meanwhile.
    """
    from aiops.stream.worker import GC_THRESHOLDS

    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return _run(resources, series, exports, warmup, seed, progress)
    finally:
        gc.set_threshold(*thresholds)


def _run(
    resources: int,
    series: int,
    exports: int,
    warmup: int,
    seed: int,
    progress: Callable[[str], None],
) -> EngineBenchResult:
    from aiops.anomaly.alert_policy import AlertPolicies
    from aiops.anomaly.engine import DetectEngine
    from aiops.bench.synthetic import START, Fleet
    from aiops.decode.columnar import SeriesInterner
    from aiops.decode.delta_columns import DeltaState
    from aiops.decode.payload_v2 import decode_payload_v2
    from aiops.decode.points_v2 import encode
    from aiops.settings import Settings
    from aiops.stream.gauges import AnomalyGauges
    from aiops.stream.metrics import StreamMetrics

    settings = Settings()
    policies = AlertPolicies.from_mapping(settings.detect_alert_policy)

    def engine() -> DetectEngine:
        return DetectEngine(policies=policies, max_series=None, season=settings.detect_season)

    registry = CollectorRegistry()
    gauges = AnomalyGauges(StreamMetrics(registry), settings.detect_max_gauge_tracks)
    fleet = Fleet(resources, series, seed)
    states: dict[str, DeltaState] = {}
    interner = SeriesInterner()
    detect = engine()
    spent = {"read": 0.0, "add": 0.0, "close": 0.0, "write": 0.0}
    points = 0
    interval_s = 10
    for i in range(warmup + exports):
        payloads = fleet.round(START + (i + 1) * interval_s * 1_000_000_000, interval_s)
        records = [
            encode(out.record)
            for payload in payloads
            for out in decode_payload_v2(
                payload, lambda key: states.setdefault(key, DeltaState()), interner
            ).records
        ]
        now = time.time()
        timed = i >= warmup
        t0 = time.process_time()
        decoded = [orjson.loads(record) for record in records]
        t1 = time.process_time()
        for record in decoded:
            detect.add_record(record, now)
        t2 = time.process_time()
        closed = detect.close(now, force=True)
        t3 = time.process_time()
        for record in closed.records().values():
            orjson.dumps(record)
        t4 = time.process_time()
        gauges.expose(closed, detect.watched)
        if timed:
            points += sum(len(record["points"]["series_id"]) for record in decoded)
            for step, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                spent[step] += seconds
        progress(f"export {i + 1} of {warmup + exports}: {len(detect.tracks):,} tracks")
    t0 = time.perf_counter()
    scrape = generate_latest(registry)
    scrape_s = time.perf_counter() - t0
    t0 = time.process_time()
    checkpoint = {key: json.dumps(detect.export_source(key)) for key in detect.sources}
    checkpoint_s = time.process_time() - t0
    t0 = time.process_time()
    fresh = engine()
    for key, text in checkpoint.items():
        fresh.restore_source(key, json.loads(text), now=time.time())
    restore_s = time.process_time() - t0
    return EngineBenchResult(
        resources=resources,
        series=series,
        tracks=len(detect.tracks),
        points=points,
        us_per_point={step: 1e6 * seconds / points for step, seconds in spent.items()},
        checkpoint_bytes=sum(len(text) for text in checkpoint.values()),
        checkpoint_s=checkpoint_s,
        restore_s=restore_s,
        bank_bytes=detect.memory_bytes(),
        restored_tracks=len(fresh.tracks),
        scrape_bytes=len(scrape),
        scrape_s=scrape_s,
        gauge_tracks=len(gauges.labels),
    )
