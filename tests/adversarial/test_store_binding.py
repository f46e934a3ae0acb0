"""Issue #13 item 10: the encrypted store is bound to its run. Every read checks the store
against the run's verified attestation (the signed list of record files and digests, and
the attested run id): a store/ swapped in from another run, or record files deleted or
added, is exit 4 before any record is shown. `keys rotate --store` still works."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


from mmeval.report.signing import ATTESTATION, SIGNOFF, load_signing_key, sign_run
from tests.adversarial.test_signatures import make_run, mmeval, one_error

ROWS = 8


def sealed_run(tmp_path, env, ring, name="run") -> Path:
    run_dir = make_run(tmp_path, env, name, rows=ROWS, keyring=ring)
    assert len(list((run_dir / "store").glob("*.rec"))) >= ROWS  # the outputs, and the sealed records file
    return run_dir


def store(env, ring, action, run_dir, *extra):
    return mmeval(env, "store", action, str(run_dir), "--keyring", str(ring), *extra)


def test_an_intact_store_reads(tmp_path, env, ring):
    run_dir = sealed_run(tmp_path, env, ring)
    n = len(list((run_dir / "store").glob("*.rec")))
    listed = store(env, ring, "ls", run_dir)
    assert listed.returncode == 0 and len(listed.stdout.split()) == n, listed.stderr
    assert {f"candidate/s{i}" for i in range(ROWS)} <= set(listed.stdout.split())
    got = store(env, ring, "get", run_dir)
    assert got.returncode == 0 and len(got.stdout.splitlines()) == n, got.stderr


def test_a_whole_store_from_another_run_is_refused(tmp_path, env, ring):
    victim, other = sealed_run(tmp_path, env, ring, "victim"), sealed_run(tmp_path, env, ring, "other")
    shutil.rmtree(victim / "store")
    shutil.copytree(other / "store", victim / "store")  # same suite, same record ids, another run
    for action in ("ls", "get"):
        proc = store(env, ring, action, victim)
        one_error(proc, 4, str(victim / "store"), "does not match the attestation")
        assert proc.stdout == ""


def test_deleted_record_files_are_refused_not_skipped(tmp_path, env, ring):
    run_dir = sealed_run(tmp_path, env, ring)
    for record in sorted((run_dir / "store").glob("*.rec"))[:5]:
        record.unlink()
    for action in ("ls", "get"):
        proc = store(env, ring, action, run_dir)
        one_error(proc, 4, "covered by the attestation but missing", "and 4 more files")
        assert proc.stdout == ""  # never "the rest" with rc 0


def test_an_added_record_file_is_refused(tmp_path, env, ring):
    run_dir = make_run(tmp_path, env, "small", rows=2, keyring=ring)
    big = sealed_run(tmp_path, env, ring, "big")
    extra = sorted(set(p.name for p in (big / "store").glob("*.rec")) - set(p.name for p in (run_dir / "store").glob("*.rec")))[0]
    shutil.copy(big / "store" / extra, run_dir / "store" / extra)
    proc = store(env, ring, "get", run_dir)
    one_error(proc, 4, extra, "not covered by the attestation")


def test_a_store_re_signed_into_another_run_is_refused_by_run_id(tmp_path, env, ring):
    """Even if a trusted signer re-signs the run after the swap, the store names another run."""
    victim, other = sealed_run(tmp_path, env, ring, "victim"), sealed_run(tmp_path, env, ring, "other")
    shutil.rmtree(victim / "store")
    shutil.copytree(other / "store", victim / "store")
    key = load_signing_key(Path(env["MMEVAL_HOME"]) / "signing-key.pem")
    sign_run(victim, json.loads((victim / "report.json").read_text()), key)
    other_id = json.loads((other / "report.json").read_text())["run_id"]
    one_error(store(env, ring, "get", victim), 4, f"belongs to run {other_id}")


def test_an_unsigned_store_is_not_read(tmp_path, env, ring):
    run_dir = sealed_run(tmp_path, env, ring)
    (run_dir / ATTESTATION).unlink()
    one_error(store(env, ring, "ls", run_dir), 4, "not signed")


def test_rotation_rewraps_re_signs_and_retires_a_stale_signoff(tmp_path, env, ring):
    run_dir = sealed_run(tmp_path, env, ring)
    assert mmeval(env, "signoff", str(run_dir)).returncode == 0
    before = store(env, ring, "get", run_dir).stdout
    rotated = mmeval(env, "keys", "rotate", "--keyring", str(ring), "--store", str(run_dir), "--remove-old")
    assert rotated.returncode == 0, rotated.stderr
    assert "sign off again" in rotated.stdout and not (run_dir / SIGNOFF).exists()
    verified = mmeval(env, "verify", str(run_dir))
    assert verified.returncode == 0 and "not signed off" in verified.stdout, verified.stderr
    assert store(env, ring, "get", run_dir).stdout == before
    entries = [json.loads(line) for line in (tmp_path / "audit" / "audit.log").read_text().splitlines()]
    rewrap = [e for e in entries if e.get("operation") == "rewrap"][-1]
    assert rewrap["signoff_removed"] and rewrap["resigned"] is True


def test_rotation_refuses_a_store_that_is_not_the_runs(tmp_path, env, ring):
    run_dir = sealed_run(tmp_path, env, ring)
    next(iter(sorted((run_dir / "store").glob("*.rec")))).unlink()
    before = {p.name: p.read_bytes() for p in (run_dir / "store").iterdir()}
    one_error(mmeval(env, "keys", "rotate", "--keyring", str(ring), "--store", str(run_dir)), 4, "missing")
    assert {p.name: p.read_bytes() for p in (run_dir / "store").iterdir()} == before


def test_store_reads_do_not_hang_on_whose_sign_off_the_run_carries(tmp_path, env, ring):
    from tests.adversarial.test_signatures import approver_key

    run_dir = sealed_run(tmp_path, env, ring)
    pem, _ = approver_key(tmp_path)
    assert mmeval(env, "signoff", str(run_dir), "--signing-key", str(pem)).returncode == 0
    assert store(env, ring, "get", run_dir).returncode == 0  # the data is the run's, whoever approved it
