"""Alertmanager of the local stack: Debian's binary and the one config in ``storage/alertmanager``."""

from __future__ import annotations

import shutil

from aiops.settings import Settings
from aiops.stack.process import Component, http_ok

__all__ = [
    "APT_INSTALL",
    "AlertmanagerMissingError",
    "alertmanager_binary",
    "alertmanager_component",
]

APT_INSTALL = "apt-get update && apt-get install -y --no-install-recommends prometheus-alertmanager"


class AlertmanagerMissingError(RuntimeError):
    """Alertmanager is not installed; the message says how to install it."""


def alertmanager_binary() -> str:
    """The path of Debian's ``prometheus-alertmanager`` (or an ``alertmanager`` on PATH)."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise AlertmanagerMissingError(
            f"Alertmanager is not installed; install it with: {APT_INSTALL}"
        )
    return binary


def alertmanager_component(settings: Settings) -> Component:
    """Alertmanager on ``bind_host:alertmanager_port``, single node (no cluster listener), data under the stack dir."""
    data = settings.stack_dir / "alertmanager"
    return Component(
        name="alertmanager",
        command=[
            alertmanager_binary(),
            f"--config.file={settings.repo_root / 'storage' / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={data}",
            f"--web.listen-address={settings.bind_host}:{settings.alertmanager_port}",
            "--cluster.listen-address=",
        ],
        ports={"alertmanager_port": settings.alertmanager_port},
        healthy=lambda: http_ok(f"http://127.0.0.1:{settings.alertmanager_port}/-/ready"),
    )
