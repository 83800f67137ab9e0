"""A restart policy for plain processes: run a command again whenever it exits non-zero.

The local stack has no container runtime to restart a worker that exits
because it is not alive (``aiops.stream.liveness``), so ``aiops worker
--restart`` runs the worker as a child of this loop, as compose's
``restart: unless-stopped`` and a Kubernetes pod would: with a doubling
backoff between restarts, reset after a run that lasted a minute, and no
restart once the loop itself is told to stop (SIGTERM or SIGINT, passed on
to the child) or the child exits with ``EX_CONFIG`` (78: its settings are
wrong, e.g. Kafka refused its password, and a restart will not help).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

__all__ = ["run_processes", "run_restarting"]

STEADY_RUN_S = 60.0
"""A child that ran this long before exiting counts as having worked: the backoff starts over."""


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_restarting(
    command: Sequence[str],
    *,
    backoff_s: float = 1.0,
    max_backoff_s: float = 30.0,
    progress: Callable[[str], None] = _to_stderr,
) -> int:
    """Run ``command`` until it exits 0 or ``EX_CONFIG``, or this process is told to stop; its last exit status.

    Install from the main thread: it takes over SIGTERM and SIGINT.
    """
    stopping = threading.Event()
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = backoff_s
    while True:
        started = time.monotonic()
        child = subprocess.Popen(list(command))
        code = child.wait()
        if code in (0, os.EX_CONFIG) or stopping.is_set():
            return code
        if time.monotonic() - started >= STEADY_RUN_S:
            delay = backoff_s
        progress(
            f"{' '.join(command)} (pid {child.pid}) exited with {code}; restarting in {delay:g}s"
        )
        if stopping.wait(delay):
            return code
        delay = min(delay * 2, max_backoff_s)


def run_processes(commands: Sequence[tuple[Sequence[str], Mapping[str, str]]]) -> int:
    """Run every ``(command, extra environment)`` at once until all exit; the first non-zero status, or 0.

    SIGTERM and SIGINT are passed on to each child still running. Install
    from the main thread: it takes over both signals.
    """
    children = [
        subprocess.Popen(list(command), env={**os.environ, **env}) for command, env in commands
    ]

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [child.wait() for child in children]
    return next((code for code in codes if code), 0)
