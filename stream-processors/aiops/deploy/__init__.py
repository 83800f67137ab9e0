"""Kubernetes config rendered from the one set of config files (``aiops generate``).

``render_k8s_config`` / ``write_k8s_config`` / ``k8s_config_drift``: the copies
under ``k8s/base/config/`` and ``k8s/kafka/config/``, because kustomize refuses
files outside its own root. The tools that check the deployment files
(kustomize, the compose loader, promtool) are test tooling, in ``tests/support/``.

Nothing here imports faust, confluent_kafka or fastapi.
"""

from aiops.deploy.k8s_config import k8s_config_drift, render_k8s_config, write_k8s_config

__all__ = ["k8s_config_drift", "render_k8s_config", "write_k8s_config"]
