"""Sample-level resume: repeated, crashed and SIGKILLed runs give the clean run's values.

Resume, not memoisation: a run after a completed one generates again; only a run that
did not complete (or `reuse_outputs=True`) takes outputs from the cache."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mmeval.errors import InputError
from mmeval.registry import MODELS
from mmeval.runner import run
from tests.models.helpers import runnable_copy, values
from tests.models.slow_adapter import CountingReference

MODELS.register("slow-reference", "tests.models.slow_adapter:SlowReference")
MODELS.register("counting-reference", "tests.models.slow_adapter:CountingReference")


def _release_suite(repo: Path, tmp: Path, use: str, n: int = 24) -> Path:
    """The release suite on a small mixed slice (text, image, audio), batch size 4."""
    rows = (repo / "suites/data/ecommerce/release.jsonl").read_text().splitlines()
    pick = [r for r in rows if '"modality": "text"' in r][: n // 2] + [r for r in rows if '"modality": "text"' not in r][: n // 2]
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    # Media targets are relative to the JSONL file: link the folders next to the slice.
    for sub in ("images", "audio"):
        if not (data / sub).exists():
            (data / sub).symlink_to(repo / "suites/data/ecommerce" / sub)
    (data / "slice.jsonl").write_text("\n".join(pick) + "\n")
    path, _ = runnable_copy(repo / "suites/ecommerce-release.yaml", tmp, batch_size=4)
    spec = yaml.safe_load(path.read_text())
    spec["dataset"]["path"] = str(data / "slice.jsonl")
    for model in spec["models"].values():
        model["use"] = use
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _media_digests(run_dir: Path) -> dict[str, str]:
    return {p.relative_to(run_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((run_dir / "outputs").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The clean run every test here compares against: made once, read-only for the tests."""
    repo = Path(__file__).resolve().parents[2]
    tmp = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMEVAL_CACHE_DIR", "off")
        suite = _release_suite(repo, tmp, "reference")
        result = run(suite, tmp / "clean", progress=False)
    return suite, result


def test_two_runs_are_bit_identical_with_and_without_cache(clean, tmp_path, monkeypatch):
    suite, first = clean
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    second = run(suite, tmp_path / "again", progress=False)
    assert values(first.report) == values(second.report)
    assert _media_digests(first.run_dir) == _media_digests(second.run_dir)
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    cold = run(suite, tmp_path / "cold", progress=False)
    warm = run(suite, tmp_path / "warm", progress=False)  # cold completed: generates afresh
    reused = run(suite, tmp_path / "reused", progress=False, reuse_outputs=True)
    assert values(cold.report) == values(warm.report) == values(reused.report) == values(first.report)
    assert _media_digests(warm.run_dir) == _media_digests(reused.run_dir) == _media_digests(first.run_dir)
    assert {m["generated"] for m in warm.report["models"].values()} == {24}
    assert {(m["generated"], m["reused"]) for m in reused.report["models"].values()} == {(0, 24)}
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o600 for p in files)


def test_crashed_run_resumes_with_the_same_values(repo, clean, tmp_path, monkeypatch):
    _, reference_run = clean
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    suite = _release_suite(repo, tmp_path, "counting-reference")
    CountingReference.generated, CountingReference.fail_after = [], 3
    with pytest.raises(InputError, match="model .reference. failed: RuntimeError: simulated crash"):
        run(suite, tmp_path / "crashed", progress=False)
    assert not (tmp_path / "crashed").exists()  # no half-written report
    done_before, generated_before = set(CountingReference.generated), len(CountingReference.generated)
    CountingReference.generated, CountingReference.fail_after = [], None
    resumed = run(suite, tmp_path / "resumed", progress=False)
    assert done_before and not done_before & set(CountingReference.generated)  # nothing regenerated
    counts = resumed.report["models"]
    assert sum(m["reused"] for m in counts.values()) == generated_before  # both models' outputs before the crash
    assert all(m["generated"] + m["reused"] == 24 for m in counts.values())
    assert values(resumed.report) == values(reference_run.report)
    assert _media_digests(resumed.run_dir) == _media_digests(reference_run.run_dir)


@pytest.mark.slow
def test_sigkilled_run_resumes_with_the_same_values(repo, clean, tmp_path, monkeypatch):
    _, reference_run = clean
    suite = _release_suite(repo, tmp_path, "slow-reference")
    cache = tmp_path / "cache"
    env = {**os.environ, "MMEVAL_CACHE_DIR": str(cache), "MMEVAL_TEST_SLEEP": "0.5"}
    script = (
        "import sys, pathlib; from mmeval.registry import MODELS; "
        "MODELS.register('slow-reference', 'tests.models.slow_adapter:SlowReference'); "
        "from mmeval.runner import run; run(sys.argv[1], pathlib.Path(sys.argv[2]), progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(suite), str(tmp_path / "killed")], cwd=repo, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache.rglob("batch-*.sealed"))) < 4 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    batches = len(list(cache.rglob("batch-*.sealed")))
    assert proc.returncode == -signal.SIGKILL and 4 <= batches < 12, batches  # 2 models x 6 batches in all
    assert not (tmp_path / "killed").exists()
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(cache))
    resumed = run(suite, tmp_path / "resumed", progress=False)
    assert values(resumed.report) == values(reference_run.report)
    assert _media_digests(resumed.run_dir) == _media_digests(reference_run.run_dir)
