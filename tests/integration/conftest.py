"""Integration fixtures: one real Kafka broker for the session, with the project's topics.

The broker comes from the first of: ``KAFKA_BOOTSTRAP_SERVERS`` if set,
testcontainers where a Docker engine answers, else the local launcher
(``aiops.stack.kafka.local_kafka``) on free ports in a session tmp dir, so a
running dev stack is never touched.
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aiops.settings import Settings
from aiops.stack.go import GoMissingError
from aiops.stack.kafka import local_bootstrap, local_kafka
from aiops.stack.prometheus import ensure_prometheus_3
from aiops.topics import create_topics, state_topics

KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
"""The image testcontainers' KafkaContainer runs in KRaft mode (Confluent images only)."""


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory, free_port) -> Iterator[str]:
    """Bootstrap servers of a real broker on which the project's topics exist."""
    with _any_kafka(lambda: tmp_path_factory.mktemp("stack"), free_port) as bootstrap:
        create_topics(Settings(kafka_bootstrap_servers=bootstrap))
        yield bootstrap


@pytest.fixture(scope="session")
def promtool_3() -> Path:
    """Prometheus 3's promtool (``PROMETHEUS_3``), built from the Go module proxy into the cache on first use.

    Debian's promtool (2.42) cannot load native histograms into ``input_series``.
    Skipped only where it is not cached and there is no go toolchain to build it.
    """
    try:
        return ensure_prometheus_3(
            Settings(), progress=lambda line: print(line, file=sys.stderr), command="promtool"
        )
    except GoMissingError as error:
        pytest.skip(f"no promtool 3: {error}")


WORKER_TOPICS = ("otlp_metrics", "points", "sli", "scores", "alerts", "deadletter")


@pytest.fixture(scope="session")
def worker_settings_in(kafka_bootstrap, free_port) -> Callable[..., Settings]:
    """``make(stack_dir, **overrides)``: ``worker_settings`` for fixtures wider than one test."""

    def make(stack_dir: Path, **overrides) -> Settings:
        run = uuid.uuid4().hex[:8]
        settings = Settings(
            **{
                "kafka_bootstrap_servers": kafka_bootstrap,
                "stack_dir": stack_dir,
                "faust_app_id": f"aiops-test-{run}",
                "faust_web_port": overrides.get("faust_web_port") or free_port(),
                **{f"topic_{name}": f"{name}.{run}" for name in WORKER_TOPICS},
                **overrides,
            }
        )
        create_topics(settings, extra=state_topics(settings))
        return settings

    return make


@pytest.fixture
def worker_settings(worker_settings_in, tmp_path: Path) -> Callable[..., Settings]:
    """``make(**overrides)``: settings for a worker of the test's own (app id, topics, web port), topics created.

    Each call gets a fresh run id, so topics and consumer groups never meet another test's.
    """
    return functools.partial(worker_settings_in, tmp_path)


@pytest.fixture
def isolated_kafka_settings(tmp_path: Path, free_port) -> Settings:
    """Settings for a local broker of the test's own: a fresh stack dir and free ports."""
    return isolated_settings(tmp_path / "stack", free_port)


def isolated_settings(stack_dir: Path, free_port: Callable[[], int]) -> Settings:
    """Settings whose local broker cannot collide with a dev stack or another test's broker.

    The jar cache stays the shared one, so Maven runs once per machine, not per test.
    """
    kafka_port = free_port()
    controller_port = free_port()
    while controller_port == kafka_port:
        controller_port = free_port()
    settings = Settings(
        stack_dir=stack_dir,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        kafka_security_protocol="PLAINTEXT",
    )
    return settings.model_copy(update={"kafka_bootstrap_servers": local_bootstrap(settings)})


@contextmanager
def _any_kafka(new_stack_dir: Callable[[], Path], free_port: Callable[[], int]) -> Iterator[str]:
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
    elif _docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        container.start(timeout=120)
        try:
            yield container.get_bootstrap_server()
        finally:
            container.stop()
    else:
        with local_kafka(isolated_settings(new_stack_dir(), free_port)) as bootstrap:
            yield bootstrap


def _docker_answers() -> bool:
    """True when a Docker engine answers a ping within two seconds."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        return docker.from_env(timeout=2).ping()
    except (DockerException, OSError):
        return False
