"""`mmeval run` with a key ring, policy and audit log; the keys/store/log commands' exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmeval.cli import main as cli
from mmeval.security.auditlog import AuditLog
from mmeval.security.keyring import KeyRing
from mmeval.security.observer import StoreObserver
from mmeval.security.policy import os_user
from tests.test_suite import base_suite, write_suite

N = 6


def canary_model(inputs, seed):  # used through the `python` adapter
    return [f"CANARY-{x}-7f3a9c" for x in inputs]


def _suite(tmp_path: Path, name: str = "ecommerce-copy") -> Path:
    rows = [{"id": f"s{i}", "input": f"{i}", "target": "x"} for i in range(N)]
    suite = base_suite(
        name=name,
        models={"candidate": {"use": "python", "args": {"callable": "tests.security.test_run_security:canary_model"}}},
        metrics=[{"use": "exact_match"}],
        thresholds=[],
    )
    return write_suite(tmp_path, suite, rows=rows)


@pytest.fixture(autouse=True)
def resumable_python_adapter(monkeypatch):
    """Give the python adapter a fingerprint so the plaintext resume cache would be used."""
    from mmeval.models.python import PythonCallable

    monkeypatch.setattr(PythonCallable, "fingerprint", lambda self: "canary-model/1", raising=False)


def _scan(root: Path, needle: bytes = b"CANARY") -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and (needle in p.read_bytes() or needle.decode() in str(p))]


POLICY = f"""
roles:
  runner: [{{action: run, resources: ["ecommerce-*"]}}]
  auditor: [read-report, read-raw, audit]
principals:
  carol: [runner]
  bob: [auditor]
impersonation:  # the principal is the OS user unless the policy lets it act as another
  {os_user()}: [carol, bob]
