"""`torchrun --nproc-per-node 2 -m mmeval run`: two real ranks on gloo (CPU), against one process.

Each side runs as its own process with one torch thread per process: oneDNN's float32
convolutions sum in an order that depends on the thread count (FID moves by ~4e-6
relative between 1 and 2 threads), so equal values need equal threads, not equal luck.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmeval.security.auditlog import AuditLog

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MMEVAL_CACHE_DIR": "off", "MMEVAL_AUDIT_LOG": str(tmp_path / "audit.log"), **extra}
    env.pop("MMEVAL_KEYRING", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(tmp_path)])  # tmp_path: the test's own model modules
    return env


def _single(suite: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmeval", "run", str(suite), "--out", str(out), "--quiet", "--threads", "1", *extra],
                          env=env, capture_output=True, text=True, timeout=300, cwd=out.parent)


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "mmeval", "run", *args]


def _distributed(suite: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_torchrun(str(suite), "--out", str(out), "--quiet", "--threads", "1", *extra),
                          env=env, capture_output=True, text=True, timeout=300, cwd=out.parent)


def _mmeval_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _values(report: dict) -> dict[tuple[str, str], dict]:
    """Every metric result (not efficiency, which is timed), by model and key."""
    return {(r["model"], r["key"]): {k: v for k, v in r.items()} for r in report["results"] if r.get("kind") != "efficiency"}


def _records(run: Path, ring: str | None) -> str:
    """records.jsonl, or with a key ring the sealed batch records joined in order."""
    if ring is None:
        return (run / "records.jsonl").read_text()
    from mmeval.report.records import sealed_records_text
    from mmeval.security.keyring import KeyRing
    from mmeval.security.store import RecordStore

    return sealed_records_text(RecordStore(run / "store", KeyRing.load(Path(ring)), existing=True))


def _assert_same_run(single: Path, distributed: Path, ring: str | None = None) -> dict:
    one, two = (json.loads((p / "report.json").read_text()) for p in (single, distributed))
    assert _values(one) == _values(two)  # values, intervals and replicates: bit for bit
    assert [t["passed"] for t in one["thresholds"]] == [t["passed"] for t in two["thresholds"]]
    assert (one["status"], one["gates"], one["models"]) == (two["status"], two["gates"], two["models"])
    assert _records(single, ring) == _records(distributed, ring)
    assert two["provenance"]["world_size"] == 2 and one["provenance"]["world_size"] == 1
    assert [r["rank"] for r in two["ranks"]] == [0, 1] and "ranks" not in one
    assert sum(r["samples"] for r in two["ranks"]) == two["dataset"]["n"]
    return two


def _verify(run_dir: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "mmeval", "verify", str(run_dir)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _copy_suite(tmp_path: Path, name: str, batch_size: int) -> Path:
    """A shipped suite with a smaller batch size, so that both ranks get batches."""
    shutil.copytree(REPO / "suites" / "data", tmp_path / "suite" / "data")
    text = (REPO / "suites" / f"{name}.yaml").read_text()
    path = tmp_path / "suite" / f"{name}.yaml"
    path.write_text(text.replace("\nseed: 0\n", f"\nseed: 0\nbatch_size: {batch_size}\n", 1))
    return path


def test_replay_suites_equal_one_process_and_verify(tmp_path):
    """Text labels (confusion cells seen by one rank only), regression, BLEU/chrF, and image
    SSIM/PSNR with FID/KID/IS/Vendi over the merged feature rows."""
    env = _env(tmp_path)
    for suite in (_copy_suite(tmp_path, "smoke", 4), REPO / "suites" / "image-smoke.yaml"):
        single, distributed = tmp_path / f"{suite.stem}-1", tmp_path / f"{suite.stem}-2"
        assert _single(suite, single, env).returncode == 0
        done = _distributed(suite, distributed, env)
        assert done.returncode == 0, done.stderr[-2000:]
        report = _assert_same_run(single, distributed)
        assert all(r["samples"] > 0 for r in report["ranks"]), "both ranks must have had batches"
        _verify(distributed, env)
    starts = [e for e in AuditLog(tmp_path / "audit.log").entries()
              if e["event"] in ("run-start", "run-end") or (e["event"] == "access" and e["action"] == "run")]
    # One run-start/run-end pair (and one access decision) per run, whatever the world size.
    assert [(e["event"], e.get("world_size")) for e in starts] == [
        ("access", None), ("run-start", 1), ("run-end", 1), ("access", None), ("run-start", 2), ("run-end", 2)] * 2


def test_reference_model_suite_equals_one_process_and_resumes_per_rank(tmp_path):
    """Two reference generators on each rank, media written by rank 1 travel into the run;
    a rerun finds each rank's outputs in its own cache."""
    suite = REPO / "suites" / "ecommerce-image.yaml"
    env = _env(tmp_path, MMEVAL_CACHE_DIR=str(tmp_path / "cache"))
    assert _single(suite, tmp_path / "single", _env(tmp_path)).returncode == 0
    done = _distributed(suite, tmp_path / "two", env)
    assert done.returncode == 0, done.stderr[-2000:]
    report = _assert_same_run(tmp_path / "single", tmp_path / "two")
    media = sorted(p.name for p in (tmp_path / "two" / "outputs" / "candidate").iterdir())
    assert media == sorted(p.name for p in (tmp_path / "single" / "outputs" / "candidate").iterdir()) and len(media) == 48
    assert {m["generated"] for m in report["models"].values()} == {48}
    _verify(tmp_path / "two", env)
    again = _distributed(suite, tmp_path / "again", env, "--reuse-outputs")
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads((tmp_path / "again" / "report.json").read_text())
    assert {(m["generated"], m["reused"]) for m in rerun["models"].values()} == {(0, 48)}
    assert _values(rerun) == _values(report)


