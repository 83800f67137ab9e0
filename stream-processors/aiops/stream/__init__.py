"""The Faust shell: the app, its agents and its metrics; the logic lives in ``aiops.core``."""

from aiops.stream.app import build_app

__all__ = ["build_app"]
