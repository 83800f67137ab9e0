"""The route mix and the scenarios (pure)."""

import random
from collections import Counter

import pytest

from aiops_producers.routes import DEFAULT_MIX, PRODUCT_IDS, USER_IDS, RouteMix, RouteSpec
from aiops_producers.scenarios import BASELINE, SCENARIOS, FaultPhase, Scenario, get_scenario


def test_default_mix_shares():
    assert DEFAULT_MIX.shares() == {
        "/api/users": 0.50,
        "/api/products": 0.30,
        "/api/users/{user_id}": 0.15,
        "/api/checkout": 0.05,
    }


def test_drawn_routes_follow_the_shares():
    rng = random.Random(11)
    draws = 20_000
    counts = Counter(DEFAULT_MIX.pick(rng).route for _ in range(draws))
    for route, share in DEFAULT_MIX.shares().items():
        assert counts[route] / draws == pytest.approx(share, abs=0.01)


def test_calls_target_known_ids_with_relative_paths():
    rng = random.Random(5)
    for _ in range(500):
        call = DEFAULT_MIX.pick(rng)
        assert call.path.startswith("/api/")
        if call.route == "/api/users/{user_id}":
            assert int(call.path.rsplit("/", 1)[1]) in USER_IDS
        if call.route == "/api/checkout":
            assert call.method == "POST"
            assert call.json["user_id"] in USER_IDS
            assert 1 <= len(call.json["product_ids"]) <= 3
            assert set(call.json["product_ids"]) <= set(PRODUCT_IDS)
        else:
            assert call.method == "GET" and call.json is None


def test_same_seed_same_requests():
    def draw(seed):
        rng = random.Random(seed)
        return [DEFAULT_MIX.pick(rng) for _ in range(50)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_mix_needs_positive_weights():
    with pytest.raises(ValueError):
        RouteMix(())
    with pytest.raises(ValueError):
        RouteMix((RouteSpec("GET", "/api/users", 0.0),))


def test_named_scenarios():
    assert set(SCENARIOS) == {"steady", "error-burst", "latency-spike", "mixed"}
    assert SCENARIOS["steady"].phases == ()
    burst = get_scenario("error-burst").phases[0]
    assert burst.error_rate > 0 and burst.latency_ms == 0
    spike = get_scenario("latency-spike").phases[0]
    assert spike.latency_ms > 0 and spike.error_rate == 0
    assert {p.name for p in get_scenario("mixed").phases} == {"error-burst", "latency-spike"}
    with pytest.raises(ValueError, match="error-burst"):
        get_scenario("meltdown")


def test_phases_cover_a_window_of_the_run():
    mixed = get_scenario("mixed")
    names = [p.name if (p := mixed.phase_at(x / 100)) else BASELINE for x in range(100)]
    assert names[:20] == [BASELINE] * 20
    assert set(names[20:45]) == {"latency-spike"}
    assert set(names[45:55]) == {BASELINE}
    assert set(names[55:80]) == {"error-burst"}
    assert set(names[80:]) == {BASELINE}


def test_bad_phases_are_refused():
    with pytest.raises(ValueError):
        FaultPhase("x", 0.5, 0.4, "/api/users", error_rate=1)
    with pytest.raises(ValueError, match="overlap"):
        Scenario("x", "", (FaultPhase("a", 0.1, 0.5, "*"), FaultPhase("b", 0.4, 0.6, "*")))
