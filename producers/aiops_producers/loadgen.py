"""The load generator: open-loop HTTP traffic on the demo service, with fault scenarios.

Requests go out on the schedule of a shape (``shapes.arrivals``), drawn from a
route mix, through one ``httpx.AsyncClient`` bound to the given base URL: only
relative paths are requested, redirects are not followed and proxy variables
are ignored, so no request leaves for another host. At most ``concurrency``
requests are in flight; when the service is slower than that allows, sending
falls behind the schedule and catches up as answers come back.

A scenario's faults are set and cleared through the demo's ``/faults`` API as
the run passes its phases; whatever happens, the last fault is cleared at the
end (and expires on its own if the generator is killed).

``run_load`` is the blocking entry for CLIs; ``generate_load`` the coroutine.
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
import time
from collections.abc import Callable
from contextlib import suppress
from itertools import islice

import httpx
from rich.console import Console
from rich.live import Live

from aiops_producers.display import Progress, progress_table, summary_table
from aiops_producers.routes import DEFAULT_MIX, Call, RouteMix
from aiops_producers.scenarios import BASELINE, FaultPhase, Scenario, get_scenario
from aiops_producers.shapes import Shape, arrivals, make_shape
from aiops_producers.summary import LoadSummary, PhaseWindow, Tally

__all__ = [
    "DEFAULT_URL",
    "DemoServiceUnavailable",
    "LoadError",
    "generate_load",
    "run_load",
]

DEFAULT_URL = "http://127.0.0.1:8000"
_FAULT_EXPIRY_MARGIN_S = 30.0
_PROGRESS_EVERY_S = 0.25
_KEEPALIVE_EXPIRY_S = 2.0
"""Below uvicorn's 5 s keep-alive, so an idle connection is never reused as the server closes it."""


class LoadError(RuntimeError):
    """A run that cannot start or go on; the message says why and what to do."""


class DemoServiceUnavailable(LoadError):
    """The demo service does not answer at the base URL."""


def _scheduled_run_s(shape: Shape, duration_s: float | None, requests: int | None) -> float:
    """How long the run lasts on schedule: the duration, or when the last request is due."""
    ends = [] if duration_s is None else [duration_s]
    if requests is not None:
        ends.append(next(islice(arrivals(shape), requests - 1, None)))
    return min(ends)


def _resolve_scenario(scenario: str | Scenario | None, fault_route: str | None) -> Scenario | None:
    chosen = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if chosen is not None and fault_route is not None:
        chosen = chosen.on_route(fault_route)
    return chosen


