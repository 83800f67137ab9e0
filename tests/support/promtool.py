"""``promtool check config`` for the deployment tests: the config each setup mounts, with its rules and targets."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aiops.stack.prometheus import prometheus_binary

__all__ = ["PrometheusConfigError", "check_config"]


class PrometheusConfigError(RuntimeError):
    """``promtool check config`` failed or warned; the message holds its output."""


def check_config(config: Path) -> None:
    """``promtool check config`` on ``config``, which also checks its rule and target files.

    Raises ``PrometheusConfigError`` on an error and also on a warning (to
    promtool, a missing target file is only a warning).
    """
    result = subprocess.run(
        [prometheus_binary("promtool"), "check", "config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "WARNING" in output:
        raise PrometheusConfigError(f"promtool check config {config}:\n{output}")
