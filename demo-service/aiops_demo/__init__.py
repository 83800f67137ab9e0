"""aiops_demo: an instrumented FastAPI shop with fault injection, a stand-in for a user's service.

It imports nothing from ``aiops``: what the pipeline learns about it comes only
over OTLP. ``create_app`` builds the app, ``FaultState`` holds the injected
faults, ``FaultAccess`` decides who may change them, ``telemetry`` configures
the OpenTelemetry SDK. Run it with
``python -m aiops_demo``.
"""

from aiops_demo._version import __version__
from aiops_demo.app import create_app
from aiops_demo.fault_access import FaultAccess
from aiops_demo.faults import ALL_ROUTES, Effect, Fault, FaultState
from aiops_demo.telemetry import Telemetry, build_resource, build_telemetry, configure_otlp

__all__ = [
    "ALL_ROUTES",
    "Effect",
    "Fault",
    "FaultAccess",
    "FaultState",
    "Telemetry",
    "__version__",
    "build_resource",
    "build_telemetry",
    "configure_otlp",
    "create_app",
]
