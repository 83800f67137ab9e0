"""The OpenTelemetry Collector of the local stack: a cached ocb build, its config check and its process.

``ensure_collector`` builds ``otelcol-aiops`` from ``collector/builder-config.yaml``
with the OpenTelemetry Collector Builder (ocb) into
``<cache_dir>/collector/<sha256 of the manifest>/``; a later call with the same
manifest returns the binary at once. The first build downloads a few hundred Go
modules and compiles them, which takes minutes. It needs the ``go`` toolchain (on
PATH or at /usr/local/go/bin/go) and the Go module proxy.

From a shell::

    python -m aiops.stack.collector build      # prints the binary's path
    python -m aiops.stack.collector validate   # checks collector/otelcol-config.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from aiops.settings import Settings, env_var, environment
from aiops.stack.go import GoBuildError, Progress, file_lock, go_binary, go_env, run_logged
from aiops.stack.process import Component, http_ok

__all__ = [
    "KAFKA_AUTH_CONFIG",
    "CollectorConfigError",
    "build_dir",
    "collector_component",
    "collector_env",
    "config_path",
    "config_paths",
    "ensure_collector",
    "manifest_path",
    "validate_config",
]

_BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
_CORE_SERVICE_MODULE = "go.opentelemetry.io/collector/service"
_PORT_FIELDS = (
    "collector_otlp_grpc_port",
    "collector_otlp_http_port",
    "collector_prometheus_port",
    "collector_telemetry_port",
    "collector_health_port",
)
_CONFIG_FIELDS = (
    "bind_host",
    "kafka_bootstrap_servers",
    "topic_otlp_metrics",
    "topic_otlp_spans",
    "tempo_otlp_endpoint",
    "collector_kafka_compression",
    "max_record_bytes",
    *_PORT_FIELDS,
)


_AUTH_FIELDS = (
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_ssl_ca_location",
)

KAFKA_AUTH_CONFIG = Path("collector") / "otelcol-kafka-auth.yaml"
"""The kafka exporter's SASL and TLS block, merged over the base config when Kafka needs SASL_SSL.

