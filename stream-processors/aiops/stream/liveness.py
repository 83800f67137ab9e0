"""Whether the worker is alive: its fetcher runs and every partition it reads moves when records wait.

Faust restarts a crashed agent in place and keeps serving ``/metrics`` when
its fetcher dies, so a worker can look up while it processes nothing. The
app therefore crashes on an agent's crash (``build_app`` sets Faust's
``CrashingSupervisor``), and ``watch_liveness`` adds ``/health`` and a timer:
once the fetcher has crashed, or a partition of an agent's topic has had
records waiting for ``worker_stall_s`` without its committed offset moving,
``/health`` answers 503 with the reason and, a check later, the app crashes,
so the process exits non-zero and its supervisor (``aiops worker --restart``
in the local stack, compose's restart policy, the Kubernetes liveness probe
on ``/health``) starts it again.

Faust's clean stop after a crash can wait forever (on an agent stuck on an
event, or on an event a crashed agent never acknowledged) while its web
server still answers, and its timers, this module's included, end at the
crash. So ``/health`` answers 503 from the moment the app has crashed, and a
thread outside the event loop exits the process by force (status 1)
``SHUTDOWN_GRACE_S`` after any crash.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import faust
from faust.types import TP

__all__ = ["CHECK_INTERVAL_S", "SHUTDOWN_GRACE_S", "LivenessError", "Progress", "watch_liveness"]

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 1.0
"""How often the worker checks itself; a failure is served on ``/health`` for one interval before the exit."""

SHUTDOWN_GRACE_S = 15.0
"""How long a worker that is not alive may take to stop cleanly before it exits by force (status 1)."""


class LivenessError(RuntimeError):
    """The worker crashes itself with this when it is not alive; the message says why."""


@dataclass(frozen=True)
class Progress:
    """One partition's committed offset and since when it has had records waiting behind it unmoved."""

    committed: int
    waiting_since: float | None

    def next(self, committed: int, highwater: int, now: float) -> Progress:
        """The progress after a check that saw ``committed`` and the partition's ``highwater``.

        >>> p = Progress(10, None).next(10, 15, now=100.0)  # records wait behind offset 10
        >>> p.stalled_for(now=130.0)
        30.0
        >>> p.next(10, 16, now=130.0).stalled_for(now=130.0)  # more arrive, none is processed
        30.0
        >>> p.next(12, 16, now=131.0).stalled_for(now=131.0)  # the offset moved
        0.0
        >>> Progress(16, None).next(16, 16, now=200.0).stalled_for(now=900.0)  # idle: nothing waits
        0.0
        """
        if highwater <= committed:
            return Progress(committed, None)
        if committed != self.committed or self.waiting_since is None:
            return Progress(committed, now)
        return self

    def stalled_for(self, now: float) -> float:
        """Seconds the partition has had records waiting without its committed offset moving."""
        return 0.0 if self.waiting_since is None else now - self.waiting_since


class _Liveness:
    def __init__(self, app: faust.App, stall_s: float) -> None:
        self._app = app
        self._stall_s = stall_s
        self._progress: dict[TP, Progress] = {}
        self.failure: str | None = None

    def _sources(self) -> set[str]:
        return {topic for agent in self._app.agents.values() for topic in agent.channel.topics}

    async def check(self) -> str | None:
        """Why the worker is not alive now, or None."""
        app = self._app
        fetcher = app._fetcher
        if fetcher.crashed:
            return f"the fetcher crashed: {fetcher.crash_reason!r}"
        if app.rebalancing or app.in_recovery:  # partitions move and are replayed: not a stall
            self._progress.clear()
            return None
        consumer = app.consumer
        sources = self._sources()
        assigned = [tp for tp in consumer.assignment() if tp.topic in sources]
        # Faust's record of what it committed; None until its first commit, which starts at the log's start
        committed_at = {tp: consumer._committed_offset.get(tp) for tp in assigned}
        if uncommitted := [tp for tp, offset in committed_at.items() if offset is None]:
            committed_at.update(await consumer.earliest_offsets(*uncommitted))
            if app.rebalancing:  # it began while the offsets were fetched
                self._progress.clear()
                return None
        now = time.monotonic()
        seen = set()
        highwaters = (
            consumer.assigned_highwaters()
        )  # one step, after the await: no revocation in between
        for tp, committed in committed_at.items():
            highwater = highwaters.get(tp)  # None: revoked meanwhile, or not fetched yet
            if highwater is None or committed is None:
                continue
            seen.add(tp)
            previous = self._progress.get(tp, Progress(committed, None))
            progress = self._progress[tp] = previous.next(committed, highwater, now)
            if (stalled := progress.stalled_for(now)) >= self._stall_s:
                return (
                    f"{tp.topic}[{tp.partition}]: no progress for {stalled:.0f}s with "
                    f"{highwater - committed} records waiting after offset {committed}"
                )
        for tp in set(self._progress) - seen:
            del self._progress[tp]
        return None


def _exit_after_a_crash(app: faust.App) -> None:
    """Wait (in a thread) until the app has crashed, give its stop ``SHUTDOWN_GRACE_S``, then exit with status 1."""
    while not app.crashed:
        time.sleep(CHECK_INTERVAL_S)
    time.sleep(SHUTDOWN_GRACE_S)
    log.error(
        "crashed (%r) and still stopping after %.0fs: exiting by force",
        app.crash_reason,
        SHUTDOWN_GRACE_S,
    )
    os._exit(1)


def watch_liveness(app: faust.App, stall_s: float) -> None:
    """Serve ``/health`` and check the worker every ``CHECK_INTERVAL_S``; crash the app when it is not alive."""
    liveness = _Liveness(app, stall_s)

    @app.page("/health")
    async def health(web, request):
        reason = liveness.failure or (f"crashed: {app.crash_reason!r}" if app.crashed else None)
        if reason is None:
            return web.json({"status": "ok"})
        return web.json({"status": "failing", "reason": reason}, status=503)

    @app.task
    async def start_the_exit_deadline():
        threading.Thread(
            target=_exit_after_a_crash, args=(app,), name="exit-after-a-crash", daemon=True
        ).start()

    @app.timer(CHECK_INTERVAL_S, name="liveness")
    async def check_liveness():
        if liveness.failure is not None:
            await app.crash(LivenessError(liveness.failure))
            return
        liveness.failure = await liveness.check()
        if liveness.failure is not None:
            log.error("not alive, exiting to be restarted: %s", liveness.failure)
