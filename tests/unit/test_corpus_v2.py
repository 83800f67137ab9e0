"""Corpus v2 (production-like series) and the quiet-series checks of issue 12."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from aiops.anomaly.evaluation.corpus_v2 import (
    ANOMALY_KINDS,
    HELD_OUT_SEEDS,
    SHAPES,
    TRAIN_SEEDS,
    corpus_v2,
    quiet_series,
    quiet_share,
)
from aiops.anomaly.evaluation.nab import probationary_period
from aiops.anomaly.evaluation.run import quiet_shares
from aiops.cli.anomaly import evaluate_command

app = typer.Typer()
app.command("evaluate")(evaluate_command)  # mounted as aiops/cli.py mounts it
app.command("other")(lambda: None)


def test_the_corpus_is_seeded_and_holds_every_shape_and_artefact():
    files = corpus_v2(1)
    again = corpus_v2(1)
    assert all(
        np.array_equal(np.array(a.values), np.array(b.values), equal_nan=True)
        for a, b in zip(files, again)
    )
    assert {f.tags["shape"] for f in files} == set(SHAPES)
    assert set(TRAIN_SEEDS).isdisjoint(HELD_OUT_SEEDS)
    everything = [f for seed in TRAIN_SEEDS for f in corpus_v2(seed)]
    assert {k for f in everything for k in f.kinds} == set(ANOMALY_KINDS)
    assert any(not f.anomalies for f in everything), "some files have nothing to find"
    for tag in ("gap", "reset", "clock_step"):
        assert any(tag in f.tags for f in everything), tag
    for f in everything:
        assert all(a >= probationary_period(len(f)) for a in f.anomalies)
        assert np.nanmin(np.array(f.values)) >= 0.0


def test_a_clock_step_back_is_in_the_timestamps_only():
    stepped = [f for seed in TRAIN_SEEDS for f in corpus_v2(seed) if "clock_step" in f.tags]
    assert stepped
    for f in stepped:
        assert (np.diff(np.array(f.timestamps)) < 0).sum() == 1


def test_quiet_share_counts_after_the_first_15_percent():
    assert quiet_share([1.0] * 15 + [0.0] * 85) == 0.0
    assert quiet_share([0.0] * 90 + [0.5] * 10) == pytest.approx(10 / 85)


def test_the_default_detector_is_quiet_on_the_quiet_series():
    shares = quiet_shares(["combined"])["combined"]
    assert sorted(shares) == sorted(quiet_series())
    assert max(shares.values()) <= 0.002, shares


def test_evaluate_quiet_and_v2_from_the_command_line():
    result = CliRunner().invoke(
        app, ["evaluate", "--corpus", "quiet", "--detector", "windowed_gaussian", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["windowed_gaussian"]) == set(quiet_series())
    result = CliRunner().invoke(
        app,
        ["evaluate", "--corpus", "v2", "--detector", "windowed_gaussian", "--jobs", "1", "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {row["profile"] for row in rows} == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
    }