``aiops generate`` copies it into the prod overlay, which mounts it as the
collector's second ``--config``, so the local stack and its test run exactly
what production runs.
"""


class CollectorConfigError(RuntimeError):
    """``otelcol-aiops validate`` rejected the config; the message holds its output."""


def manifest_path(settings: Settings) -> Path:
    """The ocb manifest, ``collector/builder-config.yaml``."""
    return settings.repo_root / "collector" / "builder-config.yaml"


def config_path(settings: Settings) -> Path:
    """The one collector config, ``collector/otelcol-config.yaml``."""
    return settings.repo_root / "collector" / "otelcol-config.yaml"


def config_paths(settings: Settings) -> list[Path]:
    """The collector's ``--config`` files: the base, and the Kafka auth block when the settings use SASL_SSL.

    >>> [p.name for p in config_paths(Settings(kafka_security_protocol="SASL_SSL"))]
    ['otelcol-config.yaml', 'otelcol-kafka-auth.yaml']
    """
    paths = [config_path(settings)]
    if settings.kafka_security_protocol == "SASL_SSL":
        paths.append(settings.repo_root / KAFKA_AUTH_CONFIG)
    return paths


def build_dir(settings: Settings) -> Path:
    """Where the build of the current manifest lives: ``<cache_dir>/collector/<sha256[:12]>``."""
    digest = hashlib.sha256(manifest_path(settings).read_bytes()).hexdigest()[:12]
    return settings.cache_dir / "collector" / digest


def ensure_collector(settings: Settings, progress: Progress = print) -> Path:
    """The path of the collector binary for the current manifest, built if missing.

    Installs ocb (the version of the manifest's core ``service`` module) into
    ``<cache_dir>/go-bin`` and runs it. Go's own module and build caches
    (``~/go/pkg/mod``, ``~/.cache/go-build``) stay at their defaults, so a
    rebuild on the same machine is quicker. Concurrent callers wait for one
    build. Raises ``GoBuildError`` with the tail of the output when a
    step fails; the full log stays in ``<build dir>/build.log``.
    """
    manifest = yaml.safe_load(manifest_path(settings).read_text())
    out_dir = build_dir(settings)
    binary = out_dir / manifest["dist"]["name"]
    if binary.is_file():
        return binary
    with file_lock(settings.cache_dir / "collector" / ".build.lock"):
        if binary.is_file():
            return binary
        go = go_binary("the collector")
        builder = _ensure_builder(settings, go, _core_version(manifest), progress)
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest["dist"] = {**manifest["dist"], "output_path": str(out_dir), "go": str(go)}
        resolved = out_dir / "builder-config.yaml"
        resolved.write_text(yaml.safe_dump(manifest, sort_keys=False))
        progress(f"building {binary.name} into {out_dir} (the first build takes minutes)")
        started = time.monotonic()
        run_logged(
            [str(builder), f"--config={resolved}"],
            out_dir / "build.log",
            go_env(go),
            progress,
            cwd=out_dir,
        )
        if not binary.is_file():
            raise GoBuildError(f"ocb finished but {binary} is missing; see {out_dir / 'build.log'}")
        progress(f"built {binary} in {time.monotonic() - started:.0f}s")
    return binary


def collector_env(settings: Settings) -> dict[str, str]:
    """The ``AIOPS_*`` variables the collector's configs read, filled in from ``settings``.

    >>> env = collector_env(Settings(collector_otlp_grpc_port=14317, bind_host="127.0.0.1"))
    >>> env["AIOPS_COLLECTOR_OTLP_GRPC_PORT"], env["AIOPS_BIND_HOST"]
    ('14317', '127.0.0.1')
    """
    env = {env_var(name): str(getattr(settings, name)) for name in _CONFIG_FIELDS}
    if (
        settings.kafka_security_protocol == "SASL_SSL"
    ):  # what KAFKA_AUTH_CONFIG reads, the password revealed
        revealed = environment(settings)
        env |= {env_var(name): revealed[env_var(name)] for name in _AUTH_FIELDS}
    return env


def collector_component(settings: Settings, binary: Path) -> Component:
    """The collector as a local-stack process: ``<binary> --config collector/otelcol-config.yaml`` (``config_paths``).

    Healthy when the health_check extension answers 200. It starts and stays
    healthy without Kafka or Tempo: their exports fail, are retried, then dropped.
    """
    health_url = f"http://127.0.0.1:{settings.collector_health_port}/"
    return Component(
        name="collector",
        command=[
            str(binary),
            *(arg for path in config_paths(settings) for arg in ("--config", str(path))),
        ],
        ports={name: getattr(settings, name) for name in _PORT_FIELDS},
        healthy=lambda: http_ok(health_url),
        startup_timeout_s=30.0,
        env=collector_env(settings),
        cwd=settings.repo_root,
    )


def validate_config(binary: Path, config: Path, env: Mapping[str, str]) -> None:
    """Run ``<binary> validate --config <config>`` with ``env`` over the current environment.

    Raises ``CollectorConfigError`` with the collector's message, which names
    the component and the key, when the config is rejected.
    """
    result = subprocess.run(
        [str(binary), "validate", "--config", str(config)],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise CollectorConfigError(
            f"{config} is not valid for {binary.name}:\n{result.stderr}{result.stdout}"
        )


def _core_version(manifest: Mapping) -> str:
    """The collector release of a manifest: the version of its core ``service`` module.

    >>> _core_version({"telemetry": {"gomod": "go.opentelemetry.io/collector/service v0.165.0"}})
    'v0.165.0'
    """
    module, version = manifest["telemetry"]["gomod"].split()
    if module != _CORE_SERVICE_MODULE:
        raise GoBuildError(
            f"telemetry.gomod must be '{_CORE_SERVICE_MODULE} <version>', got {module}"
        )
    return version


def _ensure_builder(settings: Settings, go: Path, version: str, progress: Progress) -> Path:
    """``<cache_dir>/go-bin/builder-<version>``, installed with ``go install`` if missing."""
    gobin = settings.cache_dir / "go-bin"
    versioned = gobin / f"builder-{version}"
    if versioned.is_file():
        return versioned
    gobin.mkdir(parents=True, exist_ok=True)
    progress(f"installing ocb {_BUILDER_MODULE}@{version} into {gobin}")
    run_logged(
        [str(go), "install", f"{_BUILDER_MODULE}@{version}"],
        gobin / f"install-builder-{version}.log",
        go_env(go, {"GOBIN": str(gobin)}),
        progress,
    )
    (gobin / "builder").replace(versioned)
    return versioned


def main(argv: list[str] | None = None) -> int:
    """``python -m aiops.stack.collector build|validate``."""
    parser = argparse.ArgumentParser(
        prog="python -m aiops.stack.collector", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "action",
        choices=["build", "validate"],
        help="build: print the binary's path; validate: check the config",
    )
    action = parser.parse_args(argv).action
    settings = Settings()
    binary = ensure_collector(settings, progress=lambda line: print(line, file=sys.stderr))
    if action == "build":
        print(binary)
        return 0
    try:
        validate_config(binary, config_path(settings), collector_env(settings))
    except CollectorConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{config_path(settings)}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
