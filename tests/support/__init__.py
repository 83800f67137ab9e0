"""Test and CI tooling, kept out of the runtime package: the deployment checkers.

- ``compose``: docker-compose.yml resolved by compose-go (the Go program in
  ``composeload/``) and the Compose Specification's JSON Schema;
- ``dockerfile``: the Dockerfiles parsed, for the build-argument and stage checks;
- ``dotenv``: ``.env`` read as compose reads it;
- ``kustomize``: kustomize from the Go module proxy, cached, and ``kustomize build``;
- ``promtool``: ``promtool check config`` on a Prometheus config with its rules and targets.

Importable as ``support`` because pytest puts ``tests/`` on ``sys.path``
(``pythonpath`` in pyproject.toml).
"""
