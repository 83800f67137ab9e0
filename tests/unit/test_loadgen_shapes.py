"""Traffic shapes and the arrival schedule."""

import math
from itertools import islice, pairwise, takewhile

import pytest

from aiops_producers.shapes import arrivals, diurnal, make_shape, steady


def test_diurnal_stays_between_its_bounds_and_repeats():
    shape = diurnal(min_rate=3, max_rate=12, period_s=40)
    values = [shape(t / 10) for t in range(800)]
    assert min(values) == pytest.approx(3)
    assert max(values) == pytest.approx(12)
    assert shape(7.3) == pytest.approx(shape(47.3))
    assert shape(20) == pytest.approx(12)


def test_make_shape_diurnal_defaults_to_a_tenth_of_the_peak():
    shape = make_shape("diurnal", 50, period_s=10)
    assert shape(0) == pytest.approx(5)
    assert shape(5) == pytest.approx(50)
    assert make_shape("steady", 7)(123) == 7


@pytest.mark.parametrize(
    "make",
    [
        lambda: steady(-1),
        lambda: diurnal(5, 2, 10),
        lambda: diurnal(0, 2, 0),
        lambda: make_shape("spiky", 1),
    ],
)
def test_bad_shapes_are_refused(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    "shape", [steady(25), diurnal(2, 40, period_s=30), diurnal(0, 10, period_s=20)]
)
def test_arrivals_integrate_the_rate(shape):
    horizon = 60.0
    sent = sum(1 for _ in takewhile(lambda t: t < horizon, arrivals(shape)))
    expected = sum(shape(i * 0.001) for i in range(int(horizon * 1000))) * 0.001
    assert sent == pytest.approx(expected, abs=2)


def test_arrivals_are_evenly_spaced_at_a_steady_rate():
    times = list(islice(arrivals(steady(8)), 9))
    gaps = [b - a for a, b in pairwise(times)]
    assert all(math.isclose(g, 0.125) for g in gaps)


def test_arrivals_pause_while_the_rate_is_zero():
    def idle_then_two(t: float) -> float:
        return 0.0 if t < 5 else 2.0

    first, second = islice(arrivals(idle_then_two), 1, 3)
    assert first == pytest.approx(5.5, abs=0.11)
    assert second - first == pytest.approx(0.5)
