"""Issue 12 items 4-7 and 12: a suite that is wrong fails at load, before any model runs;
a plugin's sys.exit is a failed run; degenerate sets never pass.

Each case drives the real CLI in a subprocess and checks the exit code, one `error:` line,
no traceback and no run folder written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_suite import base_suite, write_suite

ENV_KEYS = ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_KEYRING")


def mmeval(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(MMEVAL_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def assert_config_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def run_and_expect_error(tmp_path: Path, suite: dict | str, *needles: str, rows=None, outputs=None) -> None:
    path = write_suite(tmp_path, suite, rows=rows, outputs=outputs)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_config_error(mmeval(tmp_path, "run", str(path), "--out", str(tmp_path / "run"), "--quiet"), *needles)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == [b for b in before if b != "cache"]


# Item 5: duplicate YAML keys.
def test_duplicate_thresholds_key_names_both_lines(tmp_path):
    text = yaml.safe_dump(base_suite(), sort_keys=False)
    text += "thresholds:\n  - {model: candidate, metric: f1, min: 0.1}\n"
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("thresholds:"))
    last = len(text.splitlines()) - 1
    run_and_expect_error(tmp_path, text, "duplicate key 'thresholds'", f":{last}:", f"line {first}")


def test_duplicate_model_name_is_refused(tmp_path):
    text = (
        "version: 1\nname: t\ndataset: {path: data.jsonl}\nmodels:\n"
        "  candidate: {use: replay, args: {path: out.jsonl}}\n"
        "  candidate: {use: replay, args: {path: out.jsonl}}\n"
        "metrics: [{use: accuracy}]\nthresholds: [{model: candidate, metric: accuracy, min: 0.5}]\n"
    )
    run_and_expect_error(tmp_path, text, "duplicate key 'candidate'", "line 5")


def test_alias_bomb_is_refused_quickly(tmp_path):
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = yaml.safe_dump(base_suite(), sort_keys=False) + "description:\n" + "\n".join("  " + line for line in levels) + "\n"
    run_and_expect_error(tmp_path, text, "aliases expand")


# Item 6: names the suite lacks are config errors at load, with a did-you-mean.
@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"thresholds": [{"model": "candidat", "metric": "accuracy", "min": 0.5}]}, ("thresholds[0].model", "did you mean 'candidate'")),
        ({"thresholds": [{"model": "candidate", "metric": "acuracy", "min": 0.5}]}, ("thresholds[0].metric", "did you mean 'accuracy'")),
        ({"thresholds": [{"model": "candidate", "metric": "accuracy_std", "min": 0.5}]}, ("thresholds[0].metric", "'accuracy_std'")),
        ({"metrics": [{"use": "accuracy", "against": "refrence"}], "thresholds": []}, ("metrics[0].against", "unknown model 'refrence'")),
        ({"metrics": [{"use": "accuracy", "models": ["candidatee"]}], "thresholds": []}, ("metrics[0].models", "did you mean 'candidate'")),
        # replay runs no model, so it has no efficiency figures to gate
        ({"thresholds": [{"model": "candidate", "metric": "latency_p95_s", "max": 1.0}]}, ("thresholds[0].metric", "latency_p95_s")),
    ],
)
def test_unknown_references_fail_at_load(tmp_path, change, needles):
    run_and_expect_error(tmp_path, base_suite(**change), *needles)


def test_threshold_on_model_a_metric_skips(tmp_path):
    suite = base_suite(
        models={"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}, "other": {"use": "replay", "args": {"path": "out.jsonl"}}},
        metrics=[{"use": "accuracy", "models": ["candidate"]}],
        thresholds=[{"model": "other", "metric": "accuracy", "min": 0.5}],
    )
    run_and_expect_error(tmp_path, suite, "model 'other' reports no 'accuracy'")


def test_reference_errors_come_before_models_are_built(tmp_path):
    # The callable does not exist: building the model would fail first if names came second.
    suite = base_suite(models={"candidate": {"use": "python", "args": {"callable": "no_such_module:fn"}}},
                       thresholds=[{"model": "candidat", "metric": "accuracy", "min": 0.5}])
    run_and_expect_error(tmp_path, suite, "thresholds[0].model")


# Item 12: thresholds on efficiency results of models that run are accepted.
def test_efficiency_threshold_is_accepted_and_checked(tmp_path):
    (tmp_path / "fastmodel.py").write_text("def generate(inputs):\n    return ['a' for _ in inputs]\n")
    suite = base_suite(
        models={"candidate": {"use": "python", "args": {"callable": "fastmodel:generate"}}},
        metrics=[{"use": "accuracy"}],
        thresholds=[{"model": "candidate", "metric": "latency_p95_s", "max": 60.0}],
    )
    path = write_suite(tmp_path, suite)
    env_path = tmp_path  # the callable's module is found from the working directory
    proc = mmeval(env_path, "run", str(path), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    check = report["thresholds"][0]
    assert check["metric"] == "latency_p95_s" and check["passed"] and isinstance(check["value"], float)


# Item 4: an exit from inside a model is a failed run.
@pytest.mark.parametrize("code", ["0", "None", "'done'"])
def test_model_calling_sys_exit_fails_the_run(tmp_path, code):
    (tmp_path / "quitter.py").write_text(f"import sys\n\ndef generate(inputs):\n    sys.exit({code})\n")
    suite = base_suite(models={"candidate": {"use": "python", "args": {"callable": "quitter:generate"}}})
    run_and_expect_error(tmp_path, suite, "sys.exit(", "no report was written")


# Item 7: degenerate sets never pass.
def test_where_matching_nothing_is_no_samples_and_fails_its_threshold(tmp_path):
    suite = base_suite(metrics=[{"use": "accuracy", "where": {"task": "nothing"}}],
                       thresholds=[{"model": "candidate", "metric": "accuracy", "min": 0.0}])
    path = write_suite(tmp_path, suite)
    proc = mmeval(tmp_path, "run", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    result = report["results"][0]
    assert result["value"] is None and result["n"] == 0 and result["note"].startswith("no samples")
    assert report["status"] == "fail" and not report["thresholds"][0]["passed"]
    assert "no samples" in report["reason"] and "no samples" in proc.stdout


def test_psnr_of_identical_images_is_plus_infinity_and_passes(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    rows, outputs = [], []
    for i in range(3):
        name = f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / name)
        rows.append({"id": f"s{i}", "input": "x", "target": name})
        outputs.append({"id": f"s{i}", "output": name})
    suite = base_suite(metrics=[{"use": "psnr"}], thresholds=[{"model": "candidate", "metric": "psnr", "min": 40.0}])
    path = write_suite(tmp_path, suite, rows=rows, outputs=outputs)
    proc = mmeval(tmp_path, "run", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    result = next(r for r in report["results"] if r["key"] == "psnr")
    assert result["value"] is None and result["nonfinite"] == "+inf"
    assert report["thresholds"][0]["passed"] and report["thresholds"][0]["nonfinite"] == "+inf"
    assert "inf" in proc.stdout


def test_set_level_metric_on_one_sample_is_not_measured(tmp_path):
    rows = [{"id": "s0", "input": "x", "target": "a b c"}]
    outputs = [{"id": "s0", "output": "a b c d"}]
    suite = base_suite(metrics=[{"use": "self_bleu"}], thresholds=[{"model": "candidate", "metric": "self_bleu", "max": 100.0}])
    path = write_suite(tmp_path, suite, rows=rows, outputs=outputs)
    proc = mmeval(tmp_path, "run", str(path), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    result = report["results"][0]
    assert result["value"] is None and "needs at least 2 samples, got 1" in result["note"]
    assert not report["thresholds"][0]["passed"]
