"""`mmeval export --format mlflow` and `mmeval run --mlflow`: a real MLflow file store in
tmp_path, read back through MlflowClient and compared with report.json exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmeval.report.mlflow_export import ARTIFACTS, PARAM_LIMIT, TRUNCATED, fit, mlflow_key, mlflow_record
from mmeval.report.signing import verify_run
from mmeval.runner import run
from tests.cli.test_cli import assert_one_line_error, mmeval

pytest.importorskip("mlflow", reason="needs mmeval[mlflow]")
from mlflow.tracking import MlflowClient  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def file_store(monkeypatch):
    """mlflow-skinny stores offline only in a file store (sqlite needs sqlalchemy and
    alembic), which MLflow 3 refuses unless asked for; subprocesses inherit this."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def store_uri(tmp_path: Path) -> str:
    return (tmp_path / "mlruns").as_uri()


def only_run(uri: str, experiment: str) -> Any:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def expected_metrics(report: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for r in report["results"]:
        if r["value"] is not None:
            metrics[f"{r['model']}/{r['key']}"] = r["value"]
            if r.get("ci_low") is not None:
                metrics[f"{r['model']}/{r['key']}_ci_low"] = r["ci_low"]
                metrics[f"{r['model']}/{r['key']}_ci_high"] = r["ci_high"]
    return metrics


def assert_matches_report(client: MlflowClient, logged: Any, run_dir: Path, tmp_path: Path) -> dict[str, Any]:
    report = json.loads((run_dir / "report.json").read_text())
    data = logged.data
    assert data.tags["mlflow.runName"] == f"{report['suite']['name']}-{report['run_id']}"
    assert data.tags["mmeval.run_id"] == report["run_id"] and data.tags["mmeval.status"] == report["status"]
    assert data.params["suite"] == report["suite"]["name"] and data.params["suite.sha256"] == report["suite"]["sha256"]
    assert data.params["seed"] == str(report["provenance"]["seed"]) and data.params["dataset.n"] == str(report["dataset"]["n"])
    for name, model in report["models"].items():
        assert data.params[f"model.{name}.use"] == model["use"]
    assert data.metrics == expected_metrics(report)  # exactly these keys, exactly these floats
    for r in report["results"]:
        assert data.tags[f"mmeval.fingerprint.{r['model']}/{r['key']}"] == r["fingerprint"]
    for check in report["thresholds"]:
        assert data.tags[f"threshold.{check['model']}/{check['metric']}"] == ("pass" if check["passed"] else "FAIL")
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert artifacts == {name for name in ARTIFACTS if (run_dir / name).is_file()}  # never store/ or outputs/
    fetched = Path(client.download_artifacts(logged.info.run_id, "report.json", str(tmp_path)))
    assert fetched.read_bytes() == (run_dir / "report.json").read_bytes()
    return report


def test_export_smoke_round_trips_through_mlflow(shipped_run, tmp_path):
    smoke = shipped_run("smoke").path
    uri = store_uri(tmp_path)
    proc = mmeval("export", str(smoke), "--format", "mlflow", "--tracking-uri", uri)
    assert proc.returncode == 0, proc.stderr
    client, logged = only_run(uri, "mmeval/smoke")
    report = assert_matches_report(client, logged, smoke, tmp_path)
    assert "language" not in logged.data.params and report["suite"]["language"] is None  # MLflow has no null
    assert logged.info.status == "FINISHED"
    assert not [k for k in logged.data.tags if k.startswith(("not_measured.", "mmeval.not_comparable."))]


def test_image_smoke_marks_not_comparable_results(shipped_run, tmp_path):
    image = shipped_run("image-smoke").path
    uri = store_uri(tmp_path)
    proc = mmeval("export", str(image), "--format", "mlflow", "--tracking-uri", uri, "--experiment", "images")
    assert proc.returncode == 0, proc.stderr
    client, logged = only_run(uri, "images")
    report = assert_matches_report(client, logged, image, tmp_path)
    marked = {f"mmeval.not_comparable.{r['model']}/{r['key']}": r["not_comparable"]
              for r in report["results"] if r.get("not_comparable")}
    assert marked and {k: v for k, v in logged.data.tags.items() if k.startswith("mmeval.not_comparable.")} == marked


def test_unmeasured_results_are_tags_never_metrics_and_overrides_are_params(tmp_path):
    from tests.test_suite import base_suite, write_suite

    metrics = [{"use": "accuracy"}, {"use": "f1", "args": {"average": "macro"}, "where": {"input": "no such input"}}]
    suite = write_suite(tmp_path, base_suite(metrics=metrics, language="en"))
    run_dir = run(suite, tmp_path / "run", progress=False, limit=3, overrides=["thresholds[0].min=0.9"]).run_dir
    report = json.loads((run_dir / "report.json").read_text())
    unmeasured = [r for r in report["results"] if r["value"] is None]
    assert unmeasured, "the f1 on no samples should have no value"
    uri = store_uri(tmp_path)
    assert mmeval("export", str(run_dir), "--format", "mlflow", "--tracking-uri", uri).returncode == 0
    _, logged = only_run(uri, "mmeval/t")
    for r in unmeasured:
        name = f"{r['model']}/{r['key']}"
        assert name not in logged.data.metrics and logged.data.tags[f"not_measured.{name}"] == r["note"]
    assert logged.data.params["override.thresholds_0_.min"] == "0.9"
    assert logged.data.params["dataset.partial"] == report["dataset"]["partial"]
    assert logged.data.params["language"] == "en"
    assert logged.data.tags["threshold.candidate/accuracy"] == ("pass" if report["thresholds"][0]["passed"] else "FAIL")


def test_tampered_run_exits_4_and_logs_nothing(shipped_run, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(shipped_run("smoke").path, tampered)
    report = json.loads((tampered / "report.json").read_text())
    report["results"][0]["value"] = 1.0
    (tampered / "report.json").write_text(json.dumps(report))
    proc = mmeval("export", str(tampered), "--format", "mlflow", "--tracking-uri", store_uri(tmp_path))
    assert_one_line_error(proc, 4, "report.json")
    assert not (tmp_path / "mlruns").exists()


def test_unwritable_tracking_uri_is_one_line_exit_2(shipped_run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = mmeval("export", str(shipped_run("smoke").path), "--format", "mlflow", "--tracking-uri", (blocker / "mlruns").as_uri())
    assert_one_line_error(proc, 2, "MLflow tracking URI")
    proc = mmeval("export", str(shipped_run("smoke").path), "--format", "mlflow")
    assert_one_line_error(proc, 2, "--tracking-uri")


def test_run_with_mlflow_end_to_end(tmp_path):
    uri = store_uri(tmp_path)
    proc = mmeval("run", str(REPO / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run"), "--quiet", "--mlflow", uri)
    assert proc.returncode == 0, proc.stderr
    client, logged = only_run(uri, "mmeval/smoke")
    assert_matches_report(client, logged, tmp_path / "run", tmp_path)


def test_run_with_broken_mlflow_keeps_the_run_and_says_how_to_export(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    uri = (blocker / "mlruns").as_uri()
    proc = mmeval("run", str(REPO / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run"), "--quiet", "--mlflow", uri)
    assert_one_line_error(proc, 2, f"the run is written and signed at {tmp_path / 'run'}")
    assert f"mmeval export {tmp_path / 'run'} --format mlflow --tracking-uri {uri}" in proc.stderr
    verify_run(tmp_path / "run")  # the run itself is whole


_MLFLOW_SAFE = st.text(st.characters(codec="utf-8"), max_size=60)


@given(_MLFLOW_SAFE)
def test_mlflow_key_is_always_a_key_mlflow_accepts(text):
    from mlflow.utils.validation import _validate_metric_name, _validate_tag_name

    key = mlflow_key(text)
    _validate_metric_name(key)  # raises MlflowException on a key MLflow refuses
    _validate_tag_name(key)
    assert mlflow_key(key) == key


@given(st.text(max_size=2 * PARAM_LIMIT))
def test_fit_keeps_short_values_and_says_when_it_cuts(text):
    fitted = fit(text, PARAM_LIMIT)
    assert len(fitted) <= PARAM_LIMIT
    assert fitted == text if len(text) <= PARAM_LIMIT else fitted.endswith(TRUNCATED)


def test_long_params_are_truncated_with_a_note():
    report = {"suite": {"name": "s", "sha256": "x", "overrides": [f"models.m.args.prompt={'p' * 900}"]},
              "run_id": "r", "status": "pass", "results": [], "models": {}}
    params = mlflow_record(report).params
    assert len(params["override.models.m.args.prompt"]) == PARAM_LIMIT and params["override.models.m.args.prompt"].endswith(TRUNCATED)


def test_run_refuses_a_store_mlflow_would_refuse_before_running(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    proc = mmeval("run", str(REPO / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run"), "--quiet",
                  "--mlflow", store_uri(tmp_path))
    assert_one_line_error(proc, 2, "MLFLOW_ALLOW_FILE_STORE=true")
    assert not (tmp_path / "run").exists() and not (tmp_path / "mlruns").exists()  # no run spent on it


def test_run_without_the_extra_says_how_to_install_it_before_running(tmp_path):
    import os
    import subprocess
    import sys

    blocked = ("import sys\nclass Block:\n    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] == 'mlflow':\n            raise ImportError(name)\n"
               "sys.meta_path.insert(0, Block())\nfrom mmeval.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", blocked, "run", str(REPO / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run"),
                           "--mlflow", store_uri(tmp_path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert_one_line_error(proc, 2, "pip install 'mmeval[mlflow]'")
    assert not (tmp_path / "run").exists()
