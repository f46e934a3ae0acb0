"""Issue #13, access control "Enforced by keys": read-raw is a key, not a CLI check. Each
record's data key is also wrapped for every reader role the ring lists; the role's
private key file alone opens the records (no key ring, no master key), a role removed
and re-wrapped away no longer does, and a tampered wrap fails authentication."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path


from mmeval.report.signing import sign_run
from tests.adversarial.test_signatures import cli_env, make_run, mmeval, one_error, own_key


def reader_new(env, ring, role, out):
    return mmeval(env, "keys", "reader-new", role, "--out", str(out), "--keyring", str(ring))


def values(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return {row["id"]: row["value"] for row in map(json.loads, proc.stdout.splitlines())}


def another_user(tmp_path: Path, env: dict) -> tuple[dict, Path]:
    """A fresh user with no key ring and no signing key, given only the signer's public key."""
    (tmp_path / "reader-user").mkdir()
    other = cli_env(tmp_path / "reader-user")
    return other, Path(env["MMEVAL_HOME"]) / "signing-key.pub.pem"


def test_a_reader_key_file_alone_opens_the_records(tmp_path, env, ring):
    key = tmp_path / "auditor.key"
    made = reader_new(env, ring, "auditor", key)
    assert made.returncode == 0, made.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    run_dir = make_run(tmp_path, env, keyring=ring)
    expected = values(mmeval(env, "store", "get", str(run_dir), "--keyring", str(ring)))
    shutil.copytree(run_dir, tmp_path / "shipped")
    ring.unlink()  # no master key anywhere any more
    reader, signer = another_user(tmp_path, env)
    got = mmeval(reader, "store", "get", str(tmp_path / "shipped"), "--reader-key", str(key), "--key", str(signer))
    assert values(got) == expected and len(expected) >= 4
    # without the reader key the same user gets nothing
    one_error(mmeval(reader, "store", "get", str(tmp_path / "shipped"), "--key", str(signer)), 2, "key ring")


def test_a_removed_role_cannot_open_re_wrapped_records(tmp_path, env, ring):
    auditor, legal = tmp_path / "auditor.key", tmp_path / "legal.key"
    assert reader_new(env, ring, "auditor", auditor).returncode == 0
    assert reader_new(env, ring, "legal", legal).returncode == 0
    run_dir = make_run(tmp_path, env, keyring=ring)
    removed = mmeval(env, "keys", "reader-remove", "auditor", "--keyring", str(ring))
    assert removed.returncode == 0 and "rotate --store" in removed.stdout, removed.stderr
    # records already written keep the wrap until they are re-wrapped (said in the README)
    assert mmeval(env, "store", "get", str(run_dir), "--reader-key", str(auditor)).returncode == 0
    rotated = mmeval(env, "keys", "rotate", "--keyring", str(ring), "--store", str(run_dir))
    assert rotated.returncode == 0 and "readers: legal" in rotated.stdout, rotated.stderr
    one_error(mmeval(env, "store", "get", str(run_dir), "--reader-key", str(auditor)), 4, "not sealed for reader key")
    assert mmeval(env, "store", "get", str(run_dir), "--reader-key", str(legal)).returncode == 0
    entries = [json.loads(line) for line in (tmp_path / "audit" / "audit.log").read_text().splitlines()]
    assert [e["role"] for e in entries if e.get("operation") == "reader-remove"] == ["auditor"]


def test_a_tampered_wrap_fails_authentication_even_in_a_re_signed_run(tmp_path, env, ring):
    key = tmp_path / "auditor.key"
    assert reader_new(env, ring, "auditor", key).returncode == 0
    run_dir = make_run(tmp_path, env, keyring=ring)
    record = sorted((run_dir / "store").glob("*.rec"))[0]
    body = json.loads(record.read_bytes())
    wrapped = bytearray(base64.b64decode(body["readers"][0]["wrapped_key"]))
    wrapped[3] ^= 0x40
    body["readers"][0]["wrapped_key"] = base64.b64encode(bytes(wrapped)).decode()
    record.write_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    # someone holding the signing key re-signs: the attestation passes, the key check does not
    sign_run(run_dir, json.loads((run_dir / "report.json").read_text()), own_key(env))
    one_error(mmeval(env, "store", "get", str(run_dir), "--reader-key", str(key)), 4, "failed authentication")


def test_reader_new_refuses_to_overwrite_or_duplicate(tmp_path, env, ring):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    one_error(reader_new(env, ring, "auditor", existing), 2, "never overwritten")
    assert existing.read_text() == "mine"
    assert reader_new(env, ring, "auditor", tmp_path / "a.key").returncode == 0
    one_error(reader_new(env, ring, "auditor", tmp_path / "b.key"), 2, "already has reader role")
    assert not (tmp_path / "b.key").exists()
    one_error(reader_new(env, ring, "../x", tmp_path / "c.key"), 2, "reader role")
    one_error(mmeval(env, "keys", "reader-new", "qa", "--keyring", str(ring)), 2, "--out")
    (tmp_path / "a.key").chmod(0o644)
    run_dir = make_run(tmp_path, env, keyring=ring)
    one_error(mmeval(env, "store", "get", str(run_dir), "--reader-key", str(tmp_path / "a.key")), 2, "chmod 600")
