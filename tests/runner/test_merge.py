"""Merging shards in one process: the pieces a torchrun run relies on (tests/test_distributed.py
runs the real thing). Two "ranks" here are two metric instances and two recorders, as in
two processes: a rank's confusion cells are numbered in the order it saw them."""

from __future__ import annotations

import random

import pytest

from mmeval.data import Dataset
from mmeval.distributed import World
from mmeval.errors import IntegrityError
from mmeval.metrics.classification import F1
from mmeval.metrics.regression import MAE
from mmeval.report.records import SampleRecorder
from mmeval.runner.state import merged_entries, place_files


def test_shards_are_contiguous_whole_batches_covering_the_run() -> None:
    for batches in (0, 1, 2, 7, 100):
        for size in (1, 2, 3, 8):
            shards = [World(rank, size).shard(batches) for rank in range(size)]
            assert [n for shard in shards for n in shard] == list(range(batches))


def test_dataset_batches_of_a_shard_are_the_single_process_batches(tmp_path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(f'{{"id": "s{i}", "input": {i}}}\n' for i in range(11)))
    dataset = Dataset(path)
    whole = [(n, [s.id for s in b]) for n, b in dataset.batches(4)]
    parts = [(n, [s.id for s in b]) for rank in range(3) for n, b in dataset.batches(4, World(rank, 3).shard(3))]
    assert parts == whole and whole[-1] == (2, ["s8", "s9", "s10"])


def _score(recorder: SampleRecorder, metric, ids, outputs, targets, batch: int) -> None:
    for at in range(0, len(ids), batch):
        part = slice(at, at + batch)
        recorder.score_rows("f1", metric, "m", ids[part], metric.sample_stats(outputs[part], targets[part]))
        recorder.flush()


@pytest.mark.parametrize("limit", [2048, 16])  # every sample its own unit; blocks of several
def test_absorbed_units_give_the_single_process_interval(tmp_path, limit) -> None:
    rng = random.Random(5)
    labels = ["red", "blue", "green", "black"]
    targets = [rng.choice(labels) for _ in range(200)]
    outputs = [t if rng.random() < 0.7 else rng.choice(labels) for t in targets]
    ids = [f"s{i}" for i in range(200)]
    single, rank0, rank1 = (SampleRecorder(tmp_path / f"{n}.jsonl", 200) for n in ("single", "rank0", "rank1"))
    for recorder in (single, rank0, rank1):
        recorder.MAX_UNITS = limit
    one, zero, other = F1(average="macro"), F1(average="macro"), F1(average="macro")
    _score(single, one, ids, outputs, targets, 8)
    _score(rank0, zero, ids[:96], outputs[:96], targets[:96], 8)
    _score(rank1, other, ids[96:], outputs[96:], targets[96:], 8)
    rank0.absorb_units({"f1": zero}, rank1.shard_units({"f1": other}))
    assert rank0.units[("f1", "m")].count == 200
    merged, expected = rank0.intervals("f1", zero, "m"), single.intervals("f1", one, "m")
    if limit == 2048:
        assert merged == expected  # the same rows, replayed: the same interval
    else:  # blocks formed within each rank: the same statistic, blocks laid out per rank
        assert merged == pytest.approx(expected, abs=0.05)
    for recorder in (single, rank0, rank1):
        recorder.close()


def test_a_rank_whose_labels_came_in_another_order_merges_by_label(tmp_path) -> None:
    """Rank 1 sees 'b' before 'a': its row columns differ from rank 0's, its states do not."""
    zero, other = F1(average="macro"), F1(average="macro")
    rank0, rank1, single = (SampleRecorder(tmp_path / f"{n}.jsonl", 100) for n in ("r0", "r1", "one"))
    rank0.score_rows("f1", zero, "m", ["x", "y"], zero.sample_stats(["a", "a"], ["a", "b"]))
    rank1.score_rows("f1", other, "m", ["z", "w"], other.sample_stats(["b", "b"], ["b", "a"]))
    assert list(zero._cells) == [("a", "a"), ("b", "a")] and list(other._cells) == [("b", "b"), ("a", "b")]
    rank0.absorb_units({"f1": zero}, rank1.shard_units({"f1": other}))
    one = F1(average="macro")
    single.score_rows("f1", one, "m", ["x", "y", "z", "w"], one.sample_stats(["a", "a", "b", "b"], ["a", "b", "b", "a"]))
    assert rank0.intervals("f1", zero, "m") == single.intervals("f1", one, "m")
    for recorder in (rank0, rank1, single):
        recorder.close()


def test_a_rank_without_kept_states_leaves_no_per_sample_interval(tmp_path) -> None:
    metric = MAE()
    rank0 = SampleRecorder(tmp_path / "r0.jsonl", 100)
    rank0.score_rows("mae", metric, "m", ["a", "b"], metric.sample_stats([1.0, 2.0], [1.5, 2.0]))
    rank0.absorb_units({"mae": metric}, {("mae", "m"): None})
    assert rank0.intervals("mae", metric, "m") is None
    rank0.close()


def test_report_entries_add_counts_and_refuse_disagreement() -> None:
    a = {"store": {"encrypted": True, "records": 3, "key_id": "k1"}}
    assert merged_entries(a, {"store": {"encrypted": True, "records": 4, "key_id": "k1"}}) == {
        "store": {"encrypted": True, "records": 7, "key_id": "k1"}}
    with pytest.raises(IntegrityError, match="store.key_id"):
        merged_entries(a, {"store": {"encrypted": True, "records": 4, "key_id": "k2"}})


def test_placed_files_stay_inside_the_run_and_never_overwrite(tmp_path) -> None:
    (tmp_path / "records.jsonl").write_text("rank 0\n")
    place_files(tmp_path, {"records.jsonl": (b"rank 1\n", 0o644), "outputs/m/a.png": (b"png", 0o644)}, 1)
    assert (tmp_path / "records.jsonl").read_text() == "rank 0\nrank 1\n" and (tmp_path / "outputs/m/a.png").read_bytes() == b"png"
    place_files(tmp_path, {"outputs/m/a.png": (b"png", 0o644)}, 2)  # byte-equal (a store manifest): fine
    for bad in ("../escape.txt", "/etc/passwd"):
        with pytest.raises(IntegrityError, match="outside the run"):
            place_files(tmp_path, {bad: (b"x", 0o644)}, 1)
    with pytest.raises(IntegrityError, match="differently"):
        place_files(tmp_path, {"outputs/m/a.png": (b"other", 0o644)}, 1)
    assert not (tmp_path.parent / "escape.txt").exists()
