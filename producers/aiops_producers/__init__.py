"""aiops_producers: traffic for the demo service (shapes, route mix, fault scenarios).

``run_load`` drives the demo service over HTTP and returns a ``LoadSummary``
(counts per route template and status code) that tests compare with what the
pipeline saw. ``shapes``, ``routes``, ``scenarios`` and ``summary`` are pure;
``loadgen`` and ``cli`` are the shells. It imports nothing from ``aiops``.
"""

from aiops_producers.loadgen import (
    DEFAULT_URL,
    DemoServiceUnavailable,
    LoadError,
    generate_load,
    run_load,
)
from aiops_producers.routes import DEFAULT_MIX, RouteMix, RouteSpec
from aiops_producers.scenarios import SCENARIOS, FaultPhase, Scenario, get_scenario
from aiops_producers.shapes import SHAPES, arrivals, diurnal, make_shape, steady
from aiops_producers.summary import LoadSummary, PhaseWindow

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_URL",
    "SCENARIOS",
    "SHAPES",
    "DemoServiceUnavailable",
    "FaultPhase",
    "LoadError",
    "LoadSummary",
    "PhaseWindow",
    "RouteMix",
    "RouteSpec",
    "Scenario",
    "arrivals",
    "diurnal",
    "generate_load",
    "get_scenario",
    "make_shape",
    "run_load",
    "steady",
]
