"""The generated SLO rules against Debian's promtool and prometheus (2.42), and Prometheus 3's promtool.

``promtool check rules`` on the committed and golden rule files (the native
golden too: 2.42 parses ``histogram_count``/``histogram_fraction``), the
hand-computed ``promtool test rules`` files in tests/data/slo (the native one
with Prometheus 3's promtool, which the ``promtool_3`` fixture builds), and a real
Prometheus of the local-stack layout that loads and evaluates every group of
the spec the settings name (the default one and a scaled one).
No Kafka is needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from aiops.settings import Settings
from aiops.slo.artifacts import RULES_FILE
from aiops.slo.objective import load_objectives
from aiops.slo.rules import rule_groups
from aiops.stack.process import ManagedProcess
from aiops.stack.prometheus import prometheus_component

REPO = Settings().repo_root
DATA = REPO / "tests" / "data" / "slo"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str, binary: str | Path = PROMTOOL) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )


@pytest.mark.parametrize(
    "rules",
    [
        REPO / RULES_FILE,
        DATA / "golden" / "out-scaled-windows.yml",
        DATA / "golden" / "out-native.yml",
    ],
    ids=["committed", "golden-scaled-windows", "golden-native"],
)
def test_promtool_checks_the_rules(rules: Path):
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_the_generated_rules_pass():
    result = promtool("test", "rules", str(DATA / "promtool-rules-test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(1800)  # the first run builds promtool 3 (minutes; about 8 of CPU cold)
def test_promtool_unit_tests_of_the_native_rules_pass(promtool_3: Path):
    """Prometheus's own histogram_fraction on the native golden rules, with 3.0's interpolation.

    Debian's promtool 2.42 cannot load native histograms into input_series: Prometheus 3's does.
    """
    result = promtool(
        "test", "rules", str(DATA / "promtool-native-rules-test.yml"), binary=promtool_3
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "slo_file",
    [Settings().slo_file, DATA / "good" / "scaled-windows.yaml"],
    ids=["default-spec", "scaled-windows"],
)
def test_prometheus_loads_and_evaluates_every_generated_group(
    tmp_path: Path, free_port, slo_file: Path
):
    """The local stack's Prometheus evaluates the rules of whichever spec the settings name."""
    settings = Settings(
        stack_dir=tmp_path / "stack", prometheus_port=free_port(), slo_file=slo_file
    )
    expected = {g["name"] for o in load_objectives(settings.slo_file) for g in rule_groups(o)}
    process = ManagedProcess(prometheus_component(settings), settings)
    process.start()
    try:
        deadline = time.monotonic() + 30
        groups: dict[str, list[dict]] = {}
        while time.monotonic() < deadline:
            groups = {g["name"]: g["rules"] for g in _rule_groups(settings)}
            if expected <= set(groups) and all(
                r["health"] == "ok" for n in expected for r in groups[n]
            ):
                break
            time.sleep(0.5)
        assert expected <= set(groups), f"missing groups: {expected - set(groups)}"
        unhealthy = [
            (n, r["name"], r["health"], r.get("lastError"))
            for n in expected
            for r in groups[n]
            if r["health"] != "ok"
        ]
        assert not unhealthy
    finally:
        assert process.stop()


def _rule_groups(settings: Settings) -> list[dict]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/rules"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)["data"]["groups"]
    except OSError:
        return []
