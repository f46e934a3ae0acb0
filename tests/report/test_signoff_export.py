"""`mmeval signoff` approves only passing, verified runs; `mmeval export` writes model-index YAML."""

from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mmeval.report.signing import ATTESTATION, load_signing_key, open_envelope, verify_run
from mmeval.runner import run
from mmeval.security.policy import os_user
from tests.cli.test_cli import mmeval


@pytest.fixture
def passing_run(shipped_run) -> Path:
    """The shared run of suites/smoke.yaml; read-only, so each test signs off a copy."""
    smoke = shipped_run("smoke")
    assert smoke.status == smoke.report["status"] == "pass"
    return smoke.path


def fresh(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    return target


def test_signoff_writes_a_signed_approval_and_audit_event(passing_run, tmp_path):
    run_dir = fresh(passing_run, tmp_path)
    me = getpass.getuser()
    proc = mmeval("signoff", str(run_dir), "--principal", me, "--comment", "ok for release")
    assert proc.returncode == 0, proc.stderr
    envelope = json.loads((run_dir / "signoff.dsse.json").read_text())
    statement = json.loads(open_envelope(envelope, [load_signing_key().public_key()], "signoff"))
    assert statement["predicate"]["approved_by"] == me
    assert {s["name"] for s in statement["subject"]} == {ATTESTATION, "report.json"}
    verify_run(run_dir)  # the approval does not break the run's own attestation
    from mmeval.security.auditlog import AuditLog

    log = AuditLog.default()
    last = list(log.entries())[-1]
    assert last["event"] == "sign-off" and last["principal"] == me and last["run_id"] == statement["predicate"]["run_id"]
    log.verify()


def test_signoff_refuses_tampered_failing_or_unauthorized(passing_run, tmp_path):
    me = getpass.getuser()
    tampered = fresh(passing_run, tmp_path / "t")
    with (tampered / "report.md").open("a") as handle:
        handle.write(" ")
    proc = mmeval("signoff", str(tampered), "--principal", me)
    assert proc.returncode == 4 and "report.md" in proc.stderr
    assert not (tampered / "signoff.dsse.json").exists()

    policy = tmp_path / "policy.yaml"
    policy.write_text(f"roles:\n  releaser: [run, sign-off]\n  runner: [run]\nprincipals:\n  {me}: [releaser]\n  mallory: [runner]\n"
                      f"impersonation:\n  {os_user()}: [mallory]\n")  # so the sign-off check itself is what refuses
    proc = mmeval("signoff", str(fresh(passing_run, tmp_path / "o")), "--principal", "mallory", "--policy", str(policy))
    assert proc.returncode == 3 and "sign-off" in proc.stderr
    allowed = fresh(passing_run, tmp_path / "a")
    assert mmeval("signoff", str(allowed), "--principal", me, "--policy", str(policy)).returncode == 0


def test_signoff_refuses_a_failing_run(tmp_path):
    from tests.test_suite import base_suite, write_suite

    suite = write_suite(tmp_path, base_suite(thresholds=[{"model": "candidate", "metric": "accuracy", "min": 1.1}]))
    failing = run(suite, tmp_path / "run", progress=False).run_dir
    proc = mmeval("signoff", str(failing), "--principal", getpass.getuser())
    assert proc.returncode == 1 and "only a passing run" in proc.stderr


def test_export_model_index(passing_run):
    proc = mmeval("export", str(passing_run), "--format", "model-index")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("---\n") and proc.stdout.endswith("---\n")
    index = yaml.safe_load(proc.stdout.strip("-\n"))["model-index"]
    report = json.loads((passing_run / "report.json").read_text())
    exported = {(e["name"], m["name"]): m["value"] for e in index for res in e["results"] for m in res["metrics"]}
    expected = {(r["model"], r["key"]): r["value"] for r in report["results"] if r["value"] is not None}
    assert exported == expected
    assert mmeval("export", str(passing_run), "--model", "nope").returncode == 2
