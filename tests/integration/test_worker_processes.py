"""``aiops worker --processes 2`` on a real broker: two workers in one consumer group, each on its own port and state."""

import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from aiops.kafka_config import client_config
from aiops.settings import environment
from aiops.stack.process import http_ok, port_is_free

pytestmark = pytest.mark.integration


def two_free_ports(free_port) -> int:
    """A port that is free, with the next one free too."""
    while not port_is_free((port := free_port()) + 1):
        pass
    return port


def group_members(settings) -> int:
    """Members of the worker's consumer group (0 while its coordinator is not ready)."""
    admin = AdminClient(client_config(settings))
    (future,) = admin.describe_consumer_groups([settings.faust_app_id]).values()
    try:
        return len(future.result(timeout=10).members)
    except KafkaException:
        return 0


def test_two_worker_processes_share_the_consumer_group_and_stop_together(
    worker_settings, free_port
):
    settings = worker_settings(faust_web_port=two_free_ports(free_port))
    ports = [settings.faust_web_port, settings.faust_web_port + 1]
    parent = subprocess.Popen(
        [sys.executable, "-m", "aiops", "worker", "--processes", "2", "--loglevel", "warning"],
        env={**os.environ, **environment(settings)},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            all(http_ok(f"http://127.0.0.1:{port}/health") for port in ports)
            and group_members(settings) == 2
        ):
            assert parent.poll() is None, f"aiops worker exited with {parent.returncode}"
            time.sleep(1)
        assert all(http_ok(f"http://127.0.0.1:{port}/health") for port in ports)
        assert group_members(settings) == 2, "both processes are workers of one consumer group"
        assert (settings.stack_dir / "worker-1" / "faust").is_dir(), (
            "the second keeps its own state"
        )
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=90)
    assert code == 0
    assert all(port_is_free(port) for port in ports), "SIGTERM reaches every worker"
