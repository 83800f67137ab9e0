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
from aiops.slo.artifacts import RULES_FILE, artifacts
from aiops.slo.spec import SpecError
from aiops.stack.process import ManagedProcess
from aiops.stack.prometheus import prometheus_component, scrape_targets, write_layout
from support.promtool import PrometheusConfigError, check_config

STORAGE = Settings().repo_root / "storage" / "prometheus"
SLO_DATA = Settings().repo_root / "tests" / "data" / "slo"


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


def test_the_default_layout_loads_the_committed_rules(settings: Settings):
    rules = write_layout(settings).parent / "rules"
    assert [p.name for p in rules.iterdir()] == [RULES_FILE.name]
    assert (rules / RULES_FILE.name).read_text() == (settings.repo_root / RULES_FILE).read_text()


def test_the_layout_loads_the_rules_of_the_settings_slo_file(tmp_path: Path, free_port):
    spec = SLO_DATA / "good" / "scaled-windows.yaml"
    settings = Settings(stack_dir=tmp_path / "stack", prometheus_port=free_port(), slo_file=spec)
    config = write_layout(settings)
    text = (config.parent / "rules" / RULES_FILE.name).read_text()
    assert text == artifacts(spec, settings.repo_root)[RULES_FILE]
    assert "slo:sli_error:ratio_rate30s" in text
    check_config(config)


def test_a_layout_with_the_old_rules_symlink_gets_a_rules_folder(settings: Settings):
    home = settings.stack_dir / "prometheus"
    home.mkdir(parents=True)
    (home / "rules").symlink_to(STORAGE / "rules")
    write_layout(settings)
    assert not (home / "rules").is_symlink() and (home / "rules" / RULES_FILE.name).is_file()
    assert (STORAGE / "rules" / RULES_FILE.name).is_file(), (
        "the committed rules must stay untouched"
    )


def test_a_bad_slo_file_stops_the_layout_before_it_is_written(tmp_path: Path, free_port):
    settings = Settings(
        stack_dir=tmp_path / "stack",
        prometheus_port=free_port(),
        slo_file=SLO_DATA / "bad" / "target-is-one.yaml",
    )
    with pytest.raises(SpecError, match="target"):
        write_layout(settings)
    assert not (settings.stack_dir / "prometheus").exists()


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


def test_prometheus_3_scrapes_native_histograms_and_the_layout_goes_back_to_the_symlink(
    tmp_path: Path, free_port
):
    """With ``prometheus_native_histograms`` the stack runs Prometheus 3 (built from the Go module proxy, cached)
    on a copy of the config that scrapes native histograms; without it, the repo's config again."""
    settings = Settings(
        stack_dir=tmp_path / "stack", prometheus_port=free_port(), prometheus_native_histograms=True
    )
    config = write_layout(settings)
    assert not config.is_symlink()
    assert yaml.safe_load(config.read_text())["global"]["scrape_native_histograms"] is True
    process = ManagedProcess(prometheus_component(settings), settings)
    process.start()
    try:
        url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/status/buildinfo"
        with urllib.request.urlopen(url, timeout=2) as response:
            assert json.load(response)["data"]["goVersion"]
        assert {t["labels"]["job"] for t in _active_targets(settings)} <= set(
            scrape_targets(settings)
        )
    finally:
        assert process.stop()
    classic = write_layout(settings.model_copy(update={"prometheus_native_histograms": False}))
    assert classic.is_symlink() and classic.resolve() == (STORAGE / "prometheus.yml").resolve()
