"""User errors are named as such, not as internal errors (issue #13 items 8 and 11).

- a negative `seed:` / `bootstrap.seed:` is refused at load, naming the key;
- SSIM on an image under 11 px names the image and the minimum;
- a full disk says `disk full writing PATH`, other OS errors `REASON: PATH`;
- a model that raises is named (and `--debug` still shows the adapter's traceback);
- a closed stdout (`mmeval ... | head`) ends quietly with exit 141;
- `verify` creates no key, and a signing key other users may read is refused (chmod 600).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.cli.test_cli import assert_one_line_error, mmeval

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "suites" / "data" / "smoke"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    monkeypatch.setenv("MMEVAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MMEVAL_AUDIT_LOG", str(tmp_path / "audit" / "audit.log"))
    for name in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_KEYRING", "MMEVAL_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)


def smoke_suite(folder: Path, **extra) -> Path:
    """The smoke suite's replay data, with `extra` top-level keys."""
    suite = {
        "version": 1, "name": "user-errors", "dataset": {"path": str(SMOKE / "dataset.jsonl")},
        "models": {"candidate": {"use": "replay", "args": {"path": str(SMOKE / "candidate.jsonl")}}},
        "metrics": [{"use": "accuracy", "where": {"task": "sentiment"}}],
        "bootstrap": {"resamples": 0}, **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    return folder / "suite.yaml"


def assert_not_internal(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert_one_line_error(proc, code, fragment)
    assert "internal error" not in proc.stderr


# --- suite seeds -----------------------------------------------------------------------

@pytest.mark.parametrize("extra, key", [({"seed": -1}, "seed:"), ({"bootstrap": {"seed": -5}}, "bootstrap.seed:")])
def test_negative_seed_is_a_spec_error_naming_the_key(tmp_path, extra, key):
    suite = smoke_suite(tmp_path / "s", **extra)
    proc = mmeval("run", str(suite), "--out", str(tmp_path / "run"), "--quiet")
    assert_not_internal(proc, 2, key)
    assert "greater than or equal to 0" in proc.stderr
    assert not (tmp_path / "run").exists()


# --- SSIM on small images --------------------------------------------------------------

def test_ssim_on_tiny_images_names_the_image_and_the_minimum(tmp_path):
    from PIL import Image

    folder = tmp_path / "s"
    (folder / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("t0", "o0"):
        Image.fromarray(rng.integers(0, 255, (8, 9, 3), dtype=np.uint8)).save(folder / "img" / f"{name}.png")
    (folder / "data.jsonl").write_text(json.dumps({"id": "p0", "input": "x", "target": "img/t0.png"}) + "\n")
    (folder / "out.jsonl").write_text(json.dumps({"id": "p0", "output": "img/o0.png"}) + "\n")
    suite = {"version": 1, "name": "tiny-ssim", "dataset": {"path": "data.jsonl"},
             "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
             "metrics": [{"use": "ssim"}], "bootstrap": {"resamples": 0}}
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    proc = mmeval("run", str(folder / "suite.yaml"), "--out", str(tmp_path / "run"), "--quiet")
    assert_not_internal(proc, 2, "at least 11 px")
    line = proc.stderr.strip()
    assert "'ssim'" in line and "'candidate'" in line and "o0.png" in line and "9x8 px" in line


# --- OS errors -------------------------------------------------------------------------

def _raise_from_mkstemp(monkeypatch, code: int, strerror: str) -> None:
    import tempfile

    real = tempfile.mkstemp

    def failing(*args, dir=None, **kwargs):
        if ".partial" not in str(dir):  # only the run's own (staged) files hit the full disk
            return real(*args, dir=dir, **kwargs)
        raise OSError(code, strerror, str(Path(dir) / "report.json"))

    monkeypatch.setattr(tempfile, "mkstemp", failing)


@pytest.mark.parametrize("code, strerror, expected", [
    (errno.ENOSPC, "No space left on device", "error: disk full writing "),
    (errno.EACCES, "Permission denied", "error: Permission denied: "),
])
def test_os_errors_are_one_line_naming_the_file(tmp_path, monkeypatch, capsys, code, strerror, expected):
    from mmeval.cli import main

    suite = smoke_suite(tmp_path / "s")
    _raise_from_mkstemp(monkeypatch, code, strerror)
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert "report.json" in lines[0] and "internal error" not in lines[0]


def test_stdout_on_a_full_disk_is_one_error_line(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "mmeval", "list"], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert_not_internal(proc, 2, "disk full")


def test_a_closed_stdout_ends_quietly_with_141():
    proc = subprocess.Popen([sys.executable, "-m", "mmeval", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    proc.stdout.close()  # the reader is gone before the first line (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


# --- a model that raises ---------------------------------------------------------------

class Boom:
    """A model adapter with a bug of its own."""

    def generate(self, inputs, *, seed, ids):
        raise ZeroDivisionError("division by zero in the adapter")


def _run_with_boom(tmp_path, *flags: str) -> subprocess.CompletedProcess:
    suite = smoke_suite(tmp_path / "s", models={"boomer": {"use": "boom"}})
    code = ("import sys; from mmeval.registry import MODELS; "
            "MODELS.register('boom', 'tests.adversarial.test_user_errors:Boom'); "
            "from mmeval.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *flags, "run", str(suite), "--out", str(tmp_path / "run"), "--quiet"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_model_exception_names_the_model(tmp_path):
    proc = _run_with_boom(tmp_path)
    assert_not_internal(proc, 2, "model 'boomer' failed: ZeroDivisionError: division by zero in the adapter")


def test_debug_still_shows_the_adapter_traceback(tmp_path):
    proc = _run_with_boom(tmp_path, "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "in generate" in proc.stderr  # the adapter's own frame
    assert "direct cause" in proc.stderr and "InputError: model 'boomer' failed" in proc.stderr


# --- verify creates nothing; keys are 0600 ---------------------------------------------

def _signed_run(tmp_path, key: Path | None = None) -> Path:
    suite = smoke_suite(tmp_path / "s")
    flags = ["--signing-key", str(key)] if key else []
    proc = mmeval("run", str(suite), "--out", str(tmp_path / "run"), "--quiet", *flags)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "run"


def test_verify_on_a_fresh_machine_creates_no_key(tmp_path, monkeypatch):
    run_dir = _signed_run(tmp_path)
    fresh = tmp_path / "fresh-home"
    monkeypatch.setenv("MMEVAL_HOME", str(fresh))
    before = sorted(p.name for p in run_dir.iterdir())
    proc = mmeval("verify", str(run_dir))
    assert_not_internal(proc, 2, "--key")
    assert not fresh.exists()
    assert sorted(p.name for p in run_dir.iterdir()) == before
    # With the signer's public key it verifies, and still creates no key (the read-report
    # decision is audited, so the audit pin may appear in the fresh home).
    proc = mmeval("verify", str(run_dir), "--key", str(tmp_path / "home" / "signing-key.pub.pem"))
    assert proc.returncode == 0, proc.stderr
    assert not list(fresh.glob("signing-key*"))


def _key_file(tmp_path, mode: int) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp_path / "ci-key.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(mode)
    return path


def test_a_signing_key_others_can_read_is_refused(tmp_path, monkeypatch):
    key = _key_file(tmp_path, 0o644)
    proc = mmeval("run", str(smoke_suite(tmp_path / "s")), "--out", str(tmp_path / "run"), "--quiet", "--signing-key", str(key))
    assert_not_internal(proc, 2, f"run: chmod 600 {key}")
    assert not (tmp_path / "run" / "attestation.dsse.json").exists()
    key.chmod(0o600)
    run_dir = _signed_run(tmp_path, key)
    key.chmod(0o640)
    monkeypatch.setenv("MMEVAL_SIGNING_KEY", str(key))
    assert_not_internal(mmeval("verify", str(run_dir)), 2, f"chmod 600 {key}")
    key.chmod(0o600)
    assert mmeval("verify", str(run_dir)).returncode == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_readme_ci_example_writes_the_key_0600():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("name: release-eval")
    example = readme[start:readme.index("```", start)]
    assert "umask 077" in example or "install -m 600" in example
    assert 'echo "${{ secrets' not in example
