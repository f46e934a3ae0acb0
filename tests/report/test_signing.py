"""A signed run verifies; any byte flipped in any covered file, or a foreign key, fails with exit 4."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mmeval.errors import IntegrityError
from mmeval.report.signing import ATTESTATION, public_pem, run_files, sign_run, verify_run
from tests.cli.test_cli import mmeval


@pytest.fixture
def signed_run(shipped_run) -> Path:
    """The shared run of suites/smoke.yaml (signed with the per-user key); read-only."""
    return shipped_run("smoke").path


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    return target


def test_untouched_run_verifies(signed_run):
    statement = verify_run(signed_run)
    names = {s["name"] for s in statement["subject"]}
    assert {"report.json", "report.md", "report.html"} <= names
    assert statement["predicate"]["status"] == "pass"
    assert mmeval("verify", str(signed_run)).returncode == 0


def test_every_byte_flip_in_every_covered_file_is_caught(signed_run, tmp_path):
    run_dir = copy_run(signed_run, tmp_path)
    for name in run_files(run_dir) + [ATTESTATION]:
        path = run_dir / name
        original = path.read_bytes()
        positions = sorted({0, 1, len(original) // 2, len(original) - 1})
        for pos in positions:
            flipped = bytearray(original)
            flipped[pos] ^= 0x01
            path.write_bytes(bytes(flipped))
            with pytest.raises(IntegrityError):
                verify_run(run_dir)
        path.write_bytes(original)
    verify_run(run_dir)  # restored: verifies again


def test_cli_names_the_bad_file(signed_run, tmp_path):
    run_dir = copy_run(signed_run, tmp_path)
    report = run_dir / "report.json"
    data = json.loads(report.read_text())
    data["status"] = "pass" if data["status"] != "pass" else "fail"
    report.write_text(json.dumps(data))
    proc = mmeval("verify", str(run_dir))
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: ") and "report.json" in proc.stderr


def test_added_or_removed_files_are_caught(signed_run, tmp_path):
    run_dir = copy_run(signed_run, tmp_path)
    (run_dir / "extra.txt").write_text("not signed")
    with pytest.raises(IntegrityError, match="extra.txt: not covered"):
        verify_run(run_dir)
    (run_dir / "extra.txt").unlink()
    (run_dir / "report.md").unlink()
    with pytest.raises(IntegrityError, match="report.md: covered by the attestation but missing"):
        verify_run(run_dir)


def test_report_signed_with_another_key_is_rejected(signed_run, tmp_path):
    run_dir = copy_run(signed_run, tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    sign_run(run_dir, report, key=Ed25519PrivateKey.generate())  # a forger re-signs with their key
    with pytest.raises(IntegrityError, match="untrusted key"):
        verify_run(run_dir)
    # ...but it verifies for someone who explicitly trusts that key.
    other = Ed25519PrivateKey.generate()
    sign_run(run_dir, report, key=other)
    (tmp_path / "other.pub.pem").write_bytes(public_pem(other.public_key()))
    verify_run(run_dir, tmp_path / "other.pub.pem")
    assert mmeval("verify", str(run_dir), "--key", str(tmp_path / "other.pub.pem")).returncode == 0


def test_unsigned_directory_is_integrity_failure(tmp_path):
    (tmp_path / "report.json").write_text("{}")
    proc = mmeval("verify", str(tmp_path))
    assert proc.returncode == 4 and "not signed" in proc.stderr
