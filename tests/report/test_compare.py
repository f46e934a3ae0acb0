"""`mmeval compare`: a planted regression is caught, seed noise is not, fingerprints must match."""

from __future__ import annotations

import json

import pytest
import yaml

from mmeval.cli.compare import compare_runs
from mmeval.report.records import read_records
from mmeval.runner import run
from tests.cli.test_cli import mmeval

NOISY_MODEL = '''
import random

def classify(inputs, seed, flip=0.1):
    """The true label with probability 1 - flip; a seeded, per-input coin."""
    out = []
    for text in inputs:
        label, _, idx = text.partition("|")
        coin = random.Random(f"{seed}:{idx}").random()
        out.append(label if coin >= flip else ("b" if label == "a" else "a"))
    return out
'''


def make_run(tmp_path, name: str, *, seed: int, flip: float, metric: dict | None = None, n: int = 400):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "noisy_model.py").write_text(NOISY_MODEL)
    rows = [{"id": f"s{i}", "input": f"{'ab'[i % 2]}|{i}", "target": "ab"[i % 2]} for i in range(n)]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {
        "version": 1, "name": "cmp", "seed": seed, "dataset": {"path": "data.jsonl"},
        "models": {"candidate": {"use": "python", "args": {"callable": "noisy_model:classify", "options": {"flip": flip}}}},
        "metrics": [metric or {"use": "accuracy"}],
        "bootstrap": {"resamples": 200},
    }
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    import sys

    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("noisy_model", None)
        return run(folder / "suite.yaml", folder / "run", progress=False).run_dir
    finally:
        sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    return {
        "base": make_run(tmp, "base", seed=0, flip=0.1),
        "reseeded": make_run(tmp, "reseeded", seed=1, flip=0.1),
        "worse": make_run(tmp, "worse", seed=2, flip=0.3),
    }


def test_records_trace_every_sample(runs):
    records = read_records(runs["base"])
    assert len(records) == 400 and {r["model"] for r in records} == {"candidate"}
    report = json.loads((runs["base"] / "report.json").read_text())
    mean = sum(r["metrics"]["accuracy"] for r in records) / len(records)
    result = report["results"][0]
    assert result["value"] == pytest.approx(mean)
    assert result["ci_low"] < result["value"] < result["ci_high"]
    assert all(len(r["output_sha256"]) == 64 and r["preview"] in ("a", "b") for r in records)


def test_planted_regression_is_detected(runs):
    rows = compare_runs(runs["base"], runs["worse"])
    (row,) = rows
    assert row["delta"] == pytest.approx(row["candidate"] - row["baseline"])
    assert row["delta"] < -0.1 and row["ci_high"] < 0 and row["regression"]
    proc = mmeval("compare", str(runs["base"]), str(runs["worse"]), "--fail-on-regression", "--min-effect", "0.02")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION" in proc.stdout
    # Without --fail-on-regression it reports but does not fail; a large min effect waives it.
    assert mmeval("compare", str(runs["base"]), str(runs["worse"])).returncode == 0
    assert mmeval("compare", str(runs["base"]), str(runs["worse"]), "--fail-on-regression", "--min-effect", "0.5").returncode == 0


def test_same_model_other_seed_is_not_flagged(runs):
    (row,) = compare_runs(runs["base"], runs["reseeded"])
    assert row["delta"] != 0  # the seeds do change outputs
    assert row["ci_low"] <= 0 <= row["ci_high"] and not row["regression"]
    proc = mmeval("compare", str(runs["base"]), str(runs["reseeded"]), "--fail-on-regression", "--min-effect", "0.02")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lower_is_better_direction(tmp_path):
    # Marked lower-is-better, a rise in the value is the regression.
    base, worse = (make_run(tmp_path, name, seed=seed, flip=flip, n=200) for name, seed, flip in (("b", 0, 0.05), ("w", 1, 0.4)))
    for d in (base, worse):
        report = json.loads((d / "report.json").read_text())
        for r in report["results"]:
            r["higher_is_better"] = False
        (d / "report.json").write_text(json.dumps(report))
    (row,) = compare_runs(worse, base)  # "candidate" = base has higher accuracy = worse under lower-is-better
    assert row["delta"] > 0 and row["regression"]


def test_different_fingerprints_refuse(runs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    report = json.loads((runs["base"] / "report.json").read_text())
    report["results"][0]["fingerprint"] = "accuracy|impl:other"
    (other / "report.json").write_text(json.dumps(report))
    proc = mmeval("compare", str(runs["base"]), str(other))
    assert proc.returncode == 2 and "fingerprints differ" in proc.stderr and "impl:other" in proc.stderr


def test_a_changed_adapter_is_noted_not_hidden(runs, tmp_path):
    report = json.loads((runs["base"] / "report.json").read_text())
    for name, digest in (("base", "a" * 64), ("other", "b" * 64)):
        folder = tmp_path / name
        folder.mkdir()
        report["models"]["candidate"]["adapter_sha256"] = digest
        (folder / "report.json").write_text(json.dumps(report))
    rows = compare_runs(tmp_path / "base", tmp_path / "other", resamples=200)
    assert rows and all(r["adapter_changed"] for r in rows)
    proc = mmeval("compare", str(tmp_path / "base"), str(tmp_path / "other"))
    assert proc.returncode == 0 and "note: candidate ran with a different adapter fingerprint" in proc.stdout
    assert not any(r.get("adapter_changed") for r in compare_runs(tmp_path / "base", tmp_path / "base", resamples=200))


def test_reports_carry_the_digest_of_each_adapter_fingerprint(repo, tmp_path):
    import hashlib

    from mmeval.suite import load_suite

    rows = [{"id": f"s{i}", "input": "Red wool hat | $12.00 | Description:", "target": "A red hat."} for i in range(2)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {"version": 1, "name": "fp", "dataset": {"path": "data.jsonl"}, "metrics": [{"use": "chrf"}],
             "models": {"ref": {"use": "reference", "args": {"name": "text", "root": str(repo / "reference_models")}}}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = run(tmp_path / "suite.yaml", tmp_path / "run", progress=False).report
    expected = hashlib.sha256(load_suite(tmp_path / "suite.yaml").models["ref"].fingerprint().encode()).hexdigest()
    assert report["models"]["ref"]["adapter_sha256"] == expected
