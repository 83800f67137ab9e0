"""Prometheus of the local stack: Debian's binary, the one config in ``storage/prometheus``.

Prometheus 2.42 cannot read environment variables in its config, so the
scrape targets live in file_sd JSON files beside the config. The local stack
lays out ``<stack_dir>/prometheus/``::

    prometheus.yml -> <repo>/storage/prometheus/prometheus.yml   (symlink)
    rules          -> <repo>/storage/prometheus/rules            (symlink)
    targets/<job>.json                                           (written from the settings)
    data/                                                        (the TSDB)

and starts Prometheus with that ``prometheus.yml``: relative paths in a config
resolve against the directory of ``--config.file``, so the repo's config reads
the stack's targets. Compose and Kubernetes mount ``targets/compose/`` instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from aiops.settings import Settings
from aiops.stack.process import Component, http_ok

__all__ = [
    "APT_INSTALL",
    "PrometheusConfigError",
    "PrometheusMissingError",
    "check_config",
    "prometheus_component",
    "scrape_targets",
    "write_layout",
]

APT_INSTALL = "apt-get update && apt-get install -y --no-install-recommends prometheus"
"""The Debian command that installs /usr/bin/prometheus and /usr/bin/promtool (2.42 on bookworm)."""

_RETENTION = "3d"


class PrometheusMissingError(RuntimeError):
    """``prometheus`` or ``promtool`` is not installed; the message says how to install it."""


class PrometheusConfigError(RuntimeError):
    """``promtool check config`` failed or warned; the message holds its output."""


def scrape_targets(settings: Settings) -> dict[str, list[dict]]:
    """The file_sd content of each scrape job of ``prometheus.yml``, at 127.0.0.1 and the settings' ports.

    >>> scrape_targets(Settings(faust_web_port=6066))["aiops-stream-processors"]
    [{'targets': ['127.0.0.1:6066']}]
    """
    ports = {
        "otel-collector": settings.collector_prometheus_port,
        "otel-collector-self": settings.collector_telemetry_port,
        "aiops-stream-processors": settings.faust_web_port,
        "prometheus": settings.prometheus_port,
        "alertmanager": settings.alertmanager_port,
    }
    return {job: [{"targets": [f"127.0.0.1:{port}"]}] for job, port in ports.items()}


def write_layout(settings: Settings) -> Path:
    """Lay out ``<stack_dir>/prometheus`` (symlinks, target files, data dir); return its ``prometheus.yml``."""
    source = settings.repo_root / "storage" / "prometheus"
    home = settings.stack_dir / "prometheus"
    (home / "targets").mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    _symlink(home / "prometheus.yml", source / "prometheus.yml")
    _symlink(home / "rules", source / "rules")
    for job, groups in scrape_targets(settings).items():
        target_file = home / "targets" / f"{job}.json"
        partial = target_file.with_suffix(".json.tmp")
        partial.write_text(json.dumps(groups, indent=2) + "\n")
        partial.replace(target_file)  # file_sd watches the folder: never show it half a file
    return home / "prometheus.yml"


def check_config(config: Path) -> None:
    """``promtool check config`` on ``config``, which also checks its rule and target files.

    Raises ``PrometheusConfigError`` on an error and also on a warning (to
    promtool, a missing target file is only a warning).
    """
    result = subprocess.run(
        [_binary("promtool"), "check", "config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "WARNING" in output:
        raise PrometheusConfigError(f"promtool check config {config}:\n{output}")


def prometheus_component(settings: Settings) -> Component:
    """Prometheus as a local-stack process on ``bind_host:prometheus_port``; healthy when ``/-/ready`` is 200.

    ``--web.enable-lifecycle`` lets ``curl -X POST 127.0.0.1:9090/-/reload``
    pick up regenerated rules without a restart.
    """
    binary = _binary("prometheus")
    config = write_layout(settings)
    ready_url = f"http://127.0.0.1:{settings.prometheus_port}/-/ready"
    return Component(
        name="prometheus",
        command=[
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={config.parent / 'data'}",
            f"--storage.tsdb.retention.time={_RETENTION}",
            f"--web.listen-address={settings.bind_host}:{settings.prometheus_port}",
            "--web.enable-lifecycle",
        ],
        ports={"prometheus_port": settings.prometheus_port},
        healthy=lambda: http_ok(ready_url),
        cwd=config.parent,
    )


def _binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None
    )
    if found is None:
        raise PrometheusMissingError(
            f"{name} is not installed; on Debian or Ubuntu run (as root): {APT_INSTALL}"
        )
    return found


def _symlink(link: Path, target: Path) -> None:
    if link.is_symlink() and link.readlink() == target:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} is in the way of a symlink to {target}; remove it")
    link.symlink_to(target)