class _Run:
    """The state of one run; lives on one event loop."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        shape: Shape,
        mix: RouteMix,
        rng: random.Random,
        scenario: Scenario | None,
        duration_s: float | None,
        requests: int | None,
        concurrency: int,
        scheduled_run_s: float,
        fault_token: str | None = None,
    ):
        self.client = client
        self.fault_headers = {"Authorization": f"Bearer {fault_token}"} if fault_token else {}
        self.shape = shape
        self.mix = mix
        self.rng = rng
        self.scenario = scenario
        self.duration_s = duration_s
        self.requests = requests
        self.scheduled_run_s = scheduled_run_s
        self.tally = Tally()
        self.sent = 0
        self.slots = asyncio.Semaphore(concurrency)
        self.in_flight: set[asyncio.Task[None]] = set()
        self.phase: FaultPhase | None = None
        self.phase_started_at = 0.0
        self.windows: list[PhaseWindow] = []
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.started_at = time.time()

    def elapsed(self) -> float:
        return self.loop.time() - self.start

    def fraction_done(self) -> float:
        done = [self.elapsed() / self.duration_s] if self.duration_s else []
        if self.requests:
            done.append(self.sent / self.requests)
        return min(1.0, max(done))

    def progress(self) -> Progress:
        goal = " / ".join(
            ([f"{self.duration_s:g}s"] if self.duration_s else [])
            + ([f"{self.requests} requests"] if self.requests else [])
        )
        statuses: dict[int, int] = {}
        for (_, status), n in self.tally.counts.items():
            statuses[status] = statuses.get(status, 0) + n
        elapsed = self.elapsed()
        return Progress(
            elapsed_s=elapsed,
            goal=goal,
            sent=self.sent,
            in_flight=len(self.in_flight),
            by_status=statuses,
            transport_errors=sum(self.tally.transport_errors.values()),
            rate=self.tally.recent_rate(elapsed),
            target_rate=self.shape(elapsed),
            phase=f"{self.phase.name} on {self.phase.route}" if self.phase else BASELINE,
        )

    async def send(self, call: Call) -> None:
        try:
            response = await self.client.request(call.method, call.path, json=call.json)
        except httpx.HTTPError as exc:
            self.tally.record_error(call.route, type(exc).__name__, self.elapsed())
        else:
            self.tally.record(call.route, response.status_code, self.elapsed())
        finally:
            self.slots.release()

    async def schedule(self) -> None:
        """Send on the shape's schedule until the request count or the deadline is reached."""
        deadline = self.duration_s if self.duration_s is not None else math.inf
        for t in arrivals(self.shape):
            if self.requests is not None and self.sent >= self.requests:
                return
            await asyncio.sleep(max(0.0, min(t, deadline) - self.elapsed()))
            await self.slots.acquire()
            if self.elapsed() >= deadline:
                self.slots.release()
                return
            await self.enter_phase(
                self.scenario.phase_at(self.fraction_done()) if self.scenario else None
            )
            self.sent += 1
            task = asyncio.create_task(self.send(self.mix.pick(self.rng)))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def enter_phase(self, phase: FaultPhase | None) -> None:
        """Clear the current fault and set the next one when the phase changes."""
        if phase == self.phase:
            return
        if self.phase is not None:
            await self._control("DELETE", "/faults", params={"route": self.phase.route})
            self.windows.append(
                PhaseWindow(self.phase.name, self.phase.route, self.phase_started_at, time.time())
            )
            self.phase = None
        if phase is not None:
            # A safety expiry in case the generator dies: twice the phase, plus a margin.
            expiry = 2 * (phase.end - phase.start) * self.scheduled_run_s + _FAULT_EXPIRY_MARGIN_S
            self.phase, self.phase_started_at = phase, time.time()
            await self._control("POST", "/faults", json=phase.fault_request(expiry))

    async def _control(self, method: str, path: str, **kwargs) -> None:
        try:
            response = await self.client.request(method, path, headers=self.fault_headers, **kwargs)
        except httpx.HTTPError as exc:
            raise DemoServiceUnavailable(
                f"fault API {method} {self.client.base_url}{path} failed: {exc!r}"
            ) from exc
        if response.is_error:
            raise LoadError(
                f"fault API {method} {path} answered {response.status_code}: {response.text}"
            )

    async def finish(self) -> None:
        """Wait for the requests in flight, then clear any fault still set."""
        if self.in_flight:
            await asyncio.gather(*self.in_flight)
        await self.enter_phase(None)

    async def abandon(self) -> None:
        """After an error or a cancel: drop the requests in flight, clear the fault if possible."""
        for task in list(self.in_flight):
            task.cancel()
        if self.phase is not None:
            with suppress(LoadError):
                await self.enter_phase(None)


async def _check_service(client: httpx.AsyncClient) -> None:
    url = f"{client.base_url}/health"
    try:
        response = await client.get("/health")
    except httpx.HTTPError as exc:
        raise DemoServiceUnavailable(
            f"no demo service answers at {client.base_url} ({type(exc).__name__}: {exc}). "
            "Start it with `python -m aiops_demo --port <port>` or pass the right URL."
        ) from exc
    if response.status_code != 200:
        raise DemoServiceUnavailable(f"{url} answered {response.status_code}, expected 200")