"""


def test_encrypted_run_leaves_no_plaintext_and_reads_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    suite = _suite(tmp_path)
    ring = tmp_path / "keys" / "k.json"
    assert cli(["keys", "init", "--keyring", str(ring)]) == 0
    assert cli(["run", str(suite), "--out", str(tmp_path / "run"), "--keyring", str(ring), "--quiet"]) == 0

    assert _scan(tmp_path / "run") == []
    assert not (tmp_path / "cache").exists() or _scan(tmp_path / "cache") == []
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["store"]["encrypted"] is True and report["store"]["records"] == N
    assert report["store"]["key_id"] == KeyRing.load(ring).active_master()[0]
    assert cli(["verify", str(tmp_path / "run")]) == 0

    capsys.readouterr()
    assert cli(["store", "get", str(tmp_path / "run"), "candidate/s3", "--keyring", str(ring)]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == "CANARY-3-7f3a9c"

    # rotate: every record still readable, the run still verifies (re-signed), old key gone
    assert cli(["keys", "rotate", "--keyring", str(ring), "--store", str(tmp_path / "run"), "--remove-old"]) == 0
    assert cli(["verify", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert cli(["store", "get", str(tmp_path / "run"), "--keyring", str(ring)]) == 0
    listed = capsys.readouterr().out.splitlines()
    ids = [json.loads(line)["id"] for line in listed]
    assert len([i for i in ids if i.startswith("candidate/")]) == N  # every output
    assert [i for i in ids if not i.startswith("candidate/")] == ["records.jsonl#00000001"]  # sealed per batch

    events = [e["event"] for e in AuditLog.default().entries()]
    assert {"access", "key", "run-start", "gate", "run-end", "store-read"} - {"gate"} <= set(events)
    assert b"CANARY" not in AuditLog.default().path.read_bytes()
    assert cli(["log", "verify"]) == 0


def test_scan_finds_canaries_without_a_key_ring(tmp_path, monkeypatch):
    """Positive control for the scan above: unencrypted, the records' previews show outputs
    (the resume cache is sealed either way)."""
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    assert cli(["run", str(_suite(tmp_path)), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert tmp_path / "run" / "records.jsonl" in _scan(tmp_path / "run")
    assert list((tmp_path / "cache").rglob("batch-*.sealed")) and _scan(tmp_path / "cache") == []
    assert "store" not in json.loads((tmp_path / "run" / "report.json").read_text())


def test_policy_denial_exits_3_writes_no_report_and_is_logged(tmp_path, capsys):
    (tmp_path / "policy.yaml").write_text(POLICY)
    suite = _suite(tmp_path)
    common = ["--policy", str(tmp_path / "policy.yaml"), "--quiet"]
    assert cli(["run", str(suite), "--out", str(tmp_path / "denied"), "--principal", "bob", *common]) == 3
    assert not (tmp_path / "denied").exists()
    assert "may not run 'ecommerce-copy'" in capsys.readouterr().err
    assert cli(["run", str(suite), "--out", str(tmp_path / "ok"), "--principal", "carol", *common]) == 0
    (tmp_path / "o").mkdir()
    other = _suite(tmp_path / "o", name="images-x")
    assert cli(["run", str(other), "--out", str(tmp_path / "no"), "--principal", "carol", *common]) == 3
    assert cli(["keys", "init", "--keyring", str(tmp_path / "k.json"), "--principal", "bob", "--policy", str(tmp_path / "policy.yaml")]) == 3
    assert not (tmp_path / "k.json").exists()
    decisions = [(e["principal"], e["decision"]) for e in AuditLog.default().entries() if e["event"] == "access"]
    assert decisions == [("bob", "deny"), ("carol", "allow"), ("carol", "deny"), ("bob", "deny")]


def test_integrity_failures_exit_4(tmp_path, capsys):
    ring = tmp_path / "k.json"
    cli(["keys", "init", "--keyring", str(ring)])
    assert cli(["run", str(_suite(tmp_path)), "--out", str(tmp_path / "run"), "--keyring", str(ring), "--quiet"]) == 0
    record = sorted((tmp_path / "run" / "store").glob("*.rec"))[0]
    raw = bytearray(record.read_bytes())
    raw[-20] ^= 1  # inside the ciphertext
    record.write_bytes(bytes(raw))
    capsys.readouterr()
    assert cli(["store", "get", str(tmp_path / "run"), "--keyring", str(ring)]) == 4
    assert record.name in capsys.readouterr().err  # the run's attestation no longer covers it
    # rotation refuses a tampered store and changes nothing
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "store").iterdir()}
    assert cli(["keys", "rotate", "--keyring", str(ring), "--store", str(tmp_path / "run")]) == 4
    assert {p.name: p.read_bytes() for p in (tmp_path / "run" / "store").iterdir()} == before
    # a wrong key ring
    other = tmp_path / "other.json"
    cli(["keys", "init", "--keyring", str(other)])
    raw[-20] ^= 1  # undamaged again
    record.write_bytes(bytes(raw))
    assert cli(["store", "get", str(tmp_path / "run"), "--keyring", str(ring)]) == 0
    assert cli(["store", "get", str(tmp_path / "run"), "--keyring", str(other)]) == 4
    # an edited audit log
    log = AuditLog.default().path
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"principal":"', '"principal":"x')
    log.write_text("".join(lines))
    capsys.readouterr()
    assert cli(["log", "verify"]) == 4
    assert "entry 1" in capsys.readouterr().err


def test_observer_stores_media_bytes_and_removes_run_dir_copies(tmp_path):
    ring = KeyRing.init(tmp_path / "k.json")
    run_dir = tmp_path / "run"
    (run_dir / "outputs").mkdir(parents=True)
    inside, outside = run_dir / "outputs" / "a.png", tmp_path / "b.png"
    inside.write_bytes(b"\x89PNG-CANARY-inside")
    outside.write_bytes(b"\x89PNG-CANARY-outside")

    class S:
        def __init__(self, id):
            self.id = id

    observer = StoreObserver(ring, "run-1", run_dir)
    observer.on_outputs("img", [S("a"), S("b")], [inside, outside], 0.1)
    report: dict = {}
    observer.finish(report, run_dir)
    assert not inside.exists() and outside.exists()
    assert report["store"]["records"] == 2 and report["store"]["plaintext_media_removed"] == 1
    assert _scan(run_dir) == []
    import base64

    from mmeval.security.store import RecordStore

    value = RecordStore(run_dir / "store", ring).get("img/a")  # an unsigned folder: the store itself
    assert base64.b64decode(value["output"]["bytes_b64"]) == b"\x89PNG-CANARY-inside"
