"""`aiops bench pipeline` on a real broker, at a small rate: it measures what it says it measures."""

import pytest

from aiops.bench.pipeline import run_pipeline_bench
from aiops.settings import Settings

pytestmark = pytest.mark.integration


def test_a_small_sustained_step_is_measured_end_to_end(kafka_bootstrap, tmp_path):
    lines: list[str] = []
    (step,) = run_pipeline_bench(
        [400.0],
        step_s=6.0,
        resources=4,
        series=20,
        partitions=3,
        settings=Settings(kafka_bootstrap_servers=kafka_bootstrap, stack_dir=tmp_path),
        progress=lines.append,
    )
    assert step.sustained and step.decoded_per_s >= 0.9 * 400, step
    assert step.sent_points >= 0.9 * 400 * 6
    assert step.scored_rounds > 0 and 0 < step.delay_p50_s <= step.delay_p99_s, step
    assert step.rss_bytes > 100 * 2**20, (
        "the worker itself (a Faust worker holds more than 100 MiB)"
    )
    assert step.cpu_s["worker other"] >= 0, "the stages' CPU is part of the measured process's"
    assert step.cpu_s["decode"] > 0 and step.cpu_s["detect"] > 0 and step.cpu_s["producer"] > 0
    assert any(line.startswith("step 400 points/s") for line in lines), lines
