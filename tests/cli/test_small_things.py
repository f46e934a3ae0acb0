"""Small things users hit (issue #17): `watermark detect marked/*`, model-index tasks and
datasets, plugins that reuse a built-in name, `mmeval list --json`."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.test_cli import assert_one_line_error, mmeval
from tests.provenance.conftest import product_png, spot_wav
from tests.test_suite import base_suite, write_suite

REPO = Path(__file__).resolve().parents[2]


# --- watermark detect marked/* -------------------------------------------------------------

@pytest.fixture
def marked(tmp_path, isolated_keyring) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "shoe.png").write_bytes(product_png(3))
    (src / "jingle.wav").write_bytes(spot_wav(4))
    proc = mmeval("watermark", "embed", str(src / "shoe.png"), str(src / "jingle.wav"), "--out", str(tmp_path / "marked"))
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "marked"


def test_detect_on_a_glob_of_embed_output_skips_the_manifests(marked):
    files = sorted(glob.glob(str(marked / "*")))  # what the shell makes of marked/* (no dot files)
    assert sum(f.endswith(".manifest.json") for f in files) == 2
    proc = mmeval("watermark", "detect", *files, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(Path(r["file"]).name for r in rows) == ["jingle.wav", "shoe.png"]
    assert all(r["detected"] for r in rows)
    assert proc.stderr.strip().splitlines() == ["note: skipped 2 manifest file(s) (.manifest.json)"]


def test_detect_still_refuses_other_files_before_printing_anything(marked, tmp_path):
    (tmp_path / "notes.md").write_text("not media")
    proc = mmeval("watermark", "detect", str(marked / "shoe.png"), str(tmp_path / "notes.md"))
    assert_one_line_error(proc, 2, "notes.md: unsupported file type")
    assert proc.stdout == ""
    only_manifests = mmeval("watermark", "detect", str(marked / "shoe.png.manifest.json"))
    assert_one_line_error(only_manifests, 2, "only manifests given (1)")


# --- export --format model-index -----------------------------------------------------------

def _export(run_dir: Path, *extra: str) -> tuple[list[dict], str]:
    proc = mmeval("export", str(run_dir), *extra)
    assert proc.returncode == 0, proc.stderr
    front_matter = yaml.safe_load(proc.stdout.strip("-\n"))
    return (front_matter or {}).get("model-index", []), proc.stderr


def test_model_index_has_one_result_per_task_and_no_made_up_dataset(shipped_run):
    smoke = shipped_run("smoke")  # sentiment accuracy/f1, price mae/rmse, description bleu/chrf
    index, stderr = _export(smoke.path)
    assert [e["name"] for e in index] == ["candidate", "baseline"]
    for entry in index:
        tasks = {res["task"]["type"]: sorted(m["type"] for m in res["metrics"]) for res in entry["results"]}
        assert tasks == {"text-classification": ["accuracy", "f1"], "tabular-regression": ["mae", "rmse"],
                         "text-generation": ["bleu", "chrf"]}
        assert all("dataset" not in res for res in entry["results"])
    assert "--dataset-id" in stderr and len(stderr.strip().splitlines()) == 1
    values = {(e["name"], m["name"]): m["value"] for e in index for res in e["results"] for m in res["metrics"]}
    assert values == {(r["model"], r["key"]): r["value"] for r in smoke.report["results"] if r["value"] is not None}


def test_model_index_with_a_dataset_id_loads_into_huggingface_hub(shipped_run, tmp_path):
    from huggingface_hub import ModelCardData

    out = tmp_path / "card.yaml"
    _, stderr = _export(shipped_run("smoke").path, "--model", "candidate", "--dataset-id", "acme/reviews", "--out", str(out))
    assert stderr == ""
    card = ModelCardData(**yaml.safe_load(out.read_text().strip("-\n")))  # the Hub's own parser and validation
    assert card.model_name == "candidate"
    assert {r.dataset_type for r in card.eval_results} == {"acme/reviews"}
    assert {(r.task_type, r.metric_type) for r in card.eval_results} >= {("text-classification", "accuracy"),
                                                                        ("text-generation", "chrf")}


def test_image_and_audio_metrics_map_to_their_generation_tasks():
    from mmeval.cli.export import model_index

    report = {"run_id": "r", "suite": {"name": "s"},
              "metrics": {"fid_256": {"use": "fid"}, "kid": {"use": "kid"}, "fad": {"use": "fad"}, "mine": {"use": "mine"}},
              "results": [{"model": "gen", "metric": label, "key": label, "value": 1.0, "n": 4, "fingerprint": label}
                          for label in ("fid_256", "kid", "fad", "mine")]
              + [{"model": "gen", "metric": "latency_p95_s", "key": "latency_p95_s", "value": 0.1, "n": 4,
                  "fingerprint": "e", "kind": "efficiency"}]}
    results = model_index(report)["model-index"][0]["results"]
    assert {r["task"]["type"]: [m["type"] for m in r["metrics"]] for r in results} == {
        "text-to-image": ["fid", "kid"], "text-to-audio": ["fad"], "other": ["mine"]}


# --- plugins from entry points ---------------------------------------------------------------

PLUGIN_MODULE = '''
class FakeAccuracy:
    """A plugin that tries to take over `accuracy`."""

    def __init__(self):
        raise RuntimeError("the shadowing plugin was built")


class WordCount:
    """Mean number of words per output.

    More text here that `mmeval list` does not show.
    """
'''


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """A folder on PYTHONPATH holding an installed-looking distribution with two metric
    entry points, one of them named like a built-in (importlib.metadata reads dist-info)."""
    site = tmp_path / "site"
    info = site / "acme_metrics-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-metrics\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[mmeval.metrics]\naccuracy = acme_metrics_mod:FakeAccuracy\nword_count = acme_metrics_mod:WordCount\n")
    (site / "acme_metrics_mod.py").write_text(PLUGIN_MODULE)
    return site


def mmeval_with(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])})


def test_list_json_marks_the_builtin_winner_and_the_shadowed_entry_point(plugin_site):
    proc = mmeval_with(plugin_site, "list", "metrics", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert all(set(r) == {"kind", "name", "source", "doc", "active"} and r["kind"] == "metric" for r in rows)
    accuracy = [r for r in rows if r["name"] == "accuracy"]
    assert [(r["source"], r["active"]) for r in accuracy] == [("builtin", True), ("entry-point:acme-metrics", False)]
    assert accuracy[1]["doc"] == "A plugin that tries to take over `accuracy`."
    (word_count,) = [r for r in rows if r["name"] == "word_count"]
    assert word_count == {"kind": "metric", "name": "word_count", "source": "entry-point:acme-metrics",
                          "doc": "Mean number of words per output.", "active": True}
    warning = proc.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: entry point accuracy = acme_metrics_mod:FakeAccuracy")
    assert "builtin metric 'accuracy'" in warning[0]


def test_list_text_tags_both_and_shows_the_entry_points_docstring(plugin_site):
    proc = mmeval_with(plugin_site, "list", "metrics")
    assert proc.returncode == 0, proc.stderr
    lines = [line.split(None, 1) for line in proc.stdout.splitlines()[1:]]
    accuracy = [rest for name, rest in lines if name == "accuracy"]
    assert accuracy[0].startswith("[wins over an entry point below] Fraction of outputs")
    assert accuracy[1].startswith("[shadowed: entry-point:acme-metrics acme_metrics_mod:FakeAccuracy; the builtin one runs]")
    assert dict(lines)["word_count"] == "[entry-point:acme-metrics] Mean number of words per output."


def test_a_run_uses_the_builtin_and_warns_once(plugin_site, tmp_path):
    suite = write_suite(tmp_path, base_suite())
    proc = mmeval_with(plugin_site, "run", str(suite), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 0, proc.stderr  # FakeAccuracy raises when built
    warnings = [line for line in proc.stderr.splitlines() if "acme_metrics_mod:FakeAccuracy" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: entry point accuracy"), proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["metrics"]["accuracy"]["use"] == "accuracy" and report["status"] == "pass"
