"""The demo service: a small shop API, instrumented with OpenTelemetry, with fault injection.

``create_app`` wires the routes to a ``FaultState`` and a ``Telemetry``; both
are parameters, so tests pass in-memory readers and a fake clock. When no
telemetry is given the app builds OTLP exporters and shuts them down (with a
last export) when it stops.

Every ``/api`` route goes through the faults first: the added latency is an
``asyncio.sleep`` inside the request (so it shows in the duration histogram and
the server span), and an injected error answers 500 and marks the span as an
error. ``/health``, ``/ready`` and ``/faults`` are control endpoints and are
left out of the telemetry. ``/faults`` answers loopback clients, or callers
with the fault token when one is set (``fault_access.FaultAccess``).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import Counter
from opentelemetry.trace import Status, StatusCode, Tracer
from pydantic import BaseModel, Field

from aiops_demo._version import __version__
from aiops_demo.fault_access import FaultAccess
from aiops_demo.faults import ALL_ROUTES, Fault, FaultState
from aiops_demo.telemetry import Telemetry, configure_otlp, use_stable_http_semconv

__all__ = [
    "API_ROUTES",
    "CHECKOUT_ORDERS_METRIC",
    "PAYMENT_SPAN",
    "FaultSpec",
    "Order",
    "create_app",
]

CHECKOUT_ORDERS_METRIC = "demo.checkout.orders"
PAYMENT_SPAN = "checkout.charge_payment"
_EXCLUDED_URLS = "/health,/ready,/faults"
_USERS = {i: {"id": i, "name": f"user-{i}"} for i in range(1, 101)}
_PRODUCTS = {
    i: {"id": i, "name": f"product-{i}", "price": round(4.99 + 3 * i, 2)} for i in range(1, 21)
}


class Order(BaseModel):
    """A checkout request: who buys which products."""

    user_id: int
    product_ids: list[int] = Field(min_length=1)


class FaultSpec(BaseModel):
    """The body of ``POST /faults``: what to add to a route (template or ``*``) and for how long."""

    route: str
    latency_ms: float = Field(0.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    duration_s: float = Field(60.0, gt=0)


class _InjectedError(Exception):
    """Raised by the fault step; answered with a 500."""

    def __init__(self, route: str):
        super().__init__(f"injected fault on {route}")
        self.route = route


@dataclass(frozen=True)
class _Runtime:
    """What the handlers need, kept on ``app.state``."""

    faults: FaultState
    fault_access: FaultAccess
    tracer: Tracer
    orders: Counter
    payment_delay_s: tuple[float, float]
    rng: random.Random


def _runtime(request: Request) -> _Runtime:
    return request.app.state.runtime


Runtime = Annotated[_Runtime, Depends(_runtime)]


async def _apply_faults(request: Request, rt: Runtime) -> None:
    """Sleep and/or fail as the active faults of this route say."""
    route = request.scope["route"].path
    effect = rt.faults.effect(route)
    span = trace.get_current_span()
    if effect.latency_s > 0:
        span.set_attribute("demo.fault.latency_ms", effect.latency_s * 1000.0)
        await asyncio.sleep(effect.latency_s)
    if rt.faults.should_fail(effect):
        span.set_attribute("demo.fault.injected", True)
        span.set_status(Status(StatusCode.ERROR))
        raise _InjectedError(route)


api = APIRouter(prefix="/api", dependencies=[Depends(_apply_faults)])


@api.get("/users")
async def list_users() -> list[dict]:
    """All users."""
    return list(_USERS.values())


@api.get("/users/{user_id}")
async def get_user(user_id: int) -> dict:
    """One user, 404 when unknown."""
    if user_id not in _USERS:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    return _USERS[user_id]


@api.get("/products")
async def list_products() -> list[dict]:
    """All products."""
    return list(_PRODUCTS.values())


@api.post("/checkout")
async def checkout(order: Order, rt: Runtime) -> dict:
    """Place an order: price it, charge the payment (the slow step), count it."""
    if order.user_id not in _USERS:
        raise HTTPException(status_code=404, detail=f"no user {order.user_id}")
    unknown = [p for p in order.product_ids if p not in _PRODUCTS]
    if unknown:
        raise HTTPException(status_code=404, detail=f"no products {unknown}")
    amount = round(sum(_PRODUCTS[p]["price"] for p in order.product_ids), 2)
    with rt.tracer.start_as_current_span(PAYMENT_SPAN) as span:
        span.set_attribute("demo.order.amount", amount)
        await asyncio.sleep(rt.rng.uniform(*rt.payment_delay_s))
    rt.orders.add(1)
    return {"order_id": str(uuid.uuid4()), "amount": amount}


API_ROUTES: tuple[str, ...] = tuple(route.path for route in api.routes)
"""The route templates faults can target (besides ``*``)."""


def _fault_view(faults: FaultState, fault: Fault) -> dict:
    return {
        "route": fault.route,
        "latency_ms": fault.latency_ms,
        "error_rate": fault.error_rate,
        "remaining_s": round(faults.remaining_s(fault), 3),
    }


async def _require_fault_access(request: Request, rt: Runtime) -> None:
    """Refuse a ``/faults`` request the fault access rule does not allow (401 or 403)."""
    client = request.client.host if request.client else None
    refusal = rt.fault_access.refusal(client, request.headers.get("authorization"))
    if refusal is not None:
        status, message = refusal
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        raise HTTPException(status_code=status, detail=message, headers=headers)


control = APIRouter()
faults_api = APIRouter(dependencies=[Depends(_require_fault_access)])


@control.get("/health")
async def health() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@control.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 once started with telemetry configured, 503 before and while stopping."""
    is_ready = bool(getattr(request.app.state, "ready", False))
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@faults_api.post("/faults", status_code=201)
async def set_fault(spec: FaultSpec, rt: Runtime) -> dict:
    """Set (replace) the fault of one route template, or of every route with ``*``."""
    if spec.route != ALL_ROUTES and spec.route not in API_ROUTES:
        raise HTTPException(
            status_code=422, detail=f"route must be '*' or one of {list(API_ROUTES)}"
        )
    if spec.latency_ms == 0 and spec.error_rate == 0:
        raise HTTPException(status_code=422, detail="set latency_ms > 0 or error_rate > 0")
    fault = rt.faults.set(
        spec.route,
        latency_ms=spec.latency_ms,
        error_rate=spec.error_rate,
        duration_s=spec.duration_s,
    )
    return _fault_view(rt.faults, fault)