def test_sealed_run_with_gates_equals_one_process(tmp_path, isolated_keyring):
    """Key ring on: every rank seals its outputs and records; PII, watermark and provenance
    gates run on each rank (manifests signed there) and their counts merge on rank 0."""
    suite, ring = REPO / "suites" / "ecommerce-provenance.yaml", str(tmp_path / "ring.json")
    env = _env(tmp_path)
    assert _single(suite, tmp_path / "single", env, "--keyring", ring).returncode == 0
    done = _distributed(suite, tmp_path / "two", env, "--keyring", ring)
    assert done.returncode == 0, done.stderr[-2000:]
    report = _assert_same_run(tmp_path / "single", tmp_path / "two", ring)
    assert report["store"]["records"] == 64 and report["records"] == "store:records.jsonl"
    files = lambda run: sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file() and p.name != "attestation.dsse.json")
    assert files(tmp_path / "single") == files(tmp_path / "two")  # same sealed records, manifests, no plaintext media
    assert not list((tmp_path / "two").rglob("*.png")) and not list((tmp_path / "two").rglob("*.wav"))
    _verify(tmp_path / "two", {**env, "MMEVAL_KEYRING": ring})


MODEL = '''
import os, sys, time
from pathlib import Path

def model(inputs):
    """Rank 1 fails (FAIL=raise) or announces itself and waits to be killed (FAIL=hang)."""
    Path(f"generated-by-rank{os.environ['RANK']}").touch()
    if os.environ["RANK"] == "1":
        if os.environ["FAIL"] == "raise":
            raise ValueError("boom on purpose")
        Path(os.environ["PID_FILE"]).write_text(str(os.getpid()))
        time.sleep(120)
    return [str(x) for x in inputs]
'''


def _failing_suite(tmp_path: Path) -> Path:
    (tmp_path / "rankfail.py").write_text(MODEL)
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"id": f"s{i}", "input": i, "target": str(i)}) + "\n" for i in range(8)))
    suite = tmp_path / "suite.yaml"
    suite.write_text("version: 1\nname: rankfail\nbatch_size: 2\ndataset: {path: data.jsonl}\n"
                     "models: {candidate: {use: python, args: {callable: 'rankfail:model'}}}\n"
                     "metrics: [{use: exact_match}]\nthresholds: [{model: candidate, metric: exact_match, min: 1.0}]\n")
    return suite


def _no_run_left(tmp_path: Path, out: Path) -> None:
    assert not out.exists(), "no report, not even a partial one"
    assert not list(tmp_path.glob(f".{out.name}.*")), "no staging folder left behind"


def test_a_rank_that_raises_fails_the_run_in_one_line(tmp_path):
    suite, out = _failing_suite(tmp_path), tmp_path / "out"
    done = _distributed(suite, out, _env(tmp_path, FAIL="raise"))
    assert done.returncode != 0
    errors = _mmeval_errors(done.stderr)
    assert errors == ["error: rank 1: model 'candidate' failed: ValueError: boom on purpose"], done.stderr[-3000:]
    assert done.stderr.count("boom on purpose") == 1  # said once, by rank 0; no rank's traceback
    _no_run_left(tmp_path, out)
    ends = [e for e in AuditLog(tmp_path / "audit.log").entries() if e["event"] == "run-end"]
    assert [(e["status"], e["world_size"]) for e in ends] == [("error", 2)]


def test_an_output_rank_0_cannot_write_stops_every_rank_before_models_run(tmp_path):
    suite, out = _failing_suite(tmp_path), tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    done = _distributed(suite, out, _env(tmp_path, FAIL="raise"))
    assert done.returncode != 0
    assert _mmeval_errors(done.stderr) == [f"error: rank 0: {out}: folder is not empty and is not an mmeval output; refusing to replace it"]
    assert not list(tmp_path.glob("generated-by-rank*")), "no rank may generate into a run that cannot be written"
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "the user's own file"


def test_killing_a_worker_fails_the_run_cleanly(tmp_path):
    suite, out, pid_file = _failing_suite(tmp_path), tmp_path / "out", tmp_path / "rank1.pid"
    env = _env(tmp_path, FAIL="hang", PID_FILE=str(pid_file))
    began = time.monotonic()
    launcher = subprocess.Popen(_torchrun(str(suite), "--out", str(out), "--quiet", "--threads", "1"), env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not pid_file.exists():
            assert launcher.poll() is None, launcher.communicate()[1][-3000:]
            assert time.monotonic() - began < 120, "rank 1 never started generating"
            time.sleep(0.2)
        time.sleep(0.3)  # rank 0 is done with its shard and waits for rank 1
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0
    assert "rank      : 1" in stderr and "Signal 9 (SIGKILL)" in stderr  # torchrun's summary names the killed rank
    assert _mmeval_errors(stderr) == ["error: rank 0: stopped by torchrun because another rank failed "
                                      "(torchrun's summary names it); no report was written"], stderr[-3000:]
    assert time.monotonic() - began < 100, "the run must stop when a rank dies, not wait for a timeout"
    _no_run_left(tmp_path, out)
