"""storage/prometheus/prometheus.yml against Debian's promtool and prometheus (2.42)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from aiops.settings import Settings
from aiops.stack.process import ManagedProcess
from aiops.stack.prometheus import (
    PrometheusConfigError,
    check_config,
    prometheus_component,
    scrape_targets,
    write_layout,
)

STORAGE = Settings().repo_root / "storage" / "prometheus"


@pytest.fixture
def settings(tmp_path: Path, free_port) -> Settings:
    return Settings(stack_dir=tmp_path / "stack", prometheus_port=free_port())


def test_config_checks_with_the_local_target_files(settings: Settings):
    check_config(write_layout(settings))


def test_config_checks_with_the_compose_target_files(tmp_path: Path):
    home = tmp_path / "etc-prometheus"
    home.mkdir()
    (home / "prometheus.yml").symlink_to(STORAGE / "prometheus.yml")
    (home / "rules").symlink_to(STORAGE / "rules")
    shutil.copytree(STORAGE / "targets" / "compose", home / "targets")
    check_config(home / "prometheus.yml")


def test_check_fails_on_a_broken_target_file(settings: Settings):
    config = write_layout(settings)
    (config.parent / "targets" / "prometheus.json").write_text('[{"targets": "127.0.0.1:9090"}]')
    with pytest.raises(PrometheusConfigError, match="prometheus.json"):
        check_config(config)


def test_check_fails_on_a_missing_target_file(settings: Settings):
    config = write_layout(settings)
    (config.parent / "targets" / "otel-collector.json").unlink()
    with pytest.raises(PrometheusConfigError, match="otel-collector.json"):
        check_config(config)


def test_every_job_has_a_local_and_a_compose_target_file():
    config = yaml.safe_load((STORAGE / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["file_sd_configs"][0]["files"] for job in config["scrape_configs"]}
    assert jobs == {job: [f"targets/{job}.json"] for job in scrape_targets(Settings())}
    assert {path.stem for path in (STORAGE / "targets" / "compose").glob("*.json")} == set(jobs)


def test_prometheus_starts_and_discovers_every_job(settings: Settings):
    process = ManagedProcess(prometheus_component(settings), settings)
    process.start()
    try:
        deadline = time.monotonic() + 15
        jobs: set[str] = set()
        while time.monotonic() < deadline and jobs != set(scrape_targets(settings)):
            jobs = {target["labels"]["job"] for target in _active_targets(settings)}
            time.sleep(0.3)
        assert jobs == set(scrape_targets(settings))
    finally:
        assert process.stop()


def _active_targets(settings: Settings) -> list[dict]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/targets?state=active"
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)["data"]["activeTargets"]
