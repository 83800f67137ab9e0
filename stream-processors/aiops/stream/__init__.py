"""The Faust shell: the app, its agents and its metrics; the logic lives in the pure rooms ``aiops.decode``, ``aiops.slo`` and ``aiops.anomaly``."""

from aiops.stream.app import build_app

__all__ = ["build_app"]
