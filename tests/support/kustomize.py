"""kustomize, installed from the Go module proxy into the cache, and ``kustomize build``.

``ensure_kustomize`` runs ``go install sigs.k8s.io/kustomize/kustomize/v5@<version>``
with ``GOBIN=<cache_dir>/go-bin`` once and keeps the binary as
``kustomize-<version>``; later calls return it at once. It needs ``go`` (on PATH or
/usr/local/go/bin/go) and the Go module proxy, nothing else.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

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
    "KUSTOMIZE_MODULE",
    "KUSTOMIZE_VERSION",
    "KustomizeError",
    "ensure_kustomize",
    "kustomize_build",
]

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.2"
"""The newest kustomize whose go.mod accepts Go 1.26 (v5.8.3 asks for Go 1.27)."""


class KustomizeError(RuntimeError):
    """``kustomize build`` rejected a kustomization; the message holds its error."""


def ensure_kustomize(settings: Settings, progress: Progress = print) -> Path:
    """``<cache_dir>/go-bin/kustomize-<version>``, installed with ``go install`` if missing."""
    gobin = settings.cache_dir / "go-bin"
    binary = gobin / f"kustomize-{KUSTOMIZE_VERSION}"
    if binary.is_file():
        return binary
    with file_lock(gobin / ".kustomize.lock"):
        if binary.is_file():
            return binary
        go = go_binary("kustomize")
        staging = gobin / f".kustomize-{KUSTOMIZE_VERSION}.tmp"
        staging.mkdir(parents=True, exist_ok=True)
        progress(
            f"installing {KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION} into {gobin} (about a minute the first time)"
        )
        started = time.monotonic()
        run_logged(
            [str(go), "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
            gobin / f"install-kustomize-{KUSTOMIZE_VERSION}.log",
            go_env(go, {"GOBIN": str(staging)}),
            progress,
        )
        built = staging / "kustomize"
        if not built.is_file():
            raise GoBuildError(f"go install finished but {built} is missing")
        built.replace(binary)
        staging.rmdir()
        progress(f"installed {binary} in {time.monotonic() - started:.0f}s")
    return binary


def kustomize_build(binary: Path, directory: Path) -> list[dict]:
    """The resources ``kustomize build <directory>`` renders, in its output order.

    Raises ``KustomizeError`` with kustomize's message (which names the file
    and the field) when the kustomization does not build.
    """
    result = subprocess.run(
        [str(binary), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise KustomizeError(f"kustomize build {directory}:\n{result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
