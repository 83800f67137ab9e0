"""``aiops evaluate`` on the tiny corpus: every reported detector on every NAB profile."""

from __future__ import annotations

import importlib.resources
import json

import typer
from typer.testing import CliRunner

from aiops.anomaly.detectors.registry import EVALUATED
from aiops.anomaly.evaluation.corpus import generate_corpus
from aiops.anomaly.evaluation.nab import PROFILES
from aiops.anomaly.evaluation.run import evaluate
from aiops.cli.anomaly import evaluate_command

app = typer.Typer()
app.command("evaluate")(evaluate_command)  # mounted as aiops/cli.py mounts it
app.command("other")(lambda: None)


def test_evaluate_scores_every_detector_on_every_profile(tmp_path):
    markdown = tmp_path / "table.md"
    result = CliRunner().invoke(
        app, ["evaluate", "--corpus", "tiny", "--jobs", "1", "--json", "--markdown", str(markdown)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["detector"], r["profile"]) for r in rows] == [
        (d, p) for d in EVALUATED for p in PROFILES
    ]
    assert all(0.0 <= r["normalised"] <= 100.0 for r in rows)
    score = {(r["detector"], r["profile"]): r["normalised"] for r in rows}
    assert score["combined", "standard"] > score["windowed_gaussian", "standard"]
    text = markdown.read_text()
    assert (
        "| detector | standard | reward_low_FP_rate | reward_low_FN_rate |" in text
        and "| combined |" in text
    )


def test_evaluate_table_and_unknown_detector():
    result = CliRunner().invoke(
        app, ["evaluate", "--corpus", "tiny", "--detector", "windowed_gaussian"]
    )
    assert result.exit_code == 0, result.output
    assert "windowed_gaussian" in result.stdout and "reward_low_FN_rate" in result.stdout
    result = CliRunner().invoke(app, ["evaluate", "--detector", "nope"])
    assert result.exit_code == 1 and "unknown detector(s) nope" in result.output


def test_unknown_corpus_and_missing_package(monkeypatch):
    result = CliRunner().invoke(app, ["evaluate", "--corpus", "nope"])
    assert result.exit_code == 1 and "choose from default, tiny, aeon, all" in result.output

    def missing(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(importlib.resources, "files", missing)
    result = CliRunner().invoke(app, ["evaluate", "--corpus", "aeon"])
    assert result.exit_code == 1 and "pip install -e '.[eval]'" in result.output


def test_worker_processes_give_the_same_result():
    corpus = generate_corpus([(400, 3600.0)])
    assert evaluate(corpus, ["holt_winters"], jobs=2) == evaluate(corpus, ["holt_winters"], jobs=1)
