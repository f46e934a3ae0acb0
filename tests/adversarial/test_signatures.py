"""Issue #13 items 9 and 12: a sign-off counts only when it holds (trusted signer, this
run's attestation and report, a passing run), and Inception weights are pinned by their
full published sha256, not by the 8 hex digits in the file name.

The helpers here (isolated CLI environment, runs made through the CLI) are shared by
test_store_binding.py and test_reader_keys.py."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmeval.fsutil import sha256_file
from mmeval.report.signing import ATTESTATION, SIGNOFF, load_signing_key, public_pem, sign_envelope
from mmeval.report.signoff import PREDICATE_TYPE, write_signoff
from tests.test_suite import base_suite, write_suite

REPO = Path(__file__).resolve().parents[2]


# --- shared helpers -------------------------------------------------------------------------
def cli_env(tmp_path: Path) -> dict[str, str]:
    """A user of their own: home, mmeval home, temp dir and audit log under tmp_path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_KEYRING", "MMEVAL_SIGNING_KEY")}
    for name in ("home", "mmeval-home", "tmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    env.update(HOME=str(tmp_path / "home"), MMEVAL_HOME=str(tmp_path / "mmeval-home"), TMPDIR=str(tmp_path / "tmp"),
               MMEVAL_AUDIT_LOG=str(tmp_path / "audit" / "audit.log"), MMEVAL_CACHE_DIR="off", PYTHONPATH=str(REPO))
    return env


