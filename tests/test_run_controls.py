"""`--limit`, `--set`, `--device` and `mmeval validate`, through the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmeval.errors import SpecError
from mmeval.overrides import apply_overrides
from mmeval.security.auditlog import AuditLog

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "suites" / "smoke.yaml"


def mmeval(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MMEVAL_CACHE_DIR": "off", "MMEVAL_AUDIT_LOG": str(tmp_path / "audit.log")}
    env.pop("MMEVAL_DEVICE", None)
    done = subprocess.run([sys.executable, "-m", "mmeval", *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done


def one_error(done: subprocess.CompletedProcess, needle: str, code: int = 2) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], done.stderr


def report(run: Path) -> dict:
    return json.loads((run / "report.json").read_text())


def test_limit_runs_a_seeded_subset_marked_partial_everywhere(tmp_path) -> None:
    for name in ("a", "b"):
        assert mmeval(tmp_path, "run", SMOKE, "--limit", "12", "--out", name, "--quiet").returncode in (0, 1)
    first, second = report(tmp_path / "a"), report(tmp_path / "b")
    assert first["dataset"]["n"] == 12 and first["dataset"]["of"] == 30 and "12 of 30" in first["dataset"]["partial"]
    ids = lambda run: sorted({json.loads(line)["id"] for line in (run / "records.jsonl").read_text().splitlines()})  # noqa: E731
    assert ids(tmp_path / "a") == ids(tmp_path / "b") and len(ids(tmp_path / "a")) == 12  # the same seed, the same subset
    assert "**Partial:** 12 of 30" in (tmp_path / "a" / "report.md").read_text()
    assert 'class="caveat">partial: 12 of 30' in (tmp_path / "a" / "report.html").read_text()
    if first["status"] == "pass":
        one_error(mmeval(tmp_path, "signoff", "a"), "the run is partial", code=1)
    one_error(mmeval(tmp_path, "run", SMOKE, "--limit", "0"), "at least 1")


def test_set_overrides_a_value_and_is_recorded(tmp_path) -> None:
    done = mmeval(tmp_path, "run", SMOKE, "--set", "thresholds[0].min=0.95", "--out", "run", "--quiet")
    assert done.returncode == 1  # accuracy 0.917 no longer passes
    run = report(tmp_path / "run")
    assert run["suite"]["overrides"] == ["thresholds[0].min=0.95"] and run["thresholds"][0]["min"] == 0.95
    assert run["suite"]["sha256"] == hashlib.sha256(SMOKE.read_bytes()).hexdigest()  # the file's own
    assert "overrides (--set): thresholds[0].min=0.95" in mmeval(tmp_path, "run", SMOKE, "--set", "thresholds[0].min=0.95",
                                                                 "--out", "again").stdout
    starts = [e for e in AuditLog(tmp_path / "audit.log").entries() if e["event"] == "run-start"]
    assert starts[0]["overrides"] == ["thresholds[0].min=0.95"]
    one_error(mmeval(tmp_path, "run", SMOKE, "--set", "models.nobody.args.x=1"), "has no models.nobody")
    one_error(mmeval(tmp_path, "run", SMOKE, "--set", "seed"), "expected KEY=VALUE")
    one_error(mmeval(tmp_path, "run", SMOKE, "--set", "seed=-1"), "seed")  # the schema still checks what --set wrote


def test_set_is_outside_a_pinned_grant_and_never_signed_off(tmp_path) -> None:
    """A runner pinned to the suite file's sha256 may run that file, not the file changed by
    --set (which could drop a threshold); and no one signs off a run whose suite was changed."""
    from mmeval.security.policy import os_user

    pinned = hashlib.sha256(SMOKE.read_bytes()).hexdigest()
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"roles:\n  runner: [{{action: run, suite_sha256: {pinned}}}]\n  releaser: [run, read-report, sign-off]\n"
                      f"principals:\n  {os_user()}: [runner]\n")
    assert mmeval(tmp_path, "run", SMOKE, "--policy", policy, "--out", "plain", "--quiet").returncode == 0
    one_error(mmeval(tmp_path, "run", SMOKE, "--policy", policy, "--set", "thresholds=[]", "--out", "loose"),
              "does not cover it", code=3)
    assert not (tmp_path / "loose").exists()
    denied = [e for e in AuditLog(tmp_path / "audit.log").entries() if e.get("decision") == "deny"]
    assert denied[-1]["overrides"] == ["thresholds=[]"] and denied[-1]["suite_file_sha256"] == pinned
    policy.write_text(f"roles:\n  releaser: [run, read-report, sign-off]\nprincipals:\n  {os_user()}: [releaser]\n")
    assert mmeval(tmp_path, "run", SMOKE, "--policy", policy, "--set", "thresholds[0].min=0.5", "--out", "changed", "--quiet").returncode == 0
    one_error(mmeval(tmp_path, "signoff", "changed", "--policy", policy), "changed the suite with --set", code=1)


def test_apply_overrides_paths_and_values() -> None:
    raw = {"seed": 0, "models": {"c": {"use": "x"}}, "metrics": [{"use": "a"}, {"use": "f1", "args": {"average": "macro"}}]}
    apply_overrides(raw, ["models.c.args.temperature=0.7", "metrics[1].args.average=micro", "seed=3", "models.c.args.tags=[a, b]",
                          'models.c.args.name="0.7"'], "s.yaml")
    assert raw == {"seed": 3, "models": {"c": {"use": "x", "args": {"temperature": 0.7, "tags": ["a", "b"], "name": "0.7"}}},
                   "metrics": [{"use": "a"}, {"use": "f1", "args": {"average": "micro"}}]}
    for bad, message in (("metrics[5].use=x", "has no metrics\\[5\\]"), ("a..b=1", "not a key path"), ("seed.x=1", "cannot set 'x'")):
        with pytest.raises(SpecError, match=message):
            apply_overrides(raw, [bad], "s.yaml")


def test_device(tmp_path) -> None:
    assert mmeval(tmp_path, "run", SMOKE, "--device", "cpu", "--out", "run", "--quiet").returncode == 0
    assert report(tmp_path / "run")["provenance"]["device"] == "cpu"
    one_error(mmeval(tmp_path, "run", SMOKE, "--device", "tpu"), "expected cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        one_error(mmeval(tmp_path, "run", SMOKE, "--device", "cuda:0"), "0 CUDA device(s)")


def test_validate_checks_everything_and_runs_nothing(tmp_path) -> None:
    for suite in ("smoke", "image-smoke", "ecommerce-image"):
        done = mmeval(tmp_path, "validate", REPO / "suites" / f"{suite}.yaml")
        assert done.returncode == 0 and done.stdout.startswith(f"ok: suite {suite}:") and "nothing was run" in done.stdout
    checked = json.loads(mmeval(tmp_path, "validate", REPO / "suites" / "image-smoke.yaml", "--json").stdout)
    assert checked["ok"] and checked["samples"] == 16 and checked["media_files"] == 16 and "fid" in checked["metrics"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.log", "audit.log.head"]  # the access events; no run, no cache


def test_validate_stops_at_the_first_problem(tmp_path) -> None:
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    image = tmp_path / "suites" / "data" / "ecommerce" / "images" / "p0003.png"
    image.unlink()
    one_error(mmeval(tmp_path, "validate", tmp_path / "suites" / "image-smoke.yaml"), "p0003.png' not found")
    outputs = tmp_path / "suites" / "data" / "smoke" / "candidate.jsonl"
    outputs.write_text("".join(line + "\n" for line in outputs.read_text().splitlines()[1:]))
    one_error(mmeval(tmp_path, "validate", tmp_path / "suites" / "smoke.yaml"), "no output for id")
    one_error(mmeval(tmp_path, "validate", tmp_path / "suites" / "smoke.yaml", "--set", "metrics[0].use=acurracy"), "did you mean 'accuracy'")
