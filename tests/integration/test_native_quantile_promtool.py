"""aiops.slo.quantile against Prometheus itself, on random exponential histograms.

Writes a ``promtool test rules`` file whose input series are random native
histograms (scales -4 to 8, zero buckets, negative buckets, empty buckets,
fractional counts, NaN observations) and whose expected values are what
``native_histogram_quantile`` and ``native_histogram_fraction`` compute, then
reads promtool's answers from its report and requires them to agree to 1e-12
relative. It needs promtool 3.0 or later (Debian's 2.42 cannot load native
histograms into ``input_series``): the ``promtool_3`` fixture builds Prometheus 3's.
"""

from __future__ import annotations

import math
import random
import re
import subprocess
from pathlib import Path

import pytest

from aiops.slo.exponential_histogram import ExponentialHistogram
from aiops.slo.quantile import native_histogram_fraction, native_histogram_quantile

QUANTILES = (0.0, 0.01, 0.1, 0.25, 0.49, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def _promtool(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.timeout(1800)  # the first run builds promtool 3 (minutes; about 8 of CPU cold)
def test_quantiles_and_fractions_agree_with_promtool(promtool_3: Path, tmp_path: Path):
    rng = random.Random(14)
    series, cases = [], {}
    for i in range(100):
        h = _random_histogram(rng)
        series.append((f'h{{id="{i}"}}', _notation(h)))
        for q in QUANTILES:
            cases[f'histogram_quantile({q}, h{{id="{i}"}})'] = native_histogram_quantile(q, h)
        for _ in range(4):
            lower, upper = sorted((_bound(rng), _bound(rng)))
            expr = f'histogram_fraction({_num(lower)}, {_num(upper)}, h{{id="{i}"}})'
            cases[expr] = native_histogram_fraction(lower, upper, h)
    test_file = tmp_path / "native.yml"
    test_file.write_text(_promtool_test(series, cases))

    result = _promtool(promtool_3, "test", "rules", str(test_file))
    report = result.stdout + result.stderr
    answers = dict(
        re.findall(r'expr: "(.*?)", time.*?\n\s+exp: .*?\n\s+got: \{[^}]*\} (\S+)', report)
    )
    assert answers or "SUCCESS" in report, report[:2000]
    for expr, got in answers.items():
        ours, theirs = cases[expr.replace('\\"', '"')], float(got)
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(
            theirs, rel=1e-12, abs=1e-300
        ), expr


def _random_histogram(rng: random.Random) -> ExponentialHistogram:
    positive = [
        float(rng.choice([0, 0, rng.randint(1, 50), rng.random() * 10]))
        for _ in range(rng.randint(0, 15))
    ]
    negative = [float(rng.randint(0, 20)) for _ in range(rng.choice([0, 0, 0, rng.randint(1, 6)]))]
    zero = float(rng.choice([0, 0, rng.randint(1, 5)]))
    nan_observations = rng.randint(1, 5) if rng.random() < 0.1 else 0
    return ExponentialHistogram(
        scale=rng.randint(-4, 8),
        count=sum(positive) + sum(negative) + zero + nan_observations,
        sum=math.nan if nan_observations else rng.random() * 100,
        zero_count=zero,
        zero_threshold=rng.choice([0.0, 1e-128, 0.001, 0.01]),
        positive_offset=rng.randint(-30, 30),
        positive=positive,
        negative_offset=rng.randint(-30, 30),
        negative=negative,
    )


def _bound(rng: random.Random) -> float:
    return rng.choice(
        [-math.inf, math.inf, 0.0, 2 ** rng.uniform(-12, 12), -(2 ** rng.uniform(-12, 12))]
    )


def _notation(h: ExponentialHistogram) -> str:
    """promqltest notation; Prometheus's offsets are OTel's plus one."""
    parts = [f"schema:{h.scale}", f"sum:{_num(h.sum)}", f"count:{_num(h.count)}"]
    parts += [f"z_bucket:{_num(h.zero_count)}", f"z_bucket_w:{_num(h.zero_threshold)}"]
    if h.positive:
        parts += [f"offset:{h.positive_offset + 1}", f"buckets:[{' '.join(map(_num, h.positive))}]"]
    if h.negative:
        parts += [
            f"n_offset:{h.negative_offset + 1}",
            f"n_buckets:[{' '.join(map(_num, h.negative))}]",
        ]
    return "{{" + " ".join(parts) + "}}"


def _num(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return repr(x)


def _promtool_test(series: list[tuple[str, str]], cases: dict[str, float]) -> str:
    lines = ["rule_files: []", "evaluation_interval: 1m", "tests:", "  - interval: 1m"]
    lines.append("    input_series:")
    lines += [f"      - series: '{name}'\n        values: '{value}'" for name, value in series]
    lines.append("    promql_expr_test:")
    for expr, value in cases.items():
        selector = re.search(r"\{.*\}", expr)[0]
        expected = ".nan" if math.isnan(value) else repr(value).replace("inf", ".inf")
        lines.append(
            f"      - expr: '{expr}'\n        eval_time: 0m\n        exp_samples:\n"
            f"          - labels: '{selector}'\n            value: {expected}"
        )
    return "\n".join(lines) + "\n"
