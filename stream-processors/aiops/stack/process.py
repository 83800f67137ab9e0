"""Plain processes with a log file, a pid file, a health probe and a clean stop.

The local stack runs every component this way, without Docker: a component is
a command line plus the ports it binds plus a probe that says it is healthy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiops.settings import Settings, env_var

__all__ = [
    "Component",
    "ManagedProcess",
    "PortInUseError",
    "StartupError",
    "http_ok",
    "port_is_free",
]


class StartupError(RuntimeError):
    """A component did not become healthy; the message points at its log."""


class PortInUseError(StartupError):
    """A port a component needs is taken; the message names the setting that moves it."""


@dataclass(frozen=True)
class Component:
    """How to prepare, start and probe one process of the local stack.

    ``ports`` maps a settings field name (``kafka_port``) to the port it holds,
    so that a busy port is reported with the variable that changes it.
    """

    name: str
    command: Sequence[str]
    ports: Mapping[str, int]
    healthy: Callable[[], bool]
    startup_timeout_s: float = 60.0
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """True when ``url`` answers 200: the health probe of every HTTP component."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except OSError:
        return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port``.

    >>> with socket.socket() as s:
    ...     s.bind(("127.0.0.1", 0)); s.listen(); port_is_free(s.getsockname()[1])
    False
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) != 0


class ManagedProcess:
    """One component's process, tracked through ``<stack_dir>/run/<name>.pid``.

    Logs go to ``<stack_dir>/logs/<name>.log``. The process gets its own
    session, so ``stop`` ends it and every child it started.
    """

    def __init__(self, component: Component, settings: Settings):
        self.component = component
        self.log_path = settings.stack_dir / "logs" / f"{component.name}.log"
        self.pid_path = settings.stack_dir / "run" / f"{component.name}.pid"

    @property
    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_path.unlink(missing_ok=True)
            return None
        if _is_zombie(pid):
            self.pid_path.unlink(missing_ok=True)
            return None
        return pid

    def start(self) -> int:
        """Start the process unless it runs already, and wait until it is healthy."""
        if (pid := self.pid) is not None:
            return pid
        for setting, port in self.component.ports.items():
            if not port_is_free(port):
                raise PortInUseError(
                    f"{self.component.name}: port {port} is already in use; "
                    f"stop what holds it or set {env_var(setting)} to another port"
                )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(self.component.command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.component.cwd,
                env={**os.environ, **self.component.env},
                start_new_session=True,
            )
        self.pid_path.write_text(str(process.pid))
        self._wait_healthy(process)
        return process.pid

    def _wait_healthy(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.component.startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_path.unlink(missing_ok=True)
                raise StartupError(
                    f"{self.component.name} exited with code {process.returncode} while starting; "
                    f"see {self.log_path}:\n{self.tail()}"
                )
            if self.component.healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise StartupError(
            f"{self.component.name} was not healthy after {self.component.startup_timeout_s:.0f}s; "
            f"see {self.log_path}:\n{self.tail()}"
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL it after ``timeout_s``; True if it was running."""
        pid = self.pid
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.pid is not None:
            time.sleep(0.1)
        if self.pid is not None:
            _signal_group(pid, signal.SIGKILL)
            while self.pid is not None:
                time.sleep(0.05)
        self.pid_path.unlink(missing_ok=True)
        return True

    def tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    if _reap(pid):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _reap(pid: int) -> bool:
    """Reap our own exited child so that it stops counting as running."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
