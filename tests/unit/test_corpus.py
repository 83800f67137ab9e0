"""The labelled corpus: reproducible, every kind, anomalies scoreable, metric-like values."""

from __future__ import annotations

import numpy as np

from aiops.anomaly.evaluation.corpus import (
    KINDS,
    FileSpec,
    default_corpus,
    generate_file,
    tiny_corpus,
)
from aiops.anomaly.evaluation.nab import probationary_period, windows


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another():
    first, again, other = tiny_corpus(0), tiny_corpus(0), tiny_corpus(1)
    assert [(f.name, f.values, f.anomalies) for f in first] == [
        (f.name, f.values, f.anomalies) for f in again
    ]
    assert [f.values for f in first] != [f.values for f in other]


def test_default_corpus_covers_every_kind_at_several_lengths_and_intervals():
    corpus = default_corpus()
    assert len(corpus) == 48
    assert {f.kinds[0] for f in corpus} == set(KINDS)
    assert len({len(f) for f in corpus}) >= 5 and {f.interval for f in corpus} == {
        60.0,
        300.0,
        900.0,
        3600.0,
    }
    for file in corpus:
        n = len(file)
        assert file.anomalies and len(file.kinds) == len(file.anomalies)
        assert all(probationary_period(n) <= a < n for a in file.anomalies)
        assert len(windows(file)) == len(file.anomalies)  # windows never merge
        values = np.asarray(file.values)
        assert np.all(np.isfinite(values)) and values.min() >= 0.0
        assert np.allclose(np.diff(file.timestamps), file.interval)


def test_injected_anomalies_move_the_series_from_the_clean_one_at_the_labels():
    for k, kind in enumerate(KINDS):
        spec = FileSpec(kind, 2000, 3600.0, seed=10 + k)
        file, clean = generate_file(spec), generate_file(spec, inject=False)
        assert clean.anomalies == file.anomalies
        moved = np.flatnonzero(np.asarray(file.values) != np.asarray(clean.values))
        first = file.anomalies[0]
        assert moved.size and moved[0] >= first, kind
        assert moved[0] <= first + 1, (
            kind
        )  # the change starts at the label (a drift's first ramp step is 0)


def test_seasonality_break_files_are_seasonal():
    for seed in range(5):
        assert (
            generate_file(FileSpec("seasonality_break", 1000, 3600.0, seed)).tags["seasonal"]
            == "true"
        )
