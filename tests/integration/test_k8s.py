"""k8s/: `kustomize build` of each overlay, validated with real tools and no cluster.

- kustomize (built from the Go module proxy, cached in .cache/go-bin) renders each overlay.
- Every rendered resource is validated, strictly (no unknown fields), against the
  Kubernetes JSON schemas that the kubernetes-validate package ships, for the oldest and
  the newest Kubernetes version these manifests target.
- The rendered ConfigMaps are laid out as the pods mount them and checked by the programs'
  own checkers: promtool, amtool and `otelcol-aiops validate` (prod: with the SASL/TLS
  overlay config and the prod settings).
- The rest checks what a cluster would only show at run time: references that resolve,
  requests and limits, the restricted Pod Security profile in prod, replicas bounded by
  the partition count, no Secret committed.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest

from aiops.settings import Settings
from aiops.stack.collector import ensure_collector, validate_config
from support.dotenv import read_env_file
from support.kustomize import KustomizeError, ensure_kustomize, kustomize_build
from support.promtool import check_config

pytestmark = pytest.mark.timeout(900)  # the first run installs kustomize (about a minute)

ROOT = Settings().repo_root
OVERLAYS = ("dev", "prod")
K8S_VERSIONS = ("1.30", "1.37")
"""The oldest Kubernetes the manifests target and the newest kubernetes-validate knows."""
EXTERNAL_SECRETS = {
    "dev": {"grafana-admin", "demo-fault-token"},
    "prod": {"grafana-admin", "aiops-kafka", "demo-fault-token"},
}
"""Secrets created out of band (k8s/README.md); everything else a pod names must be rendered."""
WORKLOADS = ("Deployment", "StatefulSet")
QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?")


@pytest.fixture(scope="module")
def kustomize() -> Path:
    return ensure_kustomize(Settings(), progress=lambda line: print(line, file=sys.stderr))


@pytest.fixture(scope="module")
def rendered(kustomize: Path) -> dict[str, list[dict]]:
    return {
        overlay: kustomize_build(kustomize, ROOT / "k8s" / "overlays" / overlay)
        for overlay in OVERLAYS
    }


# --- kustomize and the Kubernetes schemas ----------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_every_component(rendered: dict, overlay: str):
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered[overlay]}
    workloads = {name for kind, name in names if kind in WORKLOADS}
    expected = {
        "otel-collector",
        "prometheus",
        "alertmanager",
        "tempo",
        "grafana",
        "stream-processors",
        "forwarder",
        "demo-service",
    }
    assert workloads == expected | ({"kafka", "loadgen"} if overlay == "dev" else set())
    assert ("HorizontalPodAutoscaler", "demo-service") in names
    namespace = {"dev": "aiops-dev", "prod": "aiops"}[overlay]
    assert ("Namespace", namespace) in names
    for doc in rendered[overlay]:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_matches_the_kubernetes_schema(rendered: dict, overlay: str, version: str):
    errors = [error for doc in rendered[overlay] if (error := _schema_error(doc, version))]
    assert not errors, "\n".join(errors)


def test_the_schema_check_rejects_an_unknown_field_and_a_wrong_type(rendered: dict):
    deployment = copy.deepcopy(_get(rendered["dev"], "Deployment", "stream-processors"))
    deployment["spec"]["replica"] = 3
    assert "replica" in (_schema_error(deployment, K8S_VERSIONS[-1]) or "")
    deployment = copy.deepcopy(_get(rendered["dev"], "Deployment", "stream-processors"))
    deployment["spec"]["replicas"] = "three"
    assert "three" in (_schema_error(deployment, K8S_VERSIONS[-1]) or "")


def test_kustomize_rejects_a_patch_of_a_missing_resource(kustomize: Path, tmp_path: Path):
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    patch = tmp_path / "k8s" / "overlays" / "prod" / "kafka-credentials.yaml"
    patch.write_text(patch.read_text().replace("name: forwarder\n", "name: forwarderr\n", 1))
    with pytest.raises(KustomizeError, match="forwarderr"):
        kustomize_build(kustomize, tmp_path / "k8s" / "overlays" / "prod")


# --- what a cluster would only show at run time ----------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered: dict, overlay: str):
    for workload, container in _containers(rendered[overlay]):
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                f"{workload}/{container['name']} lacks {kind}"
            )
            for name, quantity in resources[kind].items():
                # The JSON schemas accept any string here; the API server would not.
                assert QUANTITY.fullmatch(str(quantity)), (
                    f"{workload}/{container['name']} {kind}.{name}={quantity}"
                )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(rendered: dict, overlay: str):
    docs = rendered[overlay]
    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    assert not any(d["kind"] == "Secret" for d in docs), "Secrets are never committed"
    secrets = set()
    for workload, spec in _pod_specs(docs):
        for name in _config_map_refs(spec):
            assert name in config_maps, f"{workload} mounts ConfigMap {name}, which is not rendered"
        secrets |= set(_secret_refs(spec))
        for container in spec["containers"] + spec.get("initContainers", []):
            ports = {p["name"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                action = next(
                    (
                        container.get(probe, {}).get(a)
                        for a in ("httpGet", "tcpSocket", "grpc")
                        if a in container.get(probe, {})
                    ),
                    None,
                )
                if action is not None:
                    assert action["port"] in ports, (
                        f"{workload}/{container['name']} probes unknown port {action['port']}"
                    )
    assert secrets == EXTERNAL_SECRETS[overlay]
    templates = [(w, s, labels) for w, s, labels in _pod_templates(docs)]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        pods = [(w, s) for w, s, labels in templates if selector.items() <= labels.items()]
        assert pods, f"Service {service['metadata']['name']} selects no pod"
        names = {p["name"] for _, s in pods for c in s["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (
                f"Service {service['metadata']['name']} targets {port['targetPort']}"
            )


def test_prod_pods_meet_the_restricted_pod_security_profile(rendered: dict):
    namespace = _get(rendered["prod"], "Namespace", "aiops")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload, spec in _pod_specs(rendered["prod"]):
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True and isinstance(pod.get("runAsUser"), int), workload
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", workload
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, (
                f"{workload}/{container['name']}"
            )
            assert security.get("capabilities", {}).get("drop") == ["ALL"], (
                f"{workload}/{container['name']}"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_stream_processors_stay_within_the_partition_count(rendered: dict, overlay: str):
    settings = _settings_config_map(rendered[overlay])
    partitions = int(settings.get("AIOPS_KAFKA_PARTITIONS", Settings().kafka_partitions))
    deployment = _get(rendered[overlay], "Deployment", "stream-processors")
    assert 1 <= deployment["spec"]["replicas"] <= partitions
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    assert not any(
        d["kind"] == "HorizontalPodAutoscaler"
        and d["spec"]["scaleTargetRef"]["name"] == "stream-processors"
        for d in rendered[overlay]
    )
    spec = deployment["spec"]["template"]["spec"]
    worker = next(c for c in spec["containers"] if c["name"] == "worker")
    web = next(p for p in worker["ports"] if p["name"] == "web")
    assert web["containerPort"] == Settings().faust_web_port
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/health", "port": "web"}
    assert [c["command"] for c in spec["initContainers"]] == [["aiops", "topics", "create"]]
    if overlay == "prod":
        assert partitions % deployment["spec"]["replicas"] == 0, (
            "prod spreads the partitions evenly over its workers, with room to scale out"
        )


def test_kafka_security_is_off_in_dev_and_sasl_ssl_in_prod(rendered: dict):
    dev = _settings_config_map(rendered["dev"])
    assert dev["AIOPS_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert dev["AIOPS_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    prod = _settings_config_map(rendered["prod"])
    assert prod["AIOPS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "AIOPS_KAFKA_SASL_PASSWORD" not in prod, "the password belongs in a Secret"
    ca_folder = str(PurePosixPath(prod["AIOPS_KAFKA_SSL_CA_LOCATION"]).parent)
    talkers = [
        (w, c)
        for w, c in _containers(rendered["prod"])
        if any(
            ref.get("configMapRef", {}).get("name", "").startswith("aiops-settings")
            for ref in c.get("envFrom", [])
        )
    ]
    assert {w for w, _ in talkers} >= {
        "Deployment/stream-processors",
        "Deployment/forwarder",
        "Deployment/otel-collector",
    }
    for workload, container in talkers:
        if workload == "Deployment/grafana":
            continue
        password = {e["name"]: e for e in container.get("env", [])}.get("AIOPS_KAFKA_SASL_PASSWORD")
        assert password and password["valueFrom"]["secretKeyRef"]["name"] == "aiops-kafka", (
            f"{workload}/{container['name']}"
        )
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert ca_folder in mounts, f"{workload}/{container['name']} does not mount the Kafka CA"


def test_grafana_admin_password_comes_from_a_secret(rendered: dict):
    for overlay in OVERLAYS:
        grafana = _get(rendered[overlay], "Deployment", "grafana")
        env = {e["name"]: e for e in grafana["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "grafana-admin",
            "key": "password",
        }


def test_prometheus_keeps_its_data_on_a_volume_with_a_retention(rendered: dict):
    for overlay, retention in (("dev", "3d"), ("prod", "15d")):
        prometheus = _get(rendered[overlay], "StatefulSet", "prometheus")
        args = prometheus["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--storage.tsdb.retention.time={retention}" in args
        assert [t["metadata"]["name"] for t in prometheus["spec"]["volumeClaimTemplates"]] == [
            "data"
        ]
    assert any(
        arg.startswith("--storage.tsdb.retention.size=")
        for arg in _get(rendered["prod"], "StatefulSet", "prometheus")["spec"]["template"]["spec"][
            "containers"
        ][0]["args"]
    )


def test_images_are_the_pinned_images_of_env(rendered: dict):
    dotenv = read_env_file(ROOT / ".env")
    pinned = {value for key, value in dotenv.items() if key.endswith("_IMAGE")}
    for overlay in OVERLAYS:
        for workload, container in _containers(rendered[overlay]):
            assert container["image"] in pinned, (
                f"{overlay} {workload} runs {container['image']}, not pinned in .env"
            )


# --- the config files as the pods see them ----------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_sees_a_valid_config(rendered: dict, overlay: str, tmp_path: Path):
    docs = rendered[overlay]
    prometheus = _get(docs, "StatefulSet", "prometheus")
    container = prometheus["spec"]["template"]["spec"]["containers"][0]
    config = PurePosixPath(
        next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--config.file="))
    )
    home = _lay_out(docs, prometheus, container, config.parent, tmp_path)
    assert sorted(p.name for p in (home / "targets").iterdir()) == sorted(
        p.name for p in (ROOT / "storage" / "prometheus" / "targets" / "compose").glob("*.json")
    )
    check_config(home / config.name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alertmanager_sees_a_valid_config(rendered: dict, overlay: str, tmp_path: Path):
    docs = rendered[overlay]
    alertmanager = _get(docs, "Deployment", "alertmanager")
    container = alertmanager["spec"]["template"]["spec"]["containers"][0]
    config = PurePosixPath(
        next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--config.file="))
    )
    home = _lay_out(docs, alertmanager, container, config.parent, tmp_path)
    result = subprocess.run(
        [shutil.which("amtool") or "amtool", "check-config", str(home / config.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_collector_validates_its_configs_with_the_pod_environment(
    rendered: dict, overlay: str, tmp_path: Path
):
    docs = rendered[overlay]
    collector = _get(docs, "Deployment", "otel-collector")
    container = collector["spec"]["template"]["spec"]["containers"][0]
    configs = [
        PurePosixPath(a.split("=", 1)[1]) for a in container["args"] if a.startswith("--config=")
    ]
    assert len(configs) == (2 if overlay == "prod" else 1)
    env = _container_env(docs, container)
    ca = env.get("AIOPS_KAFKA_SSL_CA_LOCATION")
    if ca:  # the Secret's CA, stood in for by a file that exists
        (tmp_path / "ca.crt").write_text("")
        env["AIOPS_KAFKA_SSL_CA_LOCATION"] = str(tmp_path / "ca.crt")
    files = []
    for config in configs:
        home = _lay_out(docs, collector, container, config.parent, tmp_path / config.parent.name)
        files.append(home / config.name)
    binary = ensure_collector(Settings(), progress=lambda line: print(line, file=sys.stderr))
    result = subprocess.run(
        [str(binary), "validate", *(f"--config={f}" for f in files)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    if overlay == "dev":
        validate_config(binary, files[0], env)


# --- helpers ------------------------------------------------------------------------------------


def _schema_error(doc: dict, version: str) -> str | None:
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return f"{name} (Kubernetes {version}) {path}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return f"{name}: {error.message}"
    return None


def _get(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _pod_templates(docs: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            template = doc["spec"]["template"]
            yield (
                f"{doc['kind']}/{doc['metadata']['name']}",
                template["spec"],
                template["metadata"]["labels"],
            )


def _pod_specs(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    for workload, spec, _ in _pod_templates(docs):
        yield workload, spec


def _containers(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    for workload, spec in _pod_specs(docs):
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield workload, container


def _config_map_refs(spec: dict) -> Iterator[str]:
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            yield volume["configMap"]["name"]
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                yield source["configMap"]["name"]
    for container in spec["containers"] + spec.get("initContainers", []):
        for ref in container.get("envFrom", []):
            if "configMapRef" in ref:
                yield ref["configMapRef"]["name"]
        for env in container.get("env", []):
            if "configMapKeyRef" in env.get("valueFrom", {}):
                yield env["valueFrom"]["configMapKeyRef"]["name"]


def _secret_refs(spec: dict) -> Iterator[str]:
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"]
    for container in spec["containers"] + spec.get("initContainers", []):
        for ref in container.get("envFrom", []):
            if "secretRef" in ref:
                yield ref["secretRef"]["name"]
        for env in container.get("env", []):
            if "secretKeyRef" in env.get("valueFrom", {}):
                yield env["valueFrom"]["secretKeyRef"]["name"]


def _settings_config_map(docs: list[dict]) -> dict[str, str]:
    (config_map,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("aiops-settings-")
    ]
    return config_map["data"]


def _container_env(docs: list[dict], container: dict) -> dict[str, str]:
    """The container's environment: its ConfigMaps, then its own values; Secrets stood in for."""
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        env |= config_maps[ref["configMapRef"]["name"]]
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "secretKeyRef" in variable.get("valueFrom", {}):
            env[variable["name"]] = "stand-in-for-a-secret"
    return env


def _lay_out(
    docs: list[dict], workload: dict, container: dict, root: PurePosixPath, tmp_path: Path
) -> Path:
    """The ConfigMaps ``container`` mounts under ``root``, written where the container sees them."""
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    tmp_path.mkdir(parents=True, exist_ok=True)
    found = False
    for mount in container.get("volumeMounts", []):
        target = PurePosixPath(mount["mountPath"])
        if not target.is_relative_to(root):
            continue
        volume = volumes[mount["name"]]
        sources = (
            [volume] if "configMap" in volume else volume.get("projected", {}).get("sources", [])
        )
        for source in sources:
            if "configMap" not in source:
                continue
            found = True
            data = config_maps[source["configMap"]["name"]]
            items = source["configMap"].get("items") or [{"key": key, "path": key} for key in data]
            for item in items:
                path = tmp_path / target.relative_to(root) / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data[item["key"]])
    assert found, f"{workload['metadata']['name']} mounts no ConfigMap under {root}"
    return tmp_path
