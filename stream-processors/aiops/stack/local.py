"""The whole local stack as plain processes: Kafka, collector, Prometheus, worker, demo, load.

``up`` prepares what is missing (Kafka's jars, the collector build), starts
each component in dependency order and waits for it to be healthy; ``down``
stops them in reverse order. Everything lives under ``settings.stack_dir``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from aiops.settings import Settings, environment
from aiops.stack.alertmanager import alertmanager_component
from aiops.stack.collector import build_dir, collector_component, ensure_collector
from aiops.stack.kafka import kafka_component, prepare_kafka
from aiops.stack.process import Component, ManagedProcess, http_ok
from aiops.stack.prometheus import prometheus_component
from aiops.topics import create_topics, state_topics

__all__ = ["COMPONENTS", "ComponentStatus", "down", "status", "up"]

Progress = Callable[[str], None]

COMPONENTS = (
    "kafka",
    "collector",
    "prometheus",
    "alertmanager",
    "worker",
    "forwarder",
    "demo",
    "load",
)

LOAD_DURATION_S = 7 * 24 * 3600
"""The stack's background load runs until ``down``, or a week, whichever comes first."""


@dataclass(frozen=True)
class ComponentStatus:
    """Whether a component's process runs and answers its health probe."""

    name: str
    pid: int | None
    healthy: bool


def worker_component(settings: Settings) -> Component:
    """The Faust worker, started again whenever it exits non-zero; healthy while ``/health`` answers 200.

    The worker exits non-zero when it is not alive (``aiops.stream.liveness``),
    so ``aiops worker --restart`` is the local stack's restart policy.
    """
    return Component(
        name="worker",
        command=[sys.executable, "-m", "aiops", "worker", "--restart"],
        ports={"faust_web_port": settings.faust_web_port},
        healthy=partial(http_ok, f"http://127.0.0.1:{settings.faust_web_port}/health"),
        env=environment(settings),
    )


def demo_component(settings: Settings) -> Component:
    """The instrumented demo service, exporting OTLP to the local collector."""
    return Component(
        name="demo",
        command=[
            sys.executable,
            "-m",
            "aiops_demo",
            "--host",
            settings.bind_host,
            "--port",
            str(settings.demo_port),
        ],
        ports={"demo_port": settings.demo_port},
        healthy=partial(http_ok, f"{settings.demo_url}/ready"),
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{settings.collector_otlp_grpc_port}",
            "OTEL_METRIC_EXPORT_INTERVAL": str(settings.otlp_export_interval_ms),
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": settings.demo_histogram_aggregation,
        },
    )


def forwarder_component(settings: Settings) -> Component:
    """The Alertmanager forwarder; it serves nothing, so healthy once it has run for a second."""
    return Component(
        name="forwarder",
        command=[sys.executable, "-m", "aiops", "forward", "alertmanager"],
        ports={},
        healthy=partial(_ran_a_second, settings.stack_dir / "run" / "forwarder.pid"),
        env=environment(settings),
    )


def load_component(settings: Settings, rate: float) -> Component:
    """A steady load on the demo service, so points flow as soon as the stack is up; healthy after a second."""
    return Component(
        name="load",
        command=[
            sys.executable,
            "-m",
            "aiops_producers",
            "run",
            "--url",
            settings.demo_url,
            "--rate",
            str(rate),
            "--duration",
            str(LOAD_DURATION_S),
        ],
        ports={},
        healthy=partial(_ran_a_second, settings.stack_dir / "run" / "load.pid"),
    )


def _ran_a_second(pid_file: Path) -> bool:
    """True once a process has run for a second: its pid file is that old."""
    try:
        return time.time() - pid_file.stat().st_mtime > 1.0
    except FileNotFoundError:
        return False


def _components(
    settings: Settings, collector_binary: Path, *, load_rate: float | None
) -> list[Component]:
    """Every component in start order; the load generator only when ``load_rate`` is given."""
    components = [
        kafka_component(settings),
        collector_component(settings, collector_binary),
        prometheus_component(settings),
        alertmanager_component(settings),
        worker_component(settings),
        forwarder_component(settings),
        demo_component(settings),
    ]
    if load_rate is not None:
        components.append(load_component(settings, load_rate))
    return components


def up(
    settings: Settings, progress: Progress, *, with_load: bool = True, load_rate: float = 5.0
) -> None:
    """Prepare and start every component that is not running, in dependency order."""
    collector_binary = ensure_collector(settings, progress)
    prepare_kafka(settings, progress)
    for component in _components(
        settings, collector_binary, load_rate=load_rate if with_load else None
    ):
        process = ManagedProcess(component, settings)
        if process.pid is not None:
            progress(f"{component.name}: already running (pid {process.pid})")
            continue
        began = time.monotonic()
        pid = process.start()
        progress(
            f"{component.name}: healthy in {time.monotonic() - began:.1f}s (pid {pid}, log {process.log_path})"
        )
        if component.name == "kafka":
            created = create_topics(settings, extra=state_topics(settings))
            progress(f"topics: {'created ' + ', '.join(created) if created else 'all present'}")


def down(settings: Settings, progress: Progress) -> None:
    """Stop every component of the stack, last started first."""
    for name in reversed(COMPONENTS):
        process = _tracked(name, settings)
        if process.stop():
            progress(f"{name}: stopped")


def status(settings: Settings) -> list[ComponentStatus]:
    """Each component's pid (None when stopped) and, when running, its health probe's answer."""
    rows = []
    for component in _components(settings, build_dir(settings), load_rate=0.0):
        pid = ManagedProcess(component, settings).pid
        rows.append(ComponentStatus(component.name, pid, pid is not None and component.healthy()))
    return rows


def _tracked(name: str, settings: Settings) -> ManagedProcess:
    """A handle on a component's pid file, without preparing or building anything."""
    placeholder = Component(name=name, command=[], ports={}, healthy=lambda: False)
    return ManagedProcess(placeholder, settings)