async def generate_load(
    base_url: str = DEFAULT_URL,
    rate: float = 10.0,
    duration_s: float | None = None,
    requests: int | None = None,
    shape: str = "steady",
    scenario: str | Scenario | None = None,
    *,
    fault_route: str | None = None,
    min_rate: float | None = None,
    period_s: float = 300.0,
    mix: RouteMix = DEFAULT_MIX,
    concurrency: int = 64,
    timeout_s: float = 10.0,
    seed: int | None = None,
    fault_token: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> LoadSummary:
    """Drive the demo service at ``base_url`` and count what came back.

    The run stops after ``duration_s`` seconds or ``requests`` requests,
    whichever comes first (give at least one). ``shape`` is ``steady`` at
    ``rate`` or ``diurnal`` between ``min_rate`` and ``rate`` over ``period_s``.
    ``scenario`` names a fault scenario (see ``scenarios.SCENARIOS``) and
    ``fault_route`` moves its faults to another route; ``fault_token`` is
    sent as a bearer token with the fault calls (the demo service needs it
    when it is not on loopback). ``on_progress`` is
    called with a snapshot every quarter second. Raises
    ``DemoServiceUnavailable`` when nothing answers at ``base_url``.
    """
    if duration_s is None and requests is None:
        raise ValueError("give duration_s, requests or both")
    if (duration_s is not None and duration_s <= 0) or (requests is not None and requests <= 0):
        raise ValueError("duration_s and requests must be > 0")
    if rate <= 0 or concurrency < 1:
        raise ValueError("rate must be > 0 and concurrency >= 1")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    chosen = _resolve_scenario(scenario, fault_route)
    shape_fn = make_shape(shape, rate, min_rate=min_rate, period_s=period_s)
    limits = httpx.Limits(
        max_connections=concurrency + 1,
        max_keepalive_connections=concurrency + 1,
        keepalive_expiry=_KEEPALIVE_EXPIRY_S,
    )
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/"), timeout=timeout_s, limits=limits, trust_env=False
    ) as client:
        await _check_service(client)
        run = _Run(
            client,
            shape_fn,
            mix,
            random.Random(seed),
            chosen,
            duration_s,
            requests,
            concurrency,
            _scheduled_run_s(shape_fn, duration_s, requests),
            fault_token,
        )

        async def report() -> None:
            while True:
                on_progress(run.progress())
                await asyncio.sleep(_PROGRESS_EVERY_S)

        reporter = asyncio.create_task(report()) if on_progress else None
        try:
            await run.schedule()
            await run.finish()
        except BaseException:
            await run.abandon()
            raise
        finally:
            if reporter:
                reporter.cancel()
        if on_progress:
            on_progress(run.progress())
        return run.tally.summary(base_url, run.started_at, run.elapsed(), tuple(run.windows))


def run_load(
    base_url: str = DEFAULT_URL,
    rate: float = 10.0,
    duration_s: float | None = None,
    requests: int | None = None,
    shape: str = "steady",
    scenario: str | Scenario | None = None,
    *,
    fault_route: str | None = None,
    min_rate: float | None = None,
    period_s: float = 300.0,
    mix: RouteMix = DEFAULT_MIX,
    concurrency: int = 64,
    timeout_s: float = 10.0,
    seed: int | None = None,
    fault_token: str | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> LoadSummary:
    """Blocking ``generate_load`` (same arguments); ``progress`` adds a live line and a final table.

    Both go to ``console`` (default: stderr); the live line only on a terminal.
    Raises what ``generate_load`` raises.
    """
    load = functools.partial(
        generate_load,
        base_url,
        rate,
        duration_s,
        requests,
        shape,
        scenario,
        fault_route=fault_route,
        min_rate=min_rate,
        period_s=period_s,
        mix=mix,
        concurrency=concurrency,
        timeout_s=timeout_s,
        seed=seed,
        fault_token=fault_token,
    )
    if not progress:
        return asyncio.run(load())
    out = console or Console(stderr=True)
    if out.is_terminal:
        with Live(console=out, auto_refresh=False) as live:
            summary = asyncio.run(
                load(on_progress=lambda p: live.update(progress_table(p), refresh=True))
            )
    else:
        summary = asyncio.run(load())
    out.print(summary_table(summary))
    return summary
