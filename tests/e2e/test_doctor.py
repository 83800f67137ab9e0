"""`aiops doctor` on the running local stack: all green, then a stopped worker and a stopped collector
are named with their fixes."""

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from aiops.settings import Settings, environment
from aiops.stack.collector import collector_component, ensure_collector
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from aiops_producers.loadgen import run_load

pytestmark = pytest.mark.e2e


def doctor(settings: Settings) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env |= environment(settings)
    return subprocess.run(
        [sys.executable, "-m", "aiops", "doctor", "--window", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "COLUMNS": "200"},
        check=False,
    )


CHECKS = (
    "kafka",
    "topics",
    "collector",
    "worker",
    "alertmanager",
    "demo",
    "prometheus",
    "scrapes",
    "exports",
    "otlp",
    "points",
    "scores",
    "lag",
    "forward lag",
)
"""Every check the doctor runs on a healthy stack: each component, topics, scrapes, flow and lag."""


def _failing(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def wait_for_scrapes(settings: Settings, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = httpx.get(
            f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query", params={"query": "up"}
        ).json()
        if len(body["data"]["result"]) == 5:
            return True
        time.sleep(1)
    return False


def test_doctor_passes_on_a_healthy_stack_and_names_a_stopped_worker(local_stack):
    load = threading.Thread(
        target=run_load,
        args=(local_stack.demo_url,),
        kwargs={"rate": 10, "duration_s": 20, "progress": False},
    )
    load.start()
    assert wait_for_scrapes(local_stack), "Prometheus never scraped its targets"
    healthy = doctor(local_stack)
    load.join()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "all checks passed" in healthy.stdout
    passed = [line for line in healthy.stdout.splitlines() if line.startswith("ok")]
    assert [line[5:18].strip() for line in passed] == list(CHECKS), healthy.stdout

    worker = ManagedProcess(worker_component(local_stack), local_stack)
    worker.stop()
    try:
        broken = doctor(local_stack)
    finally:
        worker.start()
    assert broken.returncode == 1
    assert any(" worker " in line for line in _failing(broken)), broken.stdout
    assert "aiops stack logs worker" in broken.stdout


def test_doctor_names_a_stopped_collector_and_the_otlp_that_stopped_with_it(local_stack):
    load = threading.Thread(
        target=run_load,
        args=(local_stack.demo_url,),
        kwargs={"rate": 10, "duration_s": 15, "progress": False},
    )
    collector = ManagedProcess(
        collector_component(local_stack, ensure_collector(local_stack)), local_stack
    )
    collector.stop()
    load.start()
    try:
        broken = doctor(local_stack)
    finally:
        load.join()
        collector.start()
    assert broken.returncode == 1
    failing = _failing(broken)
    assert any(" collector " in line for line in failing), broken.stdout
    assert any(" otlp " in line for line in failing), broken.stdout
    assert "aiops stack logs collector" in broken.stdout
