"""Fault state: expiry, replacement, the ``*`` route, rates, thread safety (fake clock)."""

import random
import threading

import pytest

from aiops_demo.faults import ALL_ROUTES, Effect, FaultState


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_fault_applies_until_its_duration_ends(clock):
    faults = FaultState(clock=clock)
    faults.set("/api/users", latency_ms=250, duration_s=10)
    assert faults.effect("/api/users") == Effect(latency_s=0.25)
    clock.now += 9.999
    assert faults.effect("/api/users").latency_s == 0.25
    clock.now += 0.001
    assert faults.effect("/api/users") == Effect()
    assert faults.active() == []


def test_fault_only_touches_its_route(clock):
    faults = FaultState(clock=clock)
    faults.set("/api/checkout", error_rate=0.5, duration_s=5)
    assert faults.effect("/api/checkout").error_rate == 0.5
    assert faults.effect("/api/users") == Effect()


def test_new_fault_replaces_the_old_one_on_the_same_route(clock):
    faults = FaultState(clock=clock)
    faults.set("/api/users", latency_ms=100, duration_s=60)
    faults.set("/api/users", error_rate=0.2, duration_s=1)
    assert faults.effect("/api/users") == Effect(latency_s=0.0, error_rate=0.2)
    clock.now += 1
    assert faults.effect("/api/users") == Effect()


def test_route_fault_and_all_routes_fault_add_up(clock):
    faults = FaultState(clock=clock)
    faults.set(ALL_ROUTES, latency_ms=100, error_rate=0.5, duration_s=5)
    faults.set("/api/products", latency_ms=50, error_rate=0.5, duration_s=5)
    assert faults.effect("/api/products") == Effect(latency_s=pytest.approx(0.15), error_rate=0.75)
    assert faults.effect("/api/users") == Effect(latency_s=0.1, error_rate=0.5)


def test_clear_one_route_or_all(clock):
    faults = FaultState(clock=clock)
    faults.set("/api/users", latency_ms=1, duration_s=5)
    faults.set("/api/products", latency_ms=1, duration_s=5)
    assert faults.clear("/api/users") == 1
    assert faults.clear("/api/users") == 0
    assert [f.route for f in faults.active()] == ["/api/products"]
    assert faults.clear() == 1
    assert faults.active() == []


def test_remaining_seconds_follow_the_clock(clock):
    faults = FaultState(clock=clock)
    fault = faults.set("/api/users", latency_ms=1, duration_s=30)
    clock.now += 12
    assert faults.remaining_s(fault) == pytest.approx(18)
    clock.now += 60
    assert faults.remaining_s(fault) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_ms": -1, "duration_s": 1},
        {"error_rate": 1.5, "duration_s": 1},
        {"error_rate": -0.1, "duration_s": 1},
        {"latency_ms": 10, "duration_s": 0},
    ],
)
def test_invalid_faults_are_refused(kwargs):
    with pytest.raises(ValueError):
        FaultState().set("/api/users", **kwargs)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_injected_error_frequency_matches_the_rate(rate):
    faults = FaultState(rng=random.Random(42))
    draws = 20_000
    failures = sum(faults.should_fail(Effect(error_rate=rate)) for _ in range(draws))
    assert failures / draws == pytest.approx(rate, abs=0.01)


def test_concurrent_use_from_threads(clock):
    faults = FaultState(clock=clock)
    errors: list[BaseException] = []

    def hammer(route: str) -> None:
        try:
            for i in range(2_000):
                faults.set(route, latency_ms=i % 7, duration_s=1 + i % 3)
                faults.effect(route)
                faults.active()
                if i % 50 == 0:
                    faults.clear(route)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(f"/api/r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(faults.active()) <= 8
