"""Everything the deployment checks need, prepared ahead of time (``aiops stack prepare``)."""

from __future__ import annotations

from aiops.deploy.compose import compose_spec_schema, ensure_compose_loader
from aiops.deploy.kustomize import ensure_kustomize
from aiops.settings import Settings
from aiops.stack.go import Progress

__all__ = ["ensure_deploy_tools"]


def ensure_deploy_tools(settings: Settings, progress: Progress = print) -> None:
    """Install kustomize, build the compose loader and fetch the Compose schema, unless cached.

    Everything lands in ``<cache_dir>`` (``go-bin/``, ``compose-spec/``) and comes
    from the Go module proxy; with a warm cache this takes milliseconds. Raises
    ``GoBuildError`` with the tail of the failing step's output.
    """
    ensure_kustomize(settings, progress)
    ensure_compose_loader(settings, progress)
    compose_spec_schema(settings, progress)
