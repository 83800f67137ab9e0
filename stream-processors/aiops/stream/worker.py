"""Run the stream processors' Faust worker in this process."""

from __future__ import annotations

import gc

import faust

from aiops.kafka_config import check_connection
from aiops.settings import Settings
from aiops.stream.app import build_app

__all__ = ["GC_THRESHOLDS", "run_worker"]

GC_THRESHOLDS = (50_000, 20, 20)
"""Cyclic garbage collection after 50,000 allocations, not Python's 700.

A worker holds hundreds of thousands of long-lived objects (tracks, plans,
label dictionaries) and allocates a few per point; at the default threshold
the collector walks them so often that it costs more than the detection
(``aiops bench engine`` at 30,000 series: queueing a record 5.4 -> 2.0 us per
point, reading it 2.4 -> 1.2).
"""


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Start the worker and block until it is stopped (SIGTERM or Ctrl-C).

    A cluster that refuses the login or TLS raises ``KafkaRefused`` before
    Faust starts: its Kafka client would retry that for ever.
    """
    check_connection(settings)
    gc.set_threshold(*GC_THRESHOLDS)
    (settings.stack_dir / "faust").mkdir(
        parents=True, exist_ok=True
    )  # Faust makes only the last level
    app = build_app(settings)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
