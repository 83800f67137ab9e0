"""Run the stream processors' Faust worker in this process."""

from __future__ import annotations

import faust

from aiops.kafka_config import check_connection
from aiops.settings import Settings
from aiops.stream.app import build_app

__all__ = ["run_worker"]


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Start the worker and block until it is stopped (SIGTERM or Ctrl-C).

    A cluster that refuses the login or TLS raises ``KafkaRefused`` before
    Faust starts: its Kafka client would retry that for ever.
    """
    check_connection(settings)
    app = build_app(settings)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
