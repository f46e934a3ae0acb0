"""The Python API: `mmeval.run` (file, dict, Suite) and `mmeval.evaluate` (functions, rows,
metric objects), each a real run whose Report matches what the CLI's run writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import mmeval
from mmeval.cli import main as cli
from mmeval.errors import InputError
from mmeval.metrics.classification import Accuracy

REPO = Path(__file__).resolve().parent.parent


def _values(report: mmeval.Report) -> dict[tuple[str, str], float | None]:
    return {(r["model"], r["key"]): r["value"] for r in report.results if r.get("kind") != "efficiency"}


def test_run_a_suite_file_gives_the_runs_report(tmp_path, shipped_run) -> None:
    report = mmeval.run(REPO / "suites" / "smoke.yaml", tmp_path / "run")
    shipped = mmeval.Report(shipped_run("smoke").report, shipped_run("smoke").path)
    assert _values(report) == _values(shipped) and report.passed and report.status == "pass"
    assert report.value("candidate", "accuracy") == pytest.approx(11 / 12)
    with pytest.raises(KeyError, match="no result 'nope'"):
        report.value("candidate", "nope")
    assert "smoke" in report.html() and "smoke" in repr(report)
    frame = report.to_pandas()
    assert {"model", "key", "value", "n", "fingerprint"} <= set(frame.columns) and len(frame) == len(report.results)
    assert cli(["verify", str(tmp_path / "run")]) == 0


def test_run_a_suite_dict_equals_the_file(tmp_path, monkeypatch, shipped_run) -> None:
    spec = yaml.safe_load((REPO / "suites" / "smoke.yaml").read_text())
    monkeypatch.chdir(REPO / "suites")  # the dict's paths are relative to the working directory
    report = mmeval.run(spec, tmp_path / "run")
    assert _values(report) == _values(mmeval.Report(shipped_run("smoke").report, tmp_path))
    assert report.data["suite"]["sha256"] != shipped_run("smoke").report["suite"]["sha256"]  # the dict's own digest


def test_evaluate_a_function_with_names_dicts_and_metric_objects(tmp_path) -> None:
    rows = [{"input": "red cap", "target": "RED CAP"}, {"input": "blue", "target": "blue"}, {"input": "tea", "target": "TEA"}]
    seen = []

    def shout(prompts, seed):
        seen.append(seed)
        return [p.upper() for p in prompts]

    report = mmeval.evaluate(model=shout, data=rows, metrics=["exact_match", {"use": "chrf"}, Accuracy()],
                             thresholds=[{"metric": "exact_match", "min": 0.9}], out=tmp_path / "run", seed=7)
    assert seen == [7]
    assert report.value("candidate", "exact_match") == pytest.approx(2 / 3) and report.value("candidate", "accuracy") == pytest.approx(2 / 3)
    assert report.status == "fail" and not report.passed and "exact_match" in report.data["reason"]
    assert report.data["metrics"]["accuracy"]["use"] == "mmeval.metrics.classification:Accuracy"
    assert report.data["models"]["candidate"]["generated"] == 3
    assert cli(["verify", str(tmp_path / "run")]) == 0  # signed and intact, whatever its verdict


def test_evaluate_takes_a_dataframe_or_inputs_with_targets(tmp_path) -> None:
    import pandas

    frame = pandas.DataFrame({"id": ["a", "b"], "input": [1.0, 2.0], "target": [1.5, 2.0]})
    report = mmeval.evaluate(model=lambda xs: xs, data=frame, metrics=["mae"], out=tmp_path / "frame")
    assert report.value("candidate", "mae") == pytest.approx(0.25) and report.status == "ungated"
    report = mmeval.evaluate(model={"copy": lambda xs: xs}, data=[1.0, 2.0], targets=[1.5, 2.0], metrics=["mae"], out=tmp_path / "lists")
    assert report.value("copy", "mae") == pytest.approx(0.25)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": 3, "data": [{"input": "a", "target": "a"}]}, "neither a function nor an adapter"),
    ({"model": str.upper, "data": []}, "data is empty"),
    ({"model": str.upper, "data": ["a"]}, "expected a row"),
    ({"model": str.upper, "data": ["a", "b"], "targets": ["a"]}, "2 inputs but 1 targets"),
    ({"model": str.upper, "data": [{"input": object(), "target": "a"}]}, "not JSON"),
])
def test_evaluate_refuses_bad_input_in_one_line(tmp_path, kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        mmeval.evaluate(metrics=["exact_match"], out=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_import_mmeval_stays_light() -> None:
    done = subprocess.run([sys.executable, "-c", "import mmeval, sys; print('torch' in sys.modules, mmeval.__version__)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == "False"


def test_the_notebook_example_runs(tmp_path) -> None:
    import shutil

    shutil.copytree(REPO / "suites", tmp_path / "suites")
    done = subprocess.run([sys.executable, str(REPO / "examples" / "notebook.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "MMEVAL_CACHE_DIR": "off"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "passed: True" in done.stdout and "<mmeval Report 'titles': pass" in done.stdout
    assert len(list((tmp_path / "reports").glob("*/*/report.json"))) == 2
