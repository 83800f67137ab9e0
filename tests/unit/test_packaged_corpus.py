"""Public labelled series shipped in a package: TimeEval labels become NAB windows, errors name the line."""

from __future__ import annotations

import importlib.resources
import re

import pytest

from aiops.anomaly.evaluation.nab import probationary_period, windows
from aiops.anomaly.evaluation.packaged import aeon_corpus, read_timeeval_csv


def _timeeval_lines(n: int, ranges: list[tuple[int, int]], column: str = "value") -> list[str]:
    """A small slice in TimeEval's format, as aeon ships it: integer timestamps, one flag per point."""
    flagged = {i for first, last in ranges for i in range(first, last + 1)}
    return [f"timestamp,{column},is_anomaly"] + [
        f"{i},{60.0 + (i % 7) * 0.5},{int(i in flagged)}" for i in range(n)
    ]


def test_each_labelled_range_becomes_one_nab_window_centred_on_its_first_point():
    file = read_timeeval_csv("slice", _timeeval_lines(400, [(120, 131), (300, 309)], "value-0"))
    assert len(file) == 400 and file.anomalies == (120, 300) and file.kinds == ("labelled",) * 2
    # NAB: 10% of 400 points over 2 anomalies = 20 points per window, centred on the label
    assert windows(file) == [(110, 130), (290, 310)]
    assert probationary_period(len(file)) == 60


def test_timestamps_and_interval_come_from_the_file():
    lines = [
        "timestamp,value,is_anomaly",
        "2026-11-27T00:00:00+00:00,1.0,0",
        "2026-11-27T00:05:00+00:00,2.0,1",
        "2026-11-27T00:10:00+00:00,3.0,1",
    ]
    file = read_timeeval_csv("iso", lines)
    assert file.interval == 300.0 and file.anomalies == (1,) and file.values == [1.0, 2.0, 3.0]


def test_a_file_without_labels_has_no_windows():
    file = read_timeeval_csv("clean", _timeeval_lines(200, []))
    assert file.anomalies == () and windows(file) == []


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["time,value,label", "0,1,0"], "expected a header 'timestamp,<value>,is_anomaly'"),
        (["timestamp,a,b,is_anomaly", "0,1,2,0"], "expected a header"),
        (["timestamp,value,is_anomaly", "0,1,0", "1,oops,0"], "line 3"),
        (["timestamp,value,is_anomaly", "0,1"], "line 2"),
    ],
)
def test_bad_files_name_the_file_and_the_line(lines, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        read_timeeval_csv("bad", lines)
    assert str(error.value).startswith("bad: ")


def test_without_aeon_the_corpus_says_how_to_install_it(monkeypatch):
    def missing(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[eval\]'"):
        aeon_corpus()
