"""One source of truth: the local stack, docker-compose.yml and k8s/ use the same ports, topics,
settings and config files.

The settings module (aiops.settings) owns names, ports and topics; the config files in
collector/, storage/ and grafana/ are written once. Compose mounts them, Kubernetes gets
copies rendered by `aiops generate`, and these tests fail when any of them drifts.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from aiops.deploy.k8s_config import (
    GENERATED_DIRS,
    k8s_config_drift,
    kafka_broker_env,
    write_k8s_config,
)
from aiops.settings import Settings, env_var
from aiops.stack.collector import collector_env, config_path
from aiops.stack.kafka import HEAP_OPTS
from aiops.stack.prometheus import scrape_targets
from support.compose import ensure_compose_loader, load_compose
from support.dotenv import read_env_file
from support.kustomize import ensure_kustomize, kustomize_build

pytestmark = pytest.mark.timeout(900)

SETTINGS = Settings()
ROOT = SETTINGS.repo_root
DOTENV = read_env_file(ROOT / ".env")
NOT_SETTINGS = {
    "AIOPS_COLLECTOR_MEMORY_LIMIT_MIB",
    "AIOPS_DEMO_HOST",
    "AIOPS_DEMO_INSTANCE_ID",
    "AIOPS_DEMO_FAULT_TOKEN",
}
"""AIOPS_* variables that are no settings field: the collector config's container-only knob and
the demo service's own options (it imports nothing from aiops; the load generator sends its token)."""
CONTAINER_PORTS = {
    # service in compose and k8s -> {settings field: container port name in k8s}
    "otel-collector": {
        "collector_otlp_grpc_port": "otlp-grpc",
        "collector_otlp_http_port": "otlp-http",
        "collector_prometheus_port": "prom-exporter",
        "collector_telemetry_port": "telemetry",
        "collector_health_port": "health",
    },
    "stream-processors": {"faust_web_port": "web"},
    "prometheus": {"prometheus_port": "web"},
    "demo-service": {"demo_port": "http"},
    "alertmanager": {"alertmanager_port": "web"},
}
SOURCES = {
    # ConfigMap -> the files it is rendered from (compose mounts the same files)
    "otel-collector-config": ["collector/otelcol-config.yaml"],
    "prometheus-config": ["storage/prometheus/prometheus.yml"],
    "prometheus-targets": sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "storage/prometheus/targets/compose").glob("*.json")
    ),
    "alertmanager-config": ["storage/alertmanager/alertmanager.yml"],
    "tempo-config": ["storage/tempo/tempo.yaml"],
    "grafana-datasources": sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "grafana/provisioning/datasources").glob("*.y*ml")
    ),
}


@pytest.fixture(scope="module")
def compose() -> dict:
    loader = ensure_compose_loader(SETTINGS, progress=lambda line: print(line, file=sys.stderr))
    return load_compose(
        loader, [ROOT / "docker-compose.yml"], env={"GRAFANA_ADMIN_PASSWORD": "test"}
    )["services"]


@pytest.fixture(scope="module")
def k8s() -> dict[str, list[dict]]:
    kustomize = ensure_kustomize(SETTINGS, progress=lambda line: print(line, file=sys.stderr))
    return {
        overlay: kustomize_build(kustomize, ROOT / "k8s" / "overlays" / overlay)
        for overlay in ("dev", "prod")
    }


# --- rendered copies ------------------------------------------------------------------------------


def test_k8s_config_is_rendered_from_the_current_sources():
    drift = k8s_config_drift(SETTINGS)
    assert not drift, (
        "k8s/ config drifted from its sources; run `aiops generate` and commit:\n"
        + "\n".join(drift)
    )


def test_the_drift_check_notices_an_edited_source_and_a_stale_copy(tmp_path: Path):
    for folder in ("collector", "storage", "grafana", *GENERATED_DIRS):
        shutil.copytree(
            ROOT / folder,
            tmp_path / folder,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "pom.xml", "*.py"),
        )
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    settings = Settings(repo_root=tmp_path)
    write_k8s_config(settings)
    assert k8s_config_drift(settings) == []
    config = tmp_path / "storage" / "tempo" / "tempo.yaml"
    config.write_text(
        config.read_text().replace("http_listen_port: 3200", "http_listen_port: 3201")
    )
    (tmp_path / "k8s" / "base" / "config" / "left-over.yaml").write_text("{}\n")
    assert k8s_config_drift(settings) == [
        "k8s/base/config/tempo-config/tempo.yaml: differs from its source",
        "k8s/base/config/left-over.yaml: stale (no source renders it)",
    ]
    assert write_k8s_config(settings) == [
        tmp_path / "k8s/base/config/tempo-config/tempo.yaml",
        tmp_path / "k8s/base/config/left-over.yaml",
    ]
    assert k8s_config_drift(settings) == []


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_config_maps_hold_the_source_files_byte_for_byte(k8s: dict, overlay: str):
    config_maps = {
        _unhashed(d["metadata"]["name"]): d.get("data", {})
        for d in k8s[overlay]
        if d["kind"] == "ConfigMap"
    }
    for name, sources in SOURCES.items():
        assert sources, f"no source files for {name}"
        assert config_maps[name] == {Path(s).name: (ROOT / s).read_text() for s in sources}, name