def mmeval(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


def one_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def make_run(tmp_path: Path, env: dict[str, str], name: str = "run", *, passing: bool = True, rows: int = 4,
             keyring: Path | None = None) -> Path:
    """A run made by `mmeval run` (signed with the user's own key; sealed when a ring is given)."""
    folder = tmp_path / f"suite-{name}"
    folder.mkdir()
    data = [{"id": f"s{i}", "input": "x", "target": "a" if i % 2 else "b"} for i in range(rows)]
    minimum = 0.5 if passing else 1.1
    suite = write_suite(folder, base_suite(thresholds=[{"model": "candidate", "metric": "accuracy", "min": minimum}]), rows=data)
    extra = ["--keyring", str(keyring)] if keyring else []
    proc = mmeval(env, "run", str(suite), "--out", str(tmp_path / name), "--quiet", *extra)
    assert proc.returncode == (0 if passing else 1), proc.stderr
    return tmp_path / name


def own_key(env: dict[str, str]):
    return load_signing_key(Path(env["MMEVAL_HOME"]) / "signing-key.pem")


def new_key(tmp_path: Path, name: str):
    """An Ed25519 key pair of someone else: (private key, its public PEM file)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pub = tmp_path / f"{name}.pub.pem"
    pub.write_bytes(public_pem(key.public_key()))
    return key, pub


def approver_key(tmp_path: Path) -> tuple[Path, Path]:
    """Someone else's signing key as a 0600 PEM file, for `signoff --signing-key`: (key file, public PEM)."""
    from cryptography.hazmat.primitives import serialization

    approver, approver_pub = new_key(tmp_path, "approver")
    pem = tmp_path / "approver.pem"
    pem.write_bytes(approver.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    pem.chmod(0o600)
    return pem, approver_pub


# --- item 9: sign-offs that mean what they say ----------------------------------------------
def statement_of(run_dir: Path) -> dict:
    return json.loads(base64.b64decode(json.loads((run_dir / ATTESTATION).read_text())["payload"]))


def forge_signoff(run_dir: Path, key, **predicate_changes) -> None:
    """What someone holding `key` can write without `mmeval signoff` and its checks."""
    statement = statement_of(run_dir)
    write_signoff(run_dir, statement, "mallory", "2026-01-01T00:00:00Z", "", key)
    if predicate_changes:
        envelope = json.loads((run_dir / SIGNOFF).read_text())
        approval = json.loads(base64.b64decode(envelope["payload"]))
        approval["predicate"].update(predicate_changes)
        payload = json.dumps(approval, sort_keys=True, separators=(",", ":")).encode()
        (run_dir / SIGNOFF).write_text(json.dumps(sign_envelope(payload, key)))


def test_a_forged_signoff_on_a_failed_run_fails_verify(tmp_path, env):
    failed = make_run(tmp_path, env, passing=False)
    mallory, _ = new_key(tmp_path, "mallory")
    forge_signoff(failed, mallory)
    one_error(mmeval(env, "verify", str(failed)), 4, SIGNOFF, "untrusted key")


def test_a_trusted_signer_cannot_approve_a_failed_run(tmp_path, env):
    failed = make_run(tmp_path, env, passing=False)
    forge_signoff(failed, own_key(env))  # the signer's own key, but around `mmeval signoff`'s status check
    one_error(mmeval(env, "verify", str(failed)), 4, SIGNOFF, "status is 'fail'")


def test_a_signoff_copied_from_another_run_fails(tmp_path, env):
    passing = make_run(tmp_path, env, "good")
    failed = make_run(tmp_path, env, "bad", passing=False)
    assert mmeval(env, "signoff", str(passing)).returncode == 0
    (failed / SIGNOFF).write_bytes((passing / SIGNOFF).read_bytes())
    one_error(mmeval(env, "verify", str(failed)), 4, SIGNOFF, "approves a different attestation.dsse.json")


def test_a_signoff_naming_another_run_id_fails(tmp_path, env):
    passing = make_run(tmp_path, env)
    forge_signoff(passing, own_key(env), run_id="someone-elses-run")
    one_error(mmeval(env, "verify", str(passing)), 4, SIGNOFF, "someone-elses-run")


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"payload": "x"}'])
def test_a_damaged_signoff_fails(tmp_path, env, content):
    passing = make_run(tmp_path, env)
    (passing / SIGNOFF).write_bytes(content)
    one_error(mmeval(env, "verify", str(passing)), 4, SIGNOFF)


def test_a_statement_of_another_kind_is_not_an_approval(tmp_path, env):
    passing = make_run(tmp_path, env)
    statement = statement_of(passing)  # the run's own statement, re-signed as if it were an approval
    statement["subject"] = [{"name": n, "digest": {"sha256": sha256_file(passing / n)}} for n in (ATTESTATION, "report.json")]
    payload = json.dumps(statement, sort_keys=True).encode()
    (passing / SIGNOFF).write_text(json.dumps(sign_envelope(payload, own_key(env))))
    one_error(mmeval(env, "verify", str(passing)), 4, SIGNOFF, PREDICATE_TYPE)


def test_verify_says_who_signed_off(tmp_path, env):
    passing = make_run(tmp_path, env)
    first = mmeval(env, "verify", str(passing))
    assert first.returncode == 0 and "not signed off" in first.stdout, first.stderr
    assert mmeval(env, "signoff", str(passing), "--comment", "release 3").returncode == 0
    second = mmeval(env, "verify", str(passing))
    assert second.returncode == 0, second.stderr
    line = next(line for line in second.stdout.splitlines() if line.startswith("signed off by "))
    assert "ed25519:" in line


def test_an_approver_with_their_own_key_needs_signoff_key(tmp_path, env):
    passing = make_run(tmp_path, env)
    pem, approver_pub = approver_key(tmp_path)
    assert mmeval(env, "signoff", str(passing), "--signing-key", str(pem)).returncode == 0
    one_error(mmeval(env, "verify", str(passing)), 4, SIGNOFF, "untrusted key")
    ok = mmeval(env, "verify", str(passing), "--signoff-key", str(approver_pub))
    assert ok.returncode == 0 and "signed off by" in ok.stdout, ok.stderr
    # the approver's key vouches for approvals only, never for the run's own files
    one_error(mmeval(env, "verify", str(passing), "--key", str(approver_pub), "--signoff-key", str(approver_pub)), 4,
              ATTESTATION, "untrusted key")


# --- item 12: the full published digest of the Inception weights ------------------------------
def resolve(env: dict[str, str], weights: Path, **extra_env: str) -> subprocess.CompletedProcess:
    code = "import sys; from mmeval.metrics.image.inception import resolve_weights; print(resolve_weights(sys.argv[1])[1])"
    return subprocess.run([sys.executable, "-c", code, str(weights)], capture_output=True, text=True,
                          env={**env, **extra_env}, timeout=120)


def test_the_full_published_digest_is_pinned_in_the_code():
    from mmeval.metrics.image import inception

    assert inception.WEIGHTS_SHA256 == "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
    assert inception.WEIGHTS_SIZE == 95_628_359


def test_no_environment_variable_replaces_the_pin(tmp_path, env):
    fake = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    with fake.open("wb") as handle:  # the right size, sparse: only the digest can tell
        handle.truncate(95_628_359)
    proc = resolve(env, fake, MMEVAL_INCEPTION_SHA256=sha256_file(fake))
    assert proc.returncode != 0 and "IntegrityError" in proc.stderr
    assert "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2" in proc.stderr


def test_a_wrong_file_is_refused_naming_the_file_the_digest_and_where_to_put_it(tmp_path, env):
    fake = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    fake.write_bytes(b"not the weights")
    proc = resolve(env, fake)
    last = proc.stderr.strip().splitlines()[-1]
    assert "IntegrityError" in last and str(fake) in last and "15 bytes" in last and "95,628,359" in last
    assert "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2" in last and "MMEVAL_WEIGHTS_DIR" in last
