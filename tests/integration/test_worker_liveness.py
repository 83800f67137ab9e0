"""The worker's liveness on a real broker: a crashed or stuck agent fails /health and exits non-zero; idle stays healthy.

The crashing and stuck agents are the test's own, added to the real app
(``build_app``) in a child process, so production code carries no test hook.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from aiops.kafka_config import client_config
from aiops.settings import Settings, environment
from aiops.stack.local import status, worker_component
from aiops.stack.process import ManagedProcess, http_ok

pytestmark = pytest.mark.integration

WORKER_WITH_A_BAD_AGENT = textwrap.dedent(
    """
    import asyncio, os, sys
    import faust
    from aiops.settings import Settings
    from aiops.stream.app import build_app

    settings = Settings()
    app = build_app(settings)

    @app.agent(app.topic(settings.topic_alerts, value_serializer="raw"), name="bad")
    async def bad(stream):
        async for value in stream:
            if sys.argv[1] == "crash":
                raise RuntimeError("crashed on purpose")
            if sys.argv[1] == "stuck":
                await asyncio.sleep(3600)

    if sys.argv[1] == "fetcher":  # the fetcher breaks once the test says so
        from aiops.stream import fetch

        getmany = fetch._ConsumerThread.getmany

        async def broken(self, *args, **kwargs):
            if os.path.exists(sys.argv[2]):
                raise RuntimeError("fetcher broken on purpose")
            return await getmany(self, *args, **kwargs)

        fetch._ConsumerThread.getmany = broken

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    """
)


def health(settings: Settings) -> tuple[int, dict | None]:
    """/health's status and body; status 0 when nothing answers."""
    try:
        response = httpx.get(f"http://127.0.0.1:{settings.faust_web_port}/health", timeout=1)
    except httpx.TransportError:
        return 0, None
    return response.status_code, response.json()


def start_bad_worker(settings: Settings, tmp_path: Path, how: str) -> subprocess.Popen:
    script = tmp_path / "bad_worker.py"
    script.write_text(WORKER_WITH_A_BAD_AGENT)
    log = (tmp_path / f"worker-{how}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(script), how, str(tmp_path / "break-the-fetcher")],
        env={**os.environ, **environment(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while health(settings)[0] != 200:
        assert process.poll() is None, (tmp_path / f"worker-{how}.log").read_text()
        assert time.monotonic() < deadline, "the worker never became healthy"
        time.sleep(0.25)
    return process


def trigger(settings: Settings, count: int = 3) -> None:
    producer = Producer(client_config(settings))
    for i in range(count):
        producer.produce(settings.topic_alerts, key=b"k", value=b"%d" % i)
    assert producer.flush(10) == 0


def watch_until_exit(settings: Settings, process: subprocess.Popen, timeout_s: float = 60):
    """Poll /health until the process exits: the answers seen (deduplicated, in order) and its exit status."""
    answers: list[tuple[int, dict | None]] = []
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        answer = health(settings)
        if not answers or answers[-1] != answer:
            answers.append(answer)
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
        pytest.fail(f"the worker did not exit; /health said {answers}")
    return answers, process.returncode


@pytest.mark.timeout(180)
def test_a_crashed_agent_fails_health_and_exits_non_zero(worker_settings, tmp_path):
    settings = worker_settings()
    process = start_bad_worker(settings, tmp_path, "crash")
    trigger(settings)
    answers, code = watch_until_exit(settings, process)
    assert code != 0, "a worker whose agent crashed must exit non-zero, to be restarted"
    assert answers[0][0] == 200 and answers[-1][0] != 200, answers


@pytest.mark.timeout(180)
def test_a_stuck_agent_fails_health_with_the_reason_and_exits_non_zero(worker_settings, tmp_path):
    settings = worker_settings(worker_stall_s=3.0)
    process = start_bad_worker(settings, tmp_path, "stuck")
    trigger(settings)
    answers, code = watch_until_exit(settings, process)
    assert code != 0
    failing = [body for status, body in answers if status == 503]
    assert failing, f"/health must answer 503 before the exit; it said {answers}"
    assert f"{settings.topic_alerts}[" in failing[0]["reason"]
    assert "no progress for" in failing[0]["reason"] and "records waiting" in failing[0]["reason"]


@pytest.mark.timeout(180)
def test_a_crashed_fetcher_fails_health_and_exits_non_zero(worker_settings, tmp_path):
    """Here Faust itself takes the worker down (the fetcher has no supervisor); liveness is the backstop."""
    settings = worker_settings()
    process = start_bad_worker(settings, tmp_path, "fetcher")
    (tmp_path / "break-the-fetcher").touch()
    answers, code = watch_until_exit(settings, process)
    assert code != 0, "a worker whose fetcher crashed must exit non-zero"
    assert answers[0][0] == 200 and answers[-1][0] != 200, answers


@pytest.mark.timeout(180)
def test_an_idle_worker_stays_healthy_and_the_launcher_restarts_a_dead_one(worker_settings):
    settings = worker_settings(worker_stall_s=2.0)
    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    try:
        for _ in range(10):  # five stall thresholds without input
            assert health(settings) == (200, {"status": "ok"})
            time.sleep(1.0)

        (child,) = _children(worker.pid)
        os.kill(child, signal.SIGKILL)
        row = next(row for row in status(settings) if row.name == "worker")
        assert row.pid == worker.pid and not row.healthy, "aiops stack status shows it unhealthy"
        deadline = time.monotonic() + 90
        while not http_ok(f"http://127.0.0.1:{settings.faust_web_port}/health"):
            assert time.monotonic() < deadline, "the launcher did not restart the worker"
            time.sleep(0.5)
        assert _children(worker.pid) not in ([], [child])
    finally:
        worker.stop()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]