@faults_api.get("/faults")
async def list_faults(rt: Runtime) -> dict:
    """The active faults with the seconds each has left."""
    return {"faults": [_fault_view(rt.faults, f) for f in rt.faults.active()]}


@faults_api.delete("/faults")
async def clear_faults(rt: Runtime, route: str | None = None) -> dict:
    """Clear the fault of ``?route=``, or all of them."""
    return {"cleared": rt.faults.clear(route)}


def create_app(
    telemetry: Telemetry | None = None,
    faults: FaultState | None = None,
    payment_delay_s: tuple[float, float] = (0.05, 0.15),
    rng: random.Random | None = None,
    fault_token: str | None = None,
) -> FastAPI:
    """The demo service app.

    ``telemetry`` defaults to OTLP export (see ``telemetry.configure_otlp``),
    owned and shut down by the app; injected telemetry stays the caller's.
    ``payment_delay_s`` is the uniform range of the checkout's payment step.
    ``fault_token`` (None or empty: none) is what ``/faults`` callers must
    send as a bearer token; without one only loopback clients may use it.
    """
    use_stable_http_semconv()
    owned = telemetry is None
    tel = configure_otlp() if telemetry is None else telemetry

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if owned:
                tel.shutdown()

    app = FastAPI(title="aiops demo service", version=__version__, lifespan=lifespan)
    app.state.ready = False
    app.state.runtime = _Runtime(
        faults=faults or FaultState(),
        fault_access=FaultAccess(fault_token),
        tracer=tel.tracer_provider.get_tracer("aiops_demo", __version__),
        orders=tel.meter_provider.get_meter("aiops_demo", __version__).create_counter(
            CHECKOUT_ORDERS_METRIC, unit="{order}", description="Orders placed through checkout."
        ),
        payment_delay_s=payment_delay_s,
        rng=rng or random.Random(),
    )
    app.include_router(api)
    app.include_router(control)
    app.include_router(faults_api)

    @app.exception_handler(_InjectedError)
    async def injected_error(request: Request, exc: _InjectedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
        excluded_urls=_EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    return app
