"""The load generator against the demo app served by uvicorn on 127.0.0.1 (real HTTP)."""

import asyncio
import random
import socket
import threading
import time
from typing import Self

import pytest
import uvicorn
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from aiops_demo import FaultState, build_resource, build_telemetry, create_app
from aiops_demo.telemetry import HTTP_DURATION_METRIC
from aiops_producers import DemoServiceUnavailable, LoadSummary, generate_load, run_load
from aiops_producers.loadgen import LoadError
from aiops_producers.scenarios import FaultPhase, Scenario


class ServedDemo:
    """The demo app on a free 127.0.0.1 port, in a background thread, with in-memory metrics."""

    def __init__(self, fault_token: str | None = None) -> None:
        self.reader = InMemoryMetricReader()
        self.faults = FaultState(rng=random.Random(1))
        self.telemetry = build_telemetry(
            build_resource(instance_id="loadgen-test"), [self.reader], []
        )
        app = create_app(
            self.telemetry, self.faults, payment_delay_s=(0.001, 0.003), fault_token=fault_token
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        self.telemetry.shutdown()

    def counts(self) -> dict[tuple[str, int], int]:
        """(route, status) → requests, from the server's duration histogram."""
        data = self.reader.get_metrics_data()
        found: dict[tuple[str, int], int] = {}
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == HTTP_DURATION_METRIC:
                        for p in m.data.data_points:
                            key = (
                                p.attributes["http.route"],
                                p.attributes["http.response.status_code"],
                            )
                            found[key] = found.get(key, 0) + p.count
        return found

    def settled_counts(self, expected_total: int) -> dict[tuple[str, int], int]:
        """The server counts once the last response is recorded (that happens after sending it)."""
        deadline = time.monotonic() + 2
        while (
            sum((counts := self.counts()).values()) < expected_total and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        return counts


@pytest.fixture(scope="module")
def served():
    with ServedDemo() as demo:
        yield demo


@pytest.fixture(autouse=True)
def _reset(served):
    yield
    served.faults.clear()
    served.reader.get_metrics_data()


def test_summary_counts_equal_the_server_counts(served):
    before = served.counts()
    summary = run_load(served.url, rate=100, requests=120, seed=7, progress=False)
    assert isinstance(summary, LoadSummary)
    assert summary.sent == summary.responses == 120
    assert summary.transport_errors == {}
    after = served.settled_counts(sum(before.values()) + 120)
    seen = {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}
    assert seen == summary.counts
    assert set(summary.by_route()) == {
        "/api/users",
        "/api/products",
        "/api/users/{user_id}",
        "/api/checkout",
    }
    assert summary.by_status() == {200: 120}
    assert 1.19 <= summary.duration_s < 5


def test_duration_run_lasts_its_duration(served):
    summary = run_load(served.url, rate=100, duration_s=0.6, seed=1, progress=False)
    assert 0.6 <= summary.duration_s < 2.0
    assert 40 <= summary.sent <= 61


def test_error_burst_scenario_sets_then_clears_its_fault(served):
    before = served.counts()
    summary = run_load(
        served.url,
        rate=100,
        duration_s=1.5,
        scenario="error-burst",
        fault_route="/api/users",
        seed=3,
        progress=False,
    )
    assert served.faults.active() == []
    [window] = summary.phases
    assert window.name == "error-burst" and window.route == "/api/users"
    assert window.ended_at - window.started_at == pytest.approx(0.3 * 1.5, abs=0.2)
    errors = {route: n for (route, status), n in summary.counts.items() if status == 500}
    assert set(errors) == {"/api/users"}
    assert 0 < errors["/api/users"] < summary.by_route()["/api/users"]
    after = served.settled_counts(sum(before.values()) + summary.sent)
    assert {
        k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)
    } == summary.counts


def test_latency_phase_and_concurrency_bound(served):
    spike = Scenario("spike", "", (FaultPhase("spike", 0.0, 1.0, "*", latency_ms=100),))
    summary = run_load(
        served.url, rate=100, requests=20, scenario=spike, concurrency=4, progress=False
    )
    assert summary.by_status() == {200: 20}
    assert summary.duration_s >= 20 / 4 * 0.1
    assert served.faults.active() == []


def test_cancelled_run_clears_its_fault(served):
    spike = Scenario("now", "", (FaultPhase("now", 0.0, 1.0, "*", latency_ms=10),))

    async def start_then_cancel():
        task = asyncio.create_task(
            generate_load(served.url, rate=50, duration_s=30, scenario=spike)
        )
        while not served.faults.active():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_cancel())
    assert served.faults.active() == []


def test_a_scenario_sends_the_fault_token_the_service_asks_for():
    spike = Scenario("spike", "", (FaultPhase("spike", 0.0, 1.0, "*", latency_ms=1),))
    with ServedDemo(fault_token="s3cret") as guarded:
        with pytest.raises(LoadError, match="answered 401"):
            run_load(guarded.url, rate=50, requests=5, scenario=spike, progress=False)
        summary = run_load(
            guarded.url, rate=50, requests=5, scenario=spike, fault_token="s3cret", progress=False
        )
        assert summary.by_status() == {200: 5} and [w.name for w in summary.phases] == ["spike"]
        assert guarded.faults.active() == []


def test_demo_service_down_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(
        DemoServiceUnavailable, match=r"no demo service answers at http://127\.0\.0\.1"
    ):
        run_load(url, rate=10, requests=5, progress=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"requests": 0},
        {"duration_s": -1},
        {"requests": 5, "rate": 0},
        {"requests": 5, "shape": "spiky"},
    ],
)
def test_bad_arguments_are_refused_before_any_request(kwargs):
    with pytest.raises(ValueError):
        run_load("http://127.0.0.1:9", **{"rate": 10, **kwargs}, progress=False)
