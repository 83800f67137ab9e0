"""Running the Go toolchain for the tools the project builds (collector, kustomize, compose loader).

Find ``go``, run a step with its output echoed and logged, and lock so that
concurrent callers build a tool once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

Progress = Callable[[str], None]

_FALLBACK_GO = Path("/usr/local/go/bin/go")


__all__ = [
    "GoBuildError",
    "GoMissingError",
    "Progress",
    "file_lock",
    "go_binary",
    "go_env",
    "run_logged",
]


class GoBuildError(RuntimeError):
    """A tool could not be installed or built; the message ends with the tail of its output."""


class GoMissingError(GoBuildError):
    """There is no ``go`` toolchain to build a tool with; the message says how to install one."""


def go_binary(purpose: str) -> Path:
    """The ``go`` command: on PATH, else /usr/local/go/bin/go; ``GoMissingError`` names ``purpose``."""
    found = shutil.which("go")
    if found:
        return Path(found)
    if _FALLBACK_GO.is_file():
        return _FALLBACK_GO
    raise GoMissingError(
        f"the go toolchain is needed to build {purpose}: install it "
        f"(https://go.dev/dl) or put it on PATH; looked on PATH and at {_FALLBACK_GO}"
    )


def go_env(go: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a go command: ``go`` on PATH, never a toolchain download."""
    path = f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "GOTOOLCHAIN": "local", **(extra or {})}


def run_logged(
    command: list[str],
    log_path: Path,
    env: Mapping[str, str],
    progress: Progress,
    cwd: Path | None = None,
) -> None:
    """Run one step, echo its lines through ``progress``, keep them in ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=30)
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            tail.append(line.rstrip())
            progress(f"  {line.rstrip()}")
    if process.returncode != 0:
        raise GoBuildError(
            f"{' '.join(command)} failed with code {process.returncode}; full log in {log_path}:\n"
            + "\n".join(tail)
        )


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so that concurrent callers build a tool once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
