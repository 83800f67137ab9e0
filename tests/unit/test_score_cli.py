"""``aiops score``: CSV ``timestamp,value`` on stdin, one score in [0, 1] per row on stdout, clear errors."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from aiops.anomaly.detectors import default_detector
from aiops.cli.anomaly import score_command
from aiops.cli.bench import bench_cli

app = typer.Typer()
app.command("score")(score_command)  # mounted as aiops/cli.py mounts it
app.add_typer(bench_cli, name="bench")


def _csv(values, start=1_700_000_000, step=60) -> str:
    rows = ["timestamp,value"] + [
        f"{start + i * step},{'' if v is None else v}" for i, v in enumerate(values)
    ]
    return "\n".join(rows) + "\n"


def _score(text: str, *args: str):
    return CliRunner().invoke(app, ["score", *args], input=text)


def _values(n=300, seed=0):
    rng = random.Random(seed)
    values = [round(rng.gauss(120, 4), 3) for _ in range(n)]
    if n > 250:
        values[250] = 400.0
    return values


def test_one_score_per_row_from_the_streams_default_detector():
    values = _values()
    result = _score(_csv(values))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(values)
    scores = [float(line) for line in lines]
    assert all(0.0 <= s <= 1.0 for s in scores)
    detector = default_detector()
    expected = []
    for v in values:
        expected.append(f"{detector.score_one(v):.6f}")
        detector.learn_one(v)
    assert lines == expected
    assert scores[250] > 0.5 > max(scores[:250])


def test_missing_values_iso_timestamps_extra_columns_and_blank_lines():
    text = "value,host,timestamp\n1.0,a,2024-05-01T00:00:00Z\n,a,2024-05-01T00:01:00Z\n\nnan,a,2024-05-01 00:02:00\n2.0,a,2024-05-01T00:02:00+00:00\n"
    result = _score(text)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["0.000000"] * 4


def test_no_rows_no_output():
    result = _score("timestamp,value\n")
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2\n2,3\n", "line 1: expected a header naming 'timestamp' and 'value'"),
        ("", "line 1: expected a header"),
        ("time,val\n1,2\n", "line 1"),
        ("timestamp,value\n1,2\n2,3\n3,abc\n", "line 4: value 'abc' is not a number"),
        (
            "timestamp,value\nyesterday,1\n",
            "line 2: timestamp 'yesterday' is neither a number nor an ISO 8601",
        ),
        ("timestamp,value\n1\n", "line 2: expected 2 columns, got 1"),
    ],
)
def test_bad_input_stops_with_the_line_number(text, message):
    result = _score(text)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == "", "nothing is written before the input is known to be good"


def test_rows_that_step_back_in_time_are_scored_in_arrival_order_with_one_warning():
    values = _values(60)
    text = _csv(values).splitlines()
    # the clock steps back an hour
    text[31:] = [f"{int(row.split(',')[0]) - 3600},{row.split(',')[1]}" for row in text[31:]]
    result = _score("\n".join(text) + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == _score(_csv(values)).stdout
    assert result.stderr.count("warning") == 1 and "line 32: timestamp" in result.stderr
    iso = _score("timestamp,value\n2024-05-01T00:01:00,1\n2024-05-01T00:00:00,1\n")
    assert iso.exit_code == 0 and "line 3: timestamp 2024-05-01T00:00:00 is before" in iso.stderr


def test_without_a_season_setting_the_daily_cycle_of_the_first_rows_is_used():
    values = [round(100 + 30 * math.sin(2 * math.pi * i / 288), 3) for i in range(288 * 14)]
    auto = _score(_csv(values, step=300))
    assert auto.exit_code == 0, auto.stderr
    assert auto.stdout == _score(_csv(values, step=300), "--season", "288").stdout
    assert _score(_csv(values, step=300), "--season", "0").stdout != auto.stdout


def test_season_option_and_its_validation():
    values = [100 + 10 * math.sin(2 * math.pi * t / 12) for t in range(100)]
    assert _score(_csv(values), "--season", "12").exit_code == 0
    result = _score(_csv(values), "--season", "1")
    assert result.exit_code == 1 and "season must be 0" in result.stderr


def test_season_defaults_to_the_setting(monkeypatch):
    values = [100 + 10 * math.sin(2 * math.pi * t / 12) for t in range(60)]
    monkeypatch.setenv("AIOPS_DETECT_SEASON", "12")
    seasonal = _score(_csv(values)).stdout
    monkeypatch.delenv("AIOPS_DETECT_SEASON")
    assert seasonal == _score(_csv(values), "--season", "12").stdout != _score(_csv(values)).stdout


def test_runs_as_a_process_on_real_pipes():
    code = "import typer; from aiops.cli.anomaly import score_command; typer.run(score_command)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=_csv(_values(40)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 40
    bad = subprocess.run(
        [sys.executable, "-c", code],
        input="timestamp,value\n1,x\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1 and "line 2" in bad.stderr


@pytest.mark.parametrize("name", ["holt_winters", "windowed_gaussian", "half_space_trees"])
def test_detector_option_scores_with_that_detector_of_the_registry(name):
    from aiops.anomaly.detectors.registry import build_detector

    values = _values(n=120)
    result = _score(_csv(values), "--detector", name)
    assert result.exit_code == 0, result.stderr
    detector = build_detector(name)
    expected = []
    for v in values:
        expected.append(f"{detector.score_one(v):.6f}")
        detector.learn_one(v)
    assert result.stdout.splitlines() == expected


def test_an_unknown_detector_is_refused_with_the_known_names():
    result = _score(_csv(_values(n=10)), "--detector", "prophet")
    assert result.exit_code == 1
    assert "unknown detector 'prophet'" in result.stderr and "holt_winters" in result.stderr
    assert result.stdout == ""
