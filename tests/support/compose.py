"""docker-compose.yml without a Docker engine: compose-go's loader and the Compose schema.

``ensure_compose_loader`` builds ``composeload`` (``composeload/main.go`` next to
this file, a few lines around compose-go, the library ``docker compose`` itself
is built on) into ``<cache_dir>/go-bin/composeload-<hash of its sources>``.
``load_compose`` runs it: interpolation from ``.env`` and the environment,
schema validation, normalisation, path resolution and consistency checks, as
``docker compose config`` does, and returns the resolved project.

``compose_spec_schema`` is the Compose Specification's JSON Schema as shipped in
the same compose-go module (``schema/compose-spec.json``), fetched through the
Go module proxy with ``go mod download`` and kept in ``<cache_dir>/compose-spec/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from aiops.settings import Settings
from aiops.stack.go import (
    GoBuildError,
    Progress,
    file_lock,
    go_binary,
    go_env,
    run_logged,
)

__all__ = [
    "COMPOSE_GO_MODULE",
    "ComposeError",
    "compose_go_version",
    "compose_spec_schema",
    "ensure_compose_loader",
    "load_compose",
]

COMPOSE_GO_MODULE = "github.com/compose-spec/compose-go/v2"
_LOADER_DIR = Path(__file__).with_name("composeload")
_LOADER_SOURCES = ("go.mod", "go.sum", "main.go")


class ComposeError(RuntimeError):
    """compose-go rejected the compose files; the message holds its error."""


def compose_go_version() -> str:
    """The compose-go version ``composeload/go.mod`` requires (also the schema's version).

    >>> compose_go_version().startswith("v2.")
    True
    """
    go_mod = (_LOADER_DIR / "go.mod").read_text()
    match = re.search(
        rf"^\s*(?:require\s+)?{re.escape(COMPOSE_GO_MODULE)}\s+(v\S+)", go_mod, re.MULTILINE
    )
    if match is None:
        raise GoBuildError(f"{_LOADER_DIR / 'go.mod'} does not require {COMPOSE_GO_MODULE}")
    return match.group(1)


def ensure_compose_loader(settings: Settings, progress: Progress = print) -> Path:
    """The ``composeload`` binary for the current sources, built with ``go build`` if missing."""
    digest = hashlib.sha256()
    for name in _LOADER_SOURCES:
        digest.update((_LOADER_DIR / name).read_bytes())
    gobin = settings.cache_dir / "go-bin"
    binary = gobin / f"composeload-{digest.hexdigest()[:12]}"
    if binary.is_file():
        return binary
    with file_lock(gobin / ".composeload.lock"):
        if binary.is_file():
            return binary
        go = go_binary("the compose loader")
        progress(f"building composeload (compose-go {compose_go_version()}) into {gobin}")
        started = time.monotonic()
        partial = binary.with_suffix(".tmp")
        run_logged(
            [str(go), "build", "-trimpath", "-o", str(partial), "."],
            gobin / "build-composeload.log",
            go_env(go),
            progress,
            cwd=_LOADER_DIR,
        )
        partial.replace(binary)
        progress(f"built {binary} in {time.monotonic() - started:.0f}s")
    return binary


def load_compose(
    binary: Path,
    files: Iterable[Path],
    *,
    env: Mapping[str, str] | None = None,
    env_files: Iterable[Path] = (),
    workdir: Path | None = None,
) -> dict:
    """The project compose-go resolves from ``files``, as a dict (``docker compose config`` as JSON).

    ``env`` replaces the process environment (``None`` keeps it), so a test can
    say exactly which variables are set; ``.env`` in the project directory is
    read unless ``env_files`` names others. Raises ``ComposeError`` with
    compose-go's message when the files do not load.
    """
    command = [str(binary)]
    if workdir is not None:
        command += ["-workdir", str(workdir)]
    for env_file in env_files:
        command += ["-env-file", str(env_file)]
    command += [str(path) for path in files]
    base = {"PATH": os.environ.get("PATH", "")} if env is not None else dict(os.environ)
    result = subprocess.run(
        command,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ComposeError(result.stderr.strip() or f"composeload exited with {result.returncode}")
    return json.loads(result.stdout)


def compose_spec_schema(settings: Settings, progress: Progress = print) -> dict:
    """The Compose Specification JSON Schema of the compose-go module the loader uses."""
    version = compose_go_version()
    cached = settings.cache_dir / "compose-spec" / f"compose-spec-{version}.json"
    if not cached.is_file():
        with file_lock(cached.parent / ".download.lock"):
            if not cached.is_file():
                _download_schema(cached, version, progress)
    return json.loads(cached.read_text())


def _download_schema(target: Path, version: str, progress: Progress) -> None:
    go = go_binary("the compose loader")
    progress(f"fetching {COMPOSE_GO_MODULE}@{version} from the Go module proxy for its schema")
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(go), "mod", "download", "-json", f"{COMPOSE_GO_MODULE}@{version}"],
        cwd=target.parent,  # outside any Go module
        env=go_env(go),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise GoBuildError(
            f"go mod download {COMPOSE_GO_MODULE}@{version} failed:\n{result.stdout}{result.stderr}"
        )
    source = Path(json.loads(result.stdout)["Dir"]) / "schema" / "compose-spec.json"
    if not source.is_file():
        raise GoBuildError(f"{source} is missing from the compose-go module")
    partial = target.with_suffix(".tmp")
    shutil.copyfile(source, partial)
    partial.replace(target)
