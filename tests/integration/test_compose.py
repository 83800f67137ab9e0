"""docker-compose.yml, .env and the Dockerfiles, checked with real tools and no Docker engine.

- The Compose Specification's JSON Schema (from the compose-go module) on the raw file.
- compose-go, the library `docker compose` is built on, resolves the project from the
  file and .env (interpolation, normalisation, consistency checks); the tests read the
  resolved project.
- What each container would see is laid out in a temporary folder from the bind mounts,
  and checked by the program's own checker: promtool (Prometheus), amtool (Alertmanager),
  `otelcol-aiops validate` (the collector, with the service's environment).
- Each Python image's build context is assembled from its Dockerfile's COPY lines and
  built into a wheel with hatchling, as `pip install .` in the image would.

The tools come from the Go module proxy on first use and are cached in .cache/.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml

from aiops.settings import Settings
from aiops.stack.collector import ensure_collector, validate_config
from support.compose import (
    ComposeError,
    compose_spec_schema,
    ensure_compose_loader,
    load_compose,
)
from support.dockerfile import dockerfile_args, parse_dockerfile
from support.dotenv import read_env_file
from support.promtool import check_config

pytestmark = pytest.mark.timeout(
    900
)  # the first run builds the compose loader (and maybe the collector)

ROOT = Settings().repo_root
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOTENV = read_env_file(ROOT / ".env")
PASSWORD = {"GRAFANA_ADMIN_PASSWORD": "only-for-this-test"}
SERVICES = {
    "kafka",
    "kafka-topics",
    "otel-collector",
    "prometheus",
    "alertmanager",
    "tempo",
    "grafana",
    "stream-processors",
    "forwarder",
    "demo-service",
    "loadgen",
}
DATA_DIRS = {
    "kafka": "/var/lib/kafka/data",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "tempo": "/var/tempo",
    "grafana": "/var/lib/grafana",
    "stream-processors": "/var/lib/aiops",
}
PYTHON_IMAGES = ("stream-processors", "demo-service", "producers")
FIRST_PARTY = {"aiops", "aiops_producers", "aiops_demo"}


@pytest.fixture(scope="module")
def loader() -> Path:
    return ensure_compose_loader(Settings(), progress=lambda line: print(line, file=sys.stderr))


@pytest.fixture(scope="module")
def project(loader: Path) -> dict:
    """The project as compose-go resolves it, with only the password set (the rest from .env)."""
    return load_compose(loader, [COMPOSE_FILE], env=PASSWORD)


@pytest.fixture(scope="module")
def services(project: dict) -> dict:
    return project["services"]


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# --- the Compose Specification and compose-go ------------------------------------------


def test_the_file_matches_the_compose_specification_schema(raw: dict):
    errors = _schema_errors(raw)
    assert not errors, "docker-compose.yml does not match the Compose Specification:\n" + "\n".join(
        errors
    )


def test_the_schema_check_rejects_a_misspelt_key(raw: dict):
    broken = json.loads(json.dumps(raw))
    broken["services"]["kafka"]["healthchek"] = broken["services"]["kafka"].pop("healthcheck")
    assert any("healthchek" in error for error in _schema_errors(broken))


def test_compose_go_resolves_every_service(project: dict):
    assert project["name"] == "aiops"
    assert set(project["services"]) == SERVICES


def test_compose_go_rejects_a_dependency_on_a_missing_service(
    loader: Path, raw: dict, tmp_path: Path
):
    broken = json.loads(json.dumps(raw))
    broken["services"]["otel-collector"]["depends_on"]["tempoo"] = {"condition": "service_healthy"}
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    shutil.copy(ROOT / ".env", tmp_path / ".env")
    with pytest.raises(ComposeError, match="tempoo"):
        load_compose(loader, [tmp_path / "docker-compose.yml"], env=PASSWORD)


def test_grafana_admin_password_must_come_from_the_environment(loader: Path, raw: dict):
    with pytest.raises(ComposeError, match="GRAFANA_ADMIN_PASSWORD"):
        load_compose(loader, [COMPOSE_FILE], env={})
    assert "GRAFANA_ADMIN_PASSWORD" not in DOTENV
    assert (
        "${GRAFANA_ADMIN_PASSWORD:?"
        in raw["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    )


def test_an_override_file_merges_over_the_base(loader: Path, tmp_path: Path):
    override = tmp_path / "override.yml"
    override.write_text(
        "services:\n  loadgen:\n    command: [run, --url, 'http://demo-service:8000', --rate, '50']\n"
    )
    merged = load_compose(loader, [COMPOSE_FILE, override], env=PASSWORD, workdir=ROOT)
    assert merged["services"]["loadgen"]["command"][-1] == "50"


def test_the_header_says_how_to_run_it_and_how_to_add_an_overlay():
    header = COMPOSE_FILE.read_text().split("\nname:", 1)[0]
    for needed in (
        "docker compose up",
        "GRAFANA_ADMIN_PASSWORD",
        "docker-compose.override.yml",
        "-f docker-compose.yml -f",
    ):
        assert needed in header, f"the header of docker-compose.yml should mention {needed!r}"


# --- safe defaults -----------------------------------------------------------------------


def test_every_service_has_a_memory_limit(services: dict):
    for name, service in services.items():
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get(
            "memory"
        ) or service.get("mem_limit")
        assert limit and int(limit) > 0, f"{name} has no memory limit"


def test_every_long_running_service_has_a_healthcheck(services: dict):
    one_shots = {name for name, service in services.items() if service.get("restart") == "no"}
    assert one_shots == {"kafka-topics"}
    for name, service in services.items():
        healthcheck = service.get("healthcheck", {})
        if name in one_shots:
            assert healthcheck == {"disable": True}, (
                f"{name} is a one-shot: say so with healthcheck.disable"
            )
            waiting = [
                other
                for other, s in services.items()
                if s.get("depends_on", {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert waiting, f"nothing waits for the one-shot {name} to complete"
        else:
            assert healthcheck.get("test") and not healthcheck.get("disable"), (
                f"{name} has no healthcheck"
            )
            assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")


def test_dependencies_wait_for_health_or_completion(services: dict):
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            condition = spec["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (
                name,
                dependency,
                condition,
            )
            if condition == "service_healthy":
                assert services[dependency]["healthcheck"].get("test"), (
                    f"{name} waits for {dependency}'s health"
                )


def test_ports_are_published_on_loopback_only(services: dict):
    published = [
        (name, port) for name, service in services.items() for port in service.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert port["host_ip"] == "127.0.0.1", (
            f"{name} publishes {port['published']} on {port['host_ip'] or 'all'}"
        )


def test_data_lives_in_named_volumes(services: dict, project: dict):
    for name, target in DATA_DIRS.items():
        mounts = {m["target"]: m for m in services[name].get("volumes", [])}
        assert target in mounts, f"{name} keeps {target} in its container layer"
        assert mounts[target]["type"] == "volume" and mounts[target]["source"] in project["volumes"]


def test_bind_mounts_are_read_only_and_exist(services: dict):
    binds = [
        (name, m)
        for name, s in services.items()
        for m in s.get("volumes", [])
        if m["type"] == "bind"
    ]
    assert binds
    for name, mount in binds:
        assert mount.get("read_only"), f"{name} mounts {mount['source']} writable"
        source = Path(mount["source"])
        assert source.exists(), f"{name} mounts {source}, which does not exist"
        assert source.resolve().is_relative_to(ROOT), (
            f"{name} mounts {source} from outside the repository"
        )


def test_our_containers_are_hardened(services: dict):
    for name, service in services.items():
        if service.get("build"):
            assert service.get("read_only") and service.get("cap_drop") == ["ALL"], name
            assert "no-new-privileges:true" in service.get("security_opt", []), name


# --- images --------------------------------------------------------------------------------


def test_every_image_comes_from_env_and_is_pinned(raw: dict, services: dict):
    image_values = {key: value for key, value in DOTENV.items() if key.endswith("_IMAGE")}
    for name, service in raw["services"].items():
        match = re.fullmatch(r"\$\{(\w+_IMAGE)(:\?[^}]*)?\}", service["image"])
        assert match and match.group(1) in image_values, (
            f"{name}: image must be ${{..._IMAGE}} from .env"
        )
    for key, image in image_values.items():
        _, _, tag = image.rpartition(":")
        assert "/" not in tag and re.search(r"\d", tag) and tag != "latest", (
            f"{key}={image} is not pinned"
        )
    assert {s["image"] for s in services.values()} <= set(image_values.values())


def test_built_images_carry_the_versions_of_their_sources():
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    for key in ("STREAM_PROCESSORS_IMAGE", "DEMO_SERVICE_IMAGE", "PRODUCERS_IMAGE"):
        assert DOTENV[key].endswith(f":{version}"), (
            f"{key} should carry pyproject's version {version}"
        )
    manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
    assert DOTENV["COLLECTOR_IMAGE"].endswith(":" + manifest["dist"]["version"])
    pom = (ROOT / "storage" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert DOTENV["KAFKA_IMAGE"] == f"apache/kafka:{kafka}", (
        "the broker image should run the local stack's Kafka"
    )


@pytest.mark.parametrize("room", [*PYTHON_IMAGES, "collector"])
def test_dockerfile_is_multi_stage_pinned_and_non_root(room: str, services: dict):
    text = (ROOT / room / "Dockerfile").read_text()
    stages = parse_dockerfile(text)
    assert len(stages) >= 2, f"{room}/Dockerfile should build in one stage and run in another"
    args = dockerfile_args(text)
    for key in ("PYTHON_IMAGE", "GO_IMAGE", "ALPINE_IMAGE"):
        if key in args:
            assert args[key] == DOTENV[key], f"{room}/Dockerfile ARG {key} differs from .env"
    for stage in stages:
        assert stage.base in DOTENV.values(), (
            f"{room}/Dockerfile FROM {stage.base}: not an image pinned in .env"
        )
    user = stages[-1].user or "root"
    assert user.split(":")[0] not in ("root", "0"), f"{room}/Dockerfile runs as {user}"
    built = [
        s for s in services.values() if s.get("build", {}).get("dockerfile") == f"{room}/Dockerfile"
    ]
    assert built, f"no service builds {room}/Dockerfile"
    for service in built:
        assert service["build"]["context"] == str(ROOT)
        assert service["build"].get("args", {}) == {
            k: v for k, v in args.items() if k.endswith("_IMAGE")
        }


def test_collector_image_builds_with_the_manifests_ocb():
    manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
    core = manifest["telemetry"]["gomod"].split()[1]
    assert dockerfile_args((ROOT / "collector" / "Dockerfile").read_text())["OCB_VERSION"] == core


@pytest.mark.parametrize("room", [*PYTHON_IMAGES, "collector"])
def test_every_copied_path_is_in_the_build_context(room: str):
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in parse_dockerfile((ROOT / room / "Dockerfile").read_text()):
        for copy in stage.copies:
            if copy.from_stage:
                continue
            for source in copy.sources:
                assert (ROOT / source).exists(), (
                    f"{room}/Dockerfile copies {source}, which does not exist"
                )
                hits = [
                    p
                    for p in ignored
                    if fnmatch.fnmatch(source, p) or fnmatch.fnmatch(source, p + "/*")
                ]
                assert not hits, (
                    f"{room}/Dockerfile copies {source}, which .dockerignore drops ({hits})"
                )


@pytest.mark.parametrize("room", PYTHON_IMAGES)
def test_python_image_holds_every_package_it_imports(room: str):
    stages = parse_dockerfile((ROOT / room / "Dockerfile").read_text())
    copied = _copied_packages(stages[0])
    assert copied, f"{room}/Dockerfile copies no package"
    command = (stages[-1].entrypoint or []) + (stages[-1].cmd or [])
    entry = command[2] if command[:2] == ["python", "-m"] else command[0]
    assert entry in copied, f"{room} image runs {entry} but copies only {sorted(copied)}"
    for folder in copied.values():
        for module in folder.rglob("*.py"):
            missing = _first_party_imports(module) - set(copied)
            assert not missing, (
                f"{module.relative_to(ROOT)} imports {sorted(missing)}, not in the {room} image"
            )


@pytest.mark.parametrize("room", PYTHON_IMAGES)
def test_python_image_context_builds_a_wheel(room: str, tmp_path: Path):
    """What `pip install .` gets in the image: only the COPY'd files, built by hatchling."""
    stages = parse_dockerfile((ROOT / room / "Dockerfile").read_text())
    context = tmp_path / "src"
    for copy in stages[0].copies:
        for source in copy.sources:
            target = context / (
                source
                if copy.destination.endswith("/") or len(copy.sources) > 1
                else copy.destination
            )
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
    # With hatchling installed (a dev dependency) pip builds offline and in about a second.
    isolation = ["--no-build-isolation"] if _has_hatchling() else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            *isolation,
            "-w",
            str(tmp_path / "dist"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _copied_packages(stages[0]):
        assert f"{package}/__init__.py" in names, f"the {room} wheel lacks {package}"
    if room == "stream-processors":
        assert (
            "aiops/slo/examples/demo.yaml" in names
            or not (ROOT / "stream-processors/aiops/slo/examples/demo.yaml").exists()
        )


# --- the config files as the containers see them ---------------------------------------------


def test_prometheus_sees_a_valid_config(services: dict, tmp_path: Path):
    service = services["prometheus"]
    config = _flag(service["command"], "--config.file")
    home = _lay_out_mounts(service, PurePosixPath(config).parent, tmp_path)
    check_config(home / PurePosixPath(config).name)  # promtool; fails on warnings too


def test_alertmanager_sees_a_valid_config(services: dict, tmp_path: Path):
    service = services["alertmanager"]
    config = PurePosixPath(_flag(service["command"], "--config.file"))
    home = _lay_out_mounts(service, config.parent, tmp_path)
    amtool = shutil.which("amtool")
    assert amtool, "amtool comes with Debian's prometheus-alertmanager"
    result = subprocess.run(
        [amtool, "check-config", str(home / config.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_collector_validates_its_config_with_the_compose_environment(
    services: dict, tmp_path: Path
):
    service = services["otel-collector"]
    config = PurePosixPath(_flag(service["command"], "--config"))
    home = _lay_out_mounts(service, config.parent, tmp_path)
    binary = ensure_collector(Settings(), progress=lambda line: print(line, file=sys.stderr))
    validate_config(binary, home / config.name, service["environment"])


def test_grafana_provisioning_parses_and_points_at_compose_services(services: dict, tmp_path: Path):
    service = services["grafana"]
    provisioning = PurePosixPath(service["environment"]["GF_PATHS_PROVISIONING"])
    root = _lay_out_mounts(service, PurePosixPath("/etc/aiops/grafana"), tmp_path)
    home = root / provisioning.relative_to("/etc/aiops/grafana")
    datasources = [
        d
        for f in sorted((home / "datasources").glob("*.y*ml"))
        for d in yaml.safe_load(f.read_text())["datasources"]
    ]
    urls = {d["type"]: d["url"] for d in datasources}
    assert urls == {"prometheus": "http://prometheus:9090", "tempo": "http://tempo:3200"}
    assert all(d.get("uid") for d in datasources)
    assert {p for d in datasources for p in _ports(d["url"])} <= _container_ports(
        services, "prometheus", "tempo"
    )
    providers = [
        p
        for f in sorted((home / "dashboards").glob("*.y*ml"))
        for p in yaml.safe_load(f.read_text())["providers"]
    ]
    for provider in providers:
        path = PurePosixPath(provider["options"]["path"])
        assert path.is_relative_to("/etc/aiops/grafana"), f"dashboards at {path} are not mounted"


def test_tempo_config_parses_and_listens_where_the_collector_sends(services: dict):
    service = services["tempo"]
    config_path = PurePosixPath(service["command"][0].split("=", 1)[1])
    mounts = {m["target"]: m for m in service["volumes"]}
    config = yaml.safe_load(Path(mounts[str(config_path)]["source"]).read_text())
    endpoint = config["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    sent_to = services["otel-collector"]["environment"]["AIOPS_TEMPO_OTLP_ENDPOINT"]
    assert sent_to == f"tempo:{endpoint.rsplit(':', 1)[1]}"
    data = DATA_DIRS["tempo"]
    for path in (
        config["storage"]["trace"]["wal"]["path"],
        config["storage"]["trace"]["local"]["path"],
    ):
        assert PurePosixPath(path).is_relative_to(data), (
            f"tempo writes {path} outside its volume {data}"
        )
    assert {"ingester", "compactor"}.isdisjoint(config), (
        "Tempo 3 has no ingester or compactor blocks"
    )


# --- helpers -------------------------------------------------------------------------------------


def _schema_errors(document: dict) -> list[str]:
    schema = compose_spec_schema(Settings(), progress=lambda line: print(line, file=sys.stderr))
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(
            validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
        )
    ]


def _flag(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(name + "="))


def _lay_out_mounts(service: dict, root: PurePosixPath, tmp_path: Path) -> Path:
    """The bind mounts of ``service`` under ``root``, copied to where the container sees them."""
    home = tmp_path / "container"
    home.mkdir(exist_ok=True)
    found = False
    for mount in service.get("volumes", []):
        target = PurePosixPath(mount["target"])
        if mount["type"] != "bind" or not target.is_relative_to(root):
            continue
        found = True
        destination = home / target.relative_to(root)
        source = Path(mount["source"])
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, destination)
    assert found, f"nothing is mounted under {root}"
    return home


def _ports(url: str) -> set[int]:
    return {int(port) for port in re.findall(r":(\d+)", url)}


def _container_ports(services: dict, *names: str) -> set[int]:
    return {port["target"] for name in names for port in services[name].get("ports", [])}


def _copied_packages(stage) -> dict[str, Path]:
    """Top-level Python packages a build stage copies: import name -> folder in the repository."""
    packages = {}
    for copy in stage.copies:
        for source in copy.sources:
            folder = ROOT / source
            if (folder / "__init__.py").is_file():
                packages[folder.name] = folder
    return packages


def _first_party_imports(module: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & FIRST_PARTY


def _has_hatchling() -> bool:
    try:
        import hatchling  # noqa: F401
    except ImportError:
        return False
    return True
