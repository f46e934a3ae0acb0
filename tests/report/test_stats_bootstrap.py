"""The bootstrap on per-sample statistics gives today's intervals: the same draws, the same
blocks, the same replicate values as merging per-sample states."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mmeval.metrics.classification import F1, CohenKappa
from mmeval.metrics.regression import RMSE
from mmeval.metrics.text import BLEU, CHRF
from mmeval.report.bootstrap import bootstrap_interval, resample_counts, stats_interval
from mmeval.report.records import SampleRecorder, _RowBlocks, _Units


def data(metric, n: int, seed: int = 0) -> tuple[list, list]:
    rng = random.Random(seed)
    if metric.modality == "label":
        labels = ["1", "2", "3"]
        targets = [rng.choice(labels) for _ in range(n)]
        return [t if rng.random() < 0.7 else rng.choice(labels) for t in targets], targets
    if metric.modality == "number":
        targets = [rng.uniform(0, 100) for _ in range(n)]
        return [t + rng.gauss(0, 5) for t in targets], targets
    words = "red shoe soft bag cotton the a".split()
    targets = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]
    return [" ".join(w if rng.random() < 0.7 else rng.choice(words) for w in t.split()) for t in targets], targets


METRICS = [F1, lambda: F1(average="micro"), lambda: CohenKappa(weights="quadratic"), RMSE, BLEU, CHRF]


@pytest.mark.parametrize("make", METRICS, ids=["f1", "f1-micro", "kappa", "rmse", "bleu", "chrf"])
def test_stats_interval_equals_the_state_bootstrap(make) -> None:
    metric = make()
    outputs, targets = data(metric, 120)
    states = [metric.update(metric.init(), [o], [t]) for o, t in zip(outputs, targets)]
    rows = metric.sample_stats(outputs, targets)
    old = bootstrap_interval(metric, states, resamples=200, seed=7)
    new = stats_interval(metric, rows, resamples=200, seed=7)
    assert old is not None and new is not None
    assert new == pytest.approx(old, rel=1e-12, abs=1e-12)
    assert new.note == old.note


def test_resample_counts_are_the_draws_of_bootstrap_interval() -> None:
    counts = resample_counts(5, 3, seed=1)
    rng = np.random.default_rng(1)
    expected = [np.bincount(rng.integers(0, 5, size=5), minlength=5) for _ in range(3)]
    assert counts.tolist() == np.array(expected, dtype=float).tolist()
    assert (counts.sum(axis=1) == 5).all()


@pytest.mark.parametrize("batches", [[1] * 21, [7, 3, 11], [21], [2, 19]])
def test_row_blocks_hold_the_blocks_of_units(batches) -> None:
    metric = RMSE()
    outputs, targets = data(metric, sum(batches))
    rows = metric.sample_stats(outputs, targets)
    units, blocks, at = _Units(metric, limit=4), _RowBlocks(limit=4), 0
    for size in batches:
        for row in rows[at : at + size]:
            units.add(metric.stats_state(row))
        blocks.add(rows[at : at + size])
        at += size
    assert blocks.count == units.count == 21
    assert blocks.rows() == pytest.approx(np.array(units.states(), dtype=float), rel=1e-12)


def test_recorder_interval_over_many_batches_equals_the_state_path(tmp_path) -> None:
    """A run's recorder (block bootstrap past MAX_UNITS) gives the old path's interval."""
    metric = BLEU()
    outputs, targets = data(metric, 300)
    old, new = SampleRecorder(tmp_path / "old.jsonl", 100), SampleRecorder(tmp_path / "new.jsonl", 100)
    old.MAX_UNITS = new.MAX_UNITS = 16
    ids = [f"s{i}" for i in range(300)]
    for at in range(0, 300, 32):
        part = slice(at, at + 32)
        old.score("bleu", metric, "m", ids[part], outputs[part], targets[part])
        new.score_rows("bleu", metric, "m", ids[part], metric.sample_stats(outputs[part], targets[part]))
        assert new.rows == old.rows  # the same per-sample values and encoded states
        old.flush(), new.flush()
    assert new.intervals("bleu", metric, "m") == pytest.approx(old.intervals("bleu", metric, "m"), rel=1e-12)
    old.close(), new.close()


def test_free_text_labels_go_back_to_states_past_the_cell_cap(tmp_path) -> None:
    """Rows over confusion cells would grow with free-text labels: past MAX_STAT_CELLS the
    metric stops giving them, the recorder turns its blocks into states, and the records
    and interval are the ones the state path gives."""
    from mmeval.metrics.base import has_sample_stats
    from mmeval.metrics.classification import MAX_STAT_CELLS

    rng = random.Random(3)
    targets = [f"title {rng.randint(0, 400)}" for _ in range(700)]
    outputs = [t if rng.random() < 0.6 else f"title {rng.randint(0, 400)}" for t in targets]
    ids = [f"s{i}" for i in range(700)]
    metric, reference = F1(), F1()
    old, new = SampleRecorder(tmp_path / "old.jsonl", 100), SampleRecorder(tmp_path / "new.jsonl", 100)
    old.MAX_UNITS = new.MAX_UNITS = 64
    switched = None
    for at in range(0, 700, 50):
        part = slice(at, at + 50)
        old.score("f1", reference, "m", ids[part], outputs[part], targets[part])
        if has_sample_stats(metric):
            new.score_rows("f1", metric, "m", ids[part], metric.sample_stats(outputs[part], targets[part]))
        else:
            switched = switched if switched is not None else at
            new.score("f1", metric, "m", ids[part], outputs[part], targets[part])
        assert new.rows == old.rows
        old.flush(), new.flush()
    assert switched is not None and len(metric._cells) > MAX_STAT_CELLS
    assert new.intervals("f1", metric, "m") == pytest.approx(old.intervals("f1", reference, "m"), rel=1e-12)
    old.close(), new.close()


def test_kappa_in_chunks_equals_one_pass(monkeypatch) -> None:
    from mmeval.metrics import confusion_scores

    metric = CohenKappa(weights="linear")
    outputs, targets = data(metric, 200)
    rows = metric.sample_stats(outputs, targets)
    counts = resample_counts(len(rows), 50, seed=2)
    whole = metric.stats_values(counts @ rows)
    monkeypatch.setattr(confusion_scores, "MATRIX_ELEMENTS", 20)  # 2 rows of 3x3 at a time
    assert np.array_equal(metric.stats_values(counts @ rows), whole, equal_nan=True)


@pytest.mark.parametrize("make", METRICS, ids=["f1", "f1-micro", "kappa", "rmse", "bleu", "chrf"])
def test_paired_rows_give_the_paired_state_replicates(make, monkeypatch) -> None:
    """compare's paired bootstrap on rows equals merging the paired states, block by block."""
    from mmeval.report import bootstrap
    from mmeval.report.bootstrap import paired_replicates, paired_stats_replicates

    metric = make()
    outputs, targets = data(metric, 90, seed=1)
    worse, _ = data(metric, 90, seed=2)
    base_states = [metric.update(metric.init(), [o], [t]) for o, t in zip(outputs, targets)]
    cand_states = [metric.update(metric.init(), [o], [t]) for o, t in zip(worse, targets)]
    old = paired_replicates(metric, base_states, cand_states, resamples=120, seed=4)
    from mmeval.cli.compare import _stat_rows

    base_rows, cand_rows = _stat_rows(metric, base_states, cand_states)
    monkeypatch.setattr(bootstrap, "COUNT_ELEMENTS", 90 * 7)  # 7 replicates a block
    new = paired_stats_replicates(metric, base_rows, cand_rows, resamples=120, seed=4)
    assert new == pytest.approx(old, rel=1e-9, abs=1e-12)