# --- ports ------------------------------------------------------------------------------------------


def test_env_host_ports_are_the_settings_defaults():
    ports = {
        key: value
        for key, value in DOTENV.items()
        if key.startswith("AIOPS_") and key.endswith("_PORT")
    }
    assert ports
    for key, value in ports.items():
        field = key.removeprefix("AIOPS_").lower()
        assert field in Settings.model_fields, f".env names {key}, which is no setting"
        assert int(value) == Settings.model_fields[field].default, (
            f".env {key}={value} differs from the setting"
        )


def test_compose_publishes_each_settings_port_at_its_env_host_port(compose: dict):
    for service, fields in CONTAINER_PORTS.items():
        published = {
            port["target"]: port["published"] for port in compose[service].get("ports", [])
        }
        for field in fields:
            default = Settings.model_fields[field].default
            if default in published:
                assert int(published[default]) == int(DOTENV[env_var(field)]), (service, field)
    kafka = {port["published"] for port in compose["kafka"]["ports"]}
    assert kafka == {DOTENV["AIOPS_KAFKA_PORT"]}
    advertised = compose["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"127.0.0.1:{SETTINGS.kafka_port}" in advertised, (
        "the host listener must advertise the host port"
    )


def test_containers_listen_on_the_settings_ports(compose: dict, k8s: dict):
    for service, fields in CONTAINER_PORTS.items():
        workload = next(
            d
            for d in k8s["dev"]
            if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == service
        )
        container = workload["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        for field, port_name in fields.items():
            default = Settings.model_fields[field].default
            assert named[port_name] == default, (
                f"k8s {service} {port_name} is not {field}={default}"
            )
    targets = {p["target"] for s in compose.values() for p in s.get("ports", [])}
    for field in (
        "collector_otlp_grpc_port",
        "collector_otlp_http_port",
        "faust_web_port",
        "prometheus_port",
        "demo_port",
        "alertmanager_port",
    ):
        assert Settings.model_fields[field].default in targets, f"compose does not publish {field}"


def test_prometheus_targets_name_the_services_and_ports_of_compose_and_k8s(
    compose: dict, k8s: dict
):
    local = {
        job: int(groups[0]["targets"][0].rsplit(":", 1)[1])
        for job, groups in scrape_targets(SETTINGS).items()
    }
    services = {
        d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
        for d in k8s["dev"]
        if d["kind"] == "Service"
    }
    folder = ROOT / "storage" / "prometheus" / "targets" / "compose"
    for job, port in local.items():
        (group,) = yaml.safe_load((folder / f"{job}.json").read_text())
        for target in group["targets"]:
            host, _, target_port = target.rpartition(":")
            assert int(target_port) == port, (
                f"targets/compose/{job}.json: {target} but the local stack uses {port}"
            )
            assert host in compose and host in services and port in services[host], (
                f"{job}: {target}"
            )


def test_kafka_is_reached_on_the_settings_port(compose: dict, k8s: dict):
    settings = compose["stream-processors"]["environment"]
    assert settings["AIOPS_KAFKA_BOOTSTRAP_SERVERS"] == f"kafka:{SETTINGS.kafka_port}"
    kafka = next(
        d for d in k8s["dev"] if d["kind"] == "Service" and d["metadata"]["name"] == "kafka"
    )
    assert [p["port"] for p in kafka["spec"]["ports"]] == [SETTINGS.kafka_port]
    assert (
        f"PLAINTEXT://:{SETTINGS.kafka_port}" in compose["kafka"]["environment"]["KAFKA_LISTENERS"]
    )


# --- settings, topics and broker config --------------------------------------------------------------


def test_compose_and_k8s_give_the_containers_the_same_settings(compose: dict, k8s: dict):
    block = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-aiops-settings"]
    (config_map,) = [
        d
        for d in k8s["dev"]
        if d["kind"] == "ConfigMap" and _unhashed(d["metadata"]["name"]) == "aiops-settings"
    ]
    assert config_map["data"] == {key: str(value) for key, value in block.items()}
    for name in ("kafka-topics", "otel-collector", "stream-processors", "forwarder"):
        environment = compose[name]["environment"]
        assert {key: environment[key] for key in block} == config_map["data"], name


def test_every_aiops_variable_is_a_setting(compose: dict, k8s: dict):
    known = {env_var(field) for field in Settings.model_fields} | NOT_SETTINGS
    used = {
        key
        for service in compose.values()
        for key in service.get("environment", {})
        if key.startswith("AIOPS_")
    }
    for docs in k8s.values():
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                used |= {key for key in doc.get("data", {}) if key.startswith("AIOPS_")}
                for text in doc.get("data", {}).values():
                    used |= set(re.findall(r"\$\{env:(AIOPS_\w+)", text))
            if doc["kind"] in ("Deployment", "StatefulSet"):
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    used |= {
                        e["name"]
                        for e in container.get("env", [])
                        if e["name"].startswith("AIOPS_")
                    }
    used |= set(re.findall(r"\$\{env:(AIOPS_\w+)", config_path(SETTINGS).read_text()))
    assert used - known == set(), "not settings fields (typo?)"


def test_collector_config_defaults_are_the_local_stacks_settings():
    defaults = dict(
        re.findall(r"\$\{env:(AIOPS_\w+):-([^}]*)\}", config_path(SETTINGS).read_text())
    )
    local = collector_env(SETTINGS)
    for key, default in defaults.items():
        if key in local:
            assert default == local[key], (
                f"otelcol-config.yaml defaults {key} to {default}, the setting is {local[key]}"
            )
    assert defaults["AIOPS_TOPIC_OTLP_METRICS"] == SETTINGS.topic_otlp_metrics
    assert defaults["AIOPS_TOPIC_OTLP_SPANS"] == SETTINGS.topic_otlp_spans


def test_topics_are_never_renamed_by_a_deployment(compose: dict, k8s: dict):
    overrides = {
        key
        for service in compose.values()
        for key in service.get("environment", {})
        if key.startswith("AIOPS_TOPIC_")
    }
    for docs in k8s.values():
        overrides |= {
            key
            for d in docs
            if d["kind"] == "ConfigMap"
            for key in d.get("data", {})
            if key.startswith("AIOPS_TOPIC_")
        }
    assert overrides == set(), (
        "topic names live in aiops.settings; a deployment that renames one splits the pipeline"
    )


def test_kafka_broker_settings_are_those_of_server_properties(compose: dict, k8s: dict):
    expected = kafka_broker_env(
        (ROOT / "storage" / "kafka" / "server.properties").read_text(), " ".join(HEAP_OPTS)
    )
    environment = compose["kafka"]["environment"]
    assert {key: environment.get(key) for key in expected} == expected
    (broker,) = [
        d
        for d in k8s["dev"]
        if d["kind"] == "ConfigMap" and _unhashed(d["metadata"]["name"]) == "kafka-broker"
    ]
    assert broker["data"] == expected


# --- the same config files ------------------------------------------------------------------------


def test_compose_mounts_the_local_stacks_config_files(compose: dict):
    binds = {
        str(Path(m["source"]).relative_to(ROOT))
        for s in compose.values()
        for m in s.get("volumes", [])
        if m["type"] == "bind"
    }
    assert {
        "collector/otelcol-config.yaml",
        "storage/prometheus/prometheus.yml",
        "storage/prometheus/rules",
        "storage/prometheus/targets/compose",
        "storage/alertmanager/alertmanager.yml",
        "storage/tempo/tempo.yaml",
        "grafana",
    } == binds
    assert config_path(SETTINGS) == ROOT / "collector" / "otelcol-config.yaml"


def test_compose_and_k8s_run_the_same_images():
    dotenv_images = {value for key, value in DOTENV.items() if key.endswith("_IMAGE")}
    manifests = "".join(p.read_text() for p in (ROOT / "k8s").rglob("*.yaml"))
    k8s_images = set(re.findall(r"^\s*image:\s*(\S+)", manifests, re.MULTILINE))
    assert k8s_images <= dotenv_images, (
        f"k8s images not in .env: {sorted(k8s_images - dotenv_images)}"
    )


def _unhashed(name: str) -> str:
    """A generated ConfigMap's name without kustomize's hash suffix."""
    return name.rsplit("-", 1)[0]
