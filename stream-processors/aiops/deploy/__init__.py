"""Deployment helpers: Kubernetes config rendered from the one set of config files, and the tools
that check the deployment files without a Docker engine or a cluster.

- ``render_k8s_config`` / ``write_k8s_config`` / ``k8s_config_drift``: the copies under
  ``k8s/base/config/`` and ``k8s/kafka/config/`` (``aiops generate``).
- ``ensure_kustomize`` / ``kustomize_build``: kustomize from the Go module proxy, cached.
- ``ensure_compose_loader`` / ``load_compose`` / ``compose_spec_schema``: docker-compose.yml
  resolved by compose-go, and the Compose Specification's JSON Schema.
- ``ensure_deploy_tools``: all of the tools at once, for ``aiops stack prepare``.

Nothing here imports faust, confluent_kafka or fastapi.
"""

from aiops.deploy.compose import (
    ComposeError,
    compose_spec_schema,
    ensure_compose_loader,
    load_compose,
)
from aiops.deploy.k8s_config import k8s_config_drift, render_k8s_config, write_k8s_config
from aiops.deploy.kustomize import KustomizeError, ensure_kustomize, kustomize_build
from aiops.deploy.tools import ensure_deploy_tools

__all__ = [
    "ComposeError",
    "KustomizeError",
    "compose_spec_schema",
    "ensure_compose_loader",
    "ensure_deploy_tools",
    "ensure_kustomize",
    "k8s_config_drift",
    "kustomize_build",
    "load_compose",
    "render_k8s_config",
    "write_k8s_config",
]
