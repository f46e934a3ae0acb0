"""Datasets from CSV, Parquet and saved Hugging Face folders, with column mapping and media
as bytes: each run must equal the same suite over the shipped JSONL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import mmeval
from mmeval.data import Dataset
from mmeval.errors import InputError

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "suites" / "data" / "smoke"
IMAGES = REPO / "suites" / "data" / "media-smoke"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _renamed(rows: list[dict]) -> list[dict]:
    """The smoke rows as a shop's export names them: sku, prompt, copy."""
    return [{"sku": r["id"], "prompt": r["input"], "copy": r["target"], "task": r["task"]} for r in rows]


def _values(report: mmeval.Report) -> dict:
    return {(r["model"], r["key"]): r["value"] for r in report.results if r.get("kind") != "efficiency"}


def _suite_with(tmp_path: Path, dataset: dict) -> Path:
    import yaml

    spec = yaml.safe_load((REPO / "suites" / "smoke.yaml").read_text())
    spec["dataset"] = dataset
    for model in spec["models"].values():
        model["args"]["path"] = str(SMOKE / Path(model["args"]["path"]).name)
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(spec))
    return suite


@pytest.fixture(scope="module")
def jsonl_values(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("jsonl")
    return _values(mmeval.run(_suite_with(tmp, {"path": str(SMOKE / "dataset.jsonl")}), tmp / "run"))


COLUMNS = {"id": "sku", "input": "prompt", "target": "copy"}


def test_csv_with_column_mapping_equals_jsonl(tmp_path, jsonl_values) -> None:
    rows = _renamed(_rows(SMOKE / "dataset.jsonl"))
    with (tmp_path / "export.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = mmeval.run(_suite_with(tmp_path, {"path": "export.csv", "columns": COLUMNS}), tmp_path / "run")
    assert _values(report) == jsonl_values


TEXT_TASKS = ("accuracy", "f1", "bleu", "chrf")


def _text_values(values: dict) -> dict:
    return {k: v for k, v in values.items() if k[1] in TEXT_TASKS}


def test_parquet_with_column_mapping_equals_jsonl(tmp_path, jsonl_values) -> None:
    """A Parquet column has one type, so the text tasks' rows (the price rows' targets are numbers)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [r for r in _renamed(_rows(SMOKE / "dataset.jsonl")) if r["task"] != "price"]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "export.parquet", row_group_size=7)  # several record batches
    report = mmeval.run(_suite_with(tmp_path, {"path": "export.parquet", "columns": COLUMNS}), tmp_path / "run")
    assert _text_values(_values(report)) == _text_values(jsonl_values) and len(_text_values(jsonl_values)) == 8


def test_saved_hugging_face_dataset_with_splits(tmp_path, jsonl_values) -> None:
    import datasets

    rows = [r for r in _renamed(_rows(SMOKE / "dataset.jsonl")) if r["task"] != "price"]
    split = datasets.Dataset.from_list(rows)
    datasets.DatasetDict({"test": split, "train": split.select(range(3))}).save_to_disk(str(tmp_path / "hf"))
    with pytest.raises(InputError, match="splits test, train; set dataset.split"):
        Dataset(tmp_path / "hf", columns=COLUMNS)
    report = mmeval.run(_suite_with(tmp_path, {"path": "hf", "columns": COLUMNS, "split": "test"}), tmp_path / "run")
    assert _text_values(_values(report)) == _text_values(jsonl_values)


def _image_rows() -> list[dict]:
    return [{"id": r["id"], "input": r["input"], "target": (IMAGES / r["target"]).resolve()} for r in _rows(IMAGES / "image.jsonl")]


def _image_suite(tmp_path: Path, dataset: dict) -> Path:
    import yaml

    spec = {"version": 1, "name": "bytes", "batch_size": 8, "dataset": dataset,
            "models": {"candidate": {"use": "replay", "args": {"path": str(IMAGES / "image" / "candidate.jsonl")}}},
            "metrics": [{"use": "ssim"}, {"use": "psnr"}]}
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(spec))
    return suite


def test_media_as_bytes_in_parquet_and_hf_equal_media_as_paths(tmp_path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _image_rows()
    paths = _values(mmeval.run(_image_suite(tmp_path, {"path": str(IMAGES / "image.jsonl")}), tmp_path / "paths"))
    pq.write_table(pa.Table.from_pylist([{**r, "target": r["target"].read_bytes()} for r in rows]), tmp_path / "images.parquet")
    in_parquet = _values(mmeval.run(_image_suite(tmp_path, {"path": "images.parquet"}), tmp_path / "parquet"))
    hf = datasets.Dataset.from_dict({"id": [r["id"] for r in rows], "input": [r["input"] for r in rows],
                                     "target": [str(r["target"]) for r in rows]}).cast_column("target", datasets.Image())
    hf.save_to_disk(str(tmp_path / "hf"))
    in_hf = _values(mmeval.run(_image_suite(tmp_path, {"path": "hf"}), tmp_path / "hf-run"))
    assert paths == in_parquet == in_hf and len(paths) == 2


def test_csv_cells_are_text_unless_plain_numbers(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("id,input,target\n007,0.5,-2e3\n008,007,x\n", encoding="utf-8")
    samples = list(Dataset(tmp_path / "d.csv"))
    assert [(s.id, s.input, s.target) for s in samples] == [("007", 0.5, -2000.0), ("008", "007", "x")]


@pytest.mark.parametrize(("name", "text", "kwargs", "message"), [
    ("d.csv", "sku,prompt\na,b\n", {"columns": {"id": "sku", "input": "prompt", "target": "copy"}}, "no column 'copy' \\(dataset.columns.target\\)"),
    ("d.tsv", "id\tinput\n", {}, "cannot tell the dataset format"),
    ("d.csv", "id,input\na,b,c\n", {}, "more cells than the header"),
    ("d.parquet", "not parquet", {}, "not a readable Parquet file"),
])
def test_bad_sources_fail_in_one_line(tmp_path, name, text, kwargs, message) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        Dataset(tmp_path / name, **kwargs)


def test_bytes_that_are_not_media_are_refused(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"id": "a", "input": "x", "target": b"GIF89a..."}]), tmp_path / "d.parquet")
    with pytest.raises(InputError, match="a-target: bytes that are not PNG, JPEG or WAV"):
        list(Dataset(tmp_path / "d.parquet"))
