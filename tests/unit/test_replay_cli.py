"""``aiops replay``: the default detector and the alert logic offline on a CSV; alerts printed, plot written."""

from __future__ import annotations

import json
import math
import random

import typer
from typer.testing import CliRunner

from aiops.anomaly_cli import read_timestamped, replay, replay_command
from aiops.schemas.alerts import AlertV1

app = typer.Typer()
app.command("replay")(replay_command)  # mounted as aiops/cli.py mounts it
app.command("other")(lambda: None)  # two commands, so the name "replay" is used

START, STEP, SPIKE = 1_700_000_000, 60, 450


def _series(n=600, seed=0):
    rng = random.Random(seed)
    values = [round(100 + 10 * math.sin(i / 30) + rng.gauss(0, 2), 3) for i in range(n)]
    values[SPIKE] += 60.0
    return values


def _csv(tmp_path, values):
    path = tmp_path / "latency.csv"
    path.write_text(
        "timestamp,value\n" + "".join(f"{START + i * STEP},{v}\n" for i, v in enumerate(values))
    )
    return path


def test_replay_finds_an_alert_around_the_spike_and_prints_alertv1_events(tmp_path):
    result = CliRunner().invoke(app, ["replay", str(_csv(tmp_path, _series())), "--json"])
    assert result.exit_code == 0, result.output
    events = [AlertV1.model_validate_json(line) for line in result.output.splitlines()]
    assert [e.status for e in events] == ["firing", "resolved"]
    firing, resolved = events
    assert firing.id == resolved.id and firing.labels["metric"] == "latency"
    assert abs(firing.startsAt.timestamp() - (START + SPIKE * STEP)) <= 2 * STEP
    assert resolved.endsAt.timestamp() - firing.startsAt.timestamp() < 30 * STEP
    assert "expected" in firing.annotations["description"]
    assert json.loads(result.output.splitlines()[0])["labels"]["alertname"] == "AnomalyDetected"


def test_replay_table_and_plot_is_a_valid_png(tmp_path):
    plot = tmp_path / "out.png"
    result = CliRunner().invoke(
        app, ["replay", str(_csv(tmp_path, _series())), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "1 alert(s) over 600 points" in result.output
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_replay_of_a_quiet_series_has_no_alert():
    rng = random.Random(1)
    values = [rng.gauss(50, 1) for _ in range(500)]
    run = replay([START + i * STEP for i in range(500)], values)
    assert run.transitions == [] and len(run.scores) == len(run.expected) == 500


def test_bad_input_stops_with_the_line_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n1,2\n2,abc\n")
    result = CliRunner().invoke(app, ["replay", str(path)])
    assert result.exit_code == 1 and "line 3: value 'abc' is not a number" in result.output
    path.write_text("timestamp,value\n1,2\n2,3\n")
    result = CliRunner().invoke(app, ["replay", str(path), "--threshold", "0.2"])
    assert (
        result.exit_code == 1
        and "clear_threshold 0.3 must not exceed threshold 0.2" in result.output
    )


def test_timestamps_and_values_stay_aligned_across_blank_lines_and_gaps():
    assert read_timestamped(["timestamp,value", "10,1", "", "20,", "30,3"])[0] == [10.0, 20.0, 30.0]
