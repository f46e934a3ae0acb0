"""The command line contract: exit codes, one-line errors, no traceback, no half-written report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_suite import base_suite, write_suite


def mmeval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr


def test_help_is_fast():
    began = time.perf_counter()
    proc = mmeval("--help")
    elapsed = time.perf_counter() - began
    assert proc.returncode == 0 and "run" in proc.stdout
    assert elapsed < 1.5, f"mmeval --help took {elapsed:.2f}s; heavy imports must stay lazy"
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, mmeval.cli; mmeval.cli.build_parser(); print(sorted(m for m in ('torch', 'sklearn', 'sacrebleu', 'presidio_analyzer', 'transformers', 'pydantic') if m in sys.modules))"],
        capture_output=True, text=True,
    )
    assert heavy.stdout.strip() == "[]"


def test_version():
    proc = mmeval("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("mmeval ")


def test_list_names_every_builtin():
    proc = mmeval("list")
    assert proc.returncode == 0
    for name in ("accuracy", "f1", "bleu", "chrf", "mae", "replay", "python"):
        assert f"  {name}" in proc.stdout


def test_list_reads_docstrings_without_importing_torch():
    code = ("import sys; from mmeval.cli import main; main(['list']); "
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().endswith("no torch"), proc.stdout[-300:] + proc.stderr


def test_list_summaries_equal_the_imported_docstrings():
    from mmeval.registry import GATES, METRICS, MODELS

    for registry in (METRICS, MODELS, GATES):
        for name in registry.names():
            static = registry.summary(name)
            doc = (registry.get(name).__doc__ or "").strip()
            assert static == (doc.splitlines()[0] if doc else ""), name


def test_smoke_suite_passes(tmp_path, repo):
    proc = mmeval("run", str(repo / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["status"] == "pass" and report["format_version"] == 1
    assert {"name", "path", "sha256"} <= report["suite"].keys()
    assert {"mmeval_version", "python", "torch", "device", "seed", "started", "finished"} <= report["provenance"].keys()
    assert all({"model", "metric", "value", "n", "fingerprint"} <= r.keys() for r in report["results"])
    assert "candidate" in proc.stdout and "accuracy" in proc.stdout


def test_threshold_miss_exits_1_with_fail_status(tmp_path):
    outputs = [{"id": f"s{i}", "output": "b"} for i in range(4)]  # half right
    suite = base_suite(thresholds=[{"model": "candidate", "metric": "accuracy", "min": 0.9}])
    path = write_suite(tmp_path, suite, outputs=outputs)
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 1
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["status"] == "fail"
    assert report["thresholds"][0] == {"model": "candidate", "metric": "accuracy", "min": 0.9, "value": 0.5, "passed": False}
    assert "FAIL" in proc.stdout


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"metrics": [{"use": "acuracy"}]}, "unknown metric 'acuracy'; did you mean 'accuracy'?"),
        ({"dataset": {"path": "missing.jsonl"}}, "missing.jsonl"),
        ({"metrics": [{"use": "f1", "args": {"average": ["macro"]}}]}, "metrics[0].args.average"),
    ],
)
def test_bad_suites_exit_2(tmp_path, change, fragment):
    path = write_suite(tmp_path, base_suite(**change))
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, fragment)
    assert str(path) in proc.stderr
    assert not (tmp_path / "run").exists()


def test_malformed_yaml_exits_2(tmp_path):
    path = write_suite(tmp_path, "version: 1\nmodels: {a: [\n")
    assert_one_line_error(mmeval("run", str(path)), 2, "malformed YAML")


def test_replay_missing_ids_exits_2_naming_them(tmp_path):
    path = write_suite(tmp_path, base_suite(), outputs=[{"id": "s0", "output": "b"}, {"id": "s1", "output": "a"}])
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "no output for id 's2', 's3'")
    assert "out.jsonl" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_failure_mid_run_leaves_no_report(tmp_path):
    rows = [{"id": f"s{i}", "input": "x", "target": 1.0} for i in range(70)]
    outputs = [{"id": f"s{i}", "output": 1.0 if i < 60 else "oops"} for i in range(70)]
    suite = base_suite(metrics=[{"use": "mae"}], thresholds=[], batch_size=8)
    path = write_suite(tmp_path, suite, rows=rows, outputs=outputs)
    proc = mmeval("run", str(path), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "metric 'mae' on model 'candidate': output 'oops' is not a number")
    assert not (tmp_path / "run").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_usage_errors_are_one_line(tmp_path):
    assert_one_line_error(mmeval("run"), 2, "suite")
    assert_one_line_error(mmeval("frobnicate"), 2, "invalid choice")
    assert_one_line_error(mmeval("run", str(tmp_path / "nope.yaml")), 2, "suite file not found")


def test_debug_shows_traceback(tmp_path):
    proc = mmeval("--debug", "run", str(tmp_path / "nope.yaml"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr
