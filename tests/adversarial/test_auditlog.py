"""Issue #13 item 6: one crash must not lock the audit log for good, and deleting the log
and its head together must not pass as a fresh start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mmeval.security.auditlog import entry_hash
from mmeval.security.policy import os_user


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL")}
    env.update(MMEVAL_AUDIT_LOG=str(tmp_path / "audit" / "audit.log"), MMEVAL_HOME=str(tmp_path / "home"),
               MMEVAL_CACHE_DIR="off")  # the principal is the OS user (no policy allows another)
    return env


def mmeval(env, *argv):
    proc = subprocess.run([sys.executable, "-m", "mmeval", *argv], env=env, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    return proc


def errors(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def log(env, tmp_path):
    for _ in range(3):  # each `log verify` is itself an audited append
        assert mmeval(env, "log", "verify").returncode == 0
    return tmp_path / "audit" / "audit.log"


def _entries(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_entry_written_but_head_not_updated_is_adopted(env, log):
    last = _entries(log)[-1]
    entry = {"seq": last["seq"] + 1, "time": last["time"], "event": "run-start", "principal": "alice",
             "run_id": "r9", "prev": last["hash"]}
    entry["hash"] = entry_hash(entry)
    with log.open("a") as handle:  # a process killed right after its line, before the head
        handle.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    first = mmeval(env, "log", "verify")
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stderr.splitlines() if "adopted entry" in line]
    again = mmeval(env, "log", "verify")
    assert again.returncode == 0 and again.stderr == ""
    assert [e["run_id"] for e in _entries(log) if e.get("run_id")] == ["r9"]


def test_torn_last_line_is_reported_then_repaired_keeping_the_bytes(env, log):
    torn = b'{"seq":3,"time":"2024-01-01T00:0'
    with log.open("ab") as handle:
        handle.write(torn)
    verify = mmeval(env, "log", "verify", "--json")
    assert verify.returncode == 4
    assert len(errors(verify)) == 1 and "torn" in errors(verify)[0] and "line 4" in errors(verify)[0]
    report = json.loads(verify.stdout)
    assert report["ok"] is False and [p["kind"] for p in report["problems"]] == ["torn"]
    blocked = mmeval(env, "log", "show")  # appends refuse a torn log, pointing to repair
    assert blocked.returncode == 4 and "mmeval log repair" in errors(blocked)[0]

    repair = mmeval(env, "log", "repair")
    assert repair.returncode == 0, repair.stderr
    sides = list(log.parent.glob("audit.log.torn-*"))
    assert len(sides) == 1 and sides[0].read_bytes() == torn and sides[0].stat().st_mode & 0o077 == 0
    entries = _entries(log)
    assert entries[-1]["event"] == "log-repair" and entries[-1]["torn_bytes"] == len(torn)
    assert [e["seq"] for e in entries] == list(range(len(entries)))  # nothing complete was dropped
    assert mmeval(env, "log", "verify").returncode == 0


def test_deleted_head_is_recomputed(env, log):
    head = log.with_name("audit.log.head")
    head.unlink()
    proc = mmeval(env, "log", "verify")
    assert proc.returncode == 0, proc.stderr
    assert "recomputed" in proc.stderr
    assert json.loads(head.read_text())["seq"] == _entries(log)[-1]["seq"]


def test_deleting_log_and_head_is_not_a_fresh_start(env, log, tmp_path):
    pinned_seq = _entries(log)[-1]["seq"]
    log.unlink()
    log.with_name("audit.log.head").unlink()
    proc = mmeval(env, "log", "verify")
    assert proc.returncode == 4
    assert len(errors(proc)) == 1 and "pin" in errors(proc)[0] and "deleted" in errors(proc)[0]
    assert "warning:" in proc.stderr  # the append that started the new log said so
    assert mmeval(env, "log", "verify").returncode == 4  # and keeps failing: the pin was not moved
    # repair refuses to hide the loss unless told; with --accept-loss it records it
    assert mmeval(env, "log", "repair").returncode == 4
    accepted = mmeval(env, "log", "repair", "--accept-loss")
    assert accepted.returncode == 0, accepted.stderr
    record = _entries(log)[-1]
    assert record["event"] == "log-repair" and record["lost_seq"] >= pinned_seq
    assert mmeval(env, "log", "verify").returncode == 0


def test_pin_catches_a_cut_of_log_and_head_together(env, log):
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]))
    last = json.loads(lines[1])
    log.with_name("audit.log.head").write_text(json.dumps({"seq": last["seq"], "hash": last["hash"]}))
    other = dict(env, MMEVAL_AUDIT_LOG=str(log.with_name("other.log")))  # so verify's own entry goes elsewhere
    proc = mmeval(other, "log", "verify", "--log", str(log))
    assert proc.returncode == 4 and "tail was cut" in errors(proc)[0] and "pin" in errors(proc)[0]
    appended = mmeval(env, "log", "verify")  # an append warns, and verify still fails
    assert appended.returncode == 4 and "warning:" in appended.stderr


def test_repair_needs_manage_keys_and_the_denial_is_audited(env, log, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles:\n  auditor: [audit]\nprincipals:\n  bob: [auditor]\n")
    head = log.with_name("audit.log.head")
    head.unlink()  # something to repair
    proc = mmeval(env, "log", "repair", "--policy", str(policy), "--principal", "bob")
    assert proc.returncode == 3 and len(errors(proc)) == 1
    denial = _entries(log)[-1]
    assert (denial["event"], denial["action"], denial["decision"], denial["principal"]) == \
        ("access", "manage-keys", "deny", "bob")
    assert not [e for e in _entries(log) if e["event"] == "log-repair"]


def test_chain_break_in_the_middle_is_not_repairable(env, log):
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(f'"principal":"{os_user()}"', '"principal":"mallory"')
    log.write_text("".join(lines))
    before = log.read_bytes()
    proc = mmeval(env, "log", "repair")
    assert proc.returncode == 4 and "not repairable" in errors(proc)[-1]
    verify = mmeval(env, "log", "verify")
    assert verify.returncode == 4 and "entry 1 (line 2) was edited" in errors(verify)[0]
    assert log.read_bytes().startswith(before)  # repair dropped or rewrote nothing


def test_a_failed_write_leaves_no_torn_line(tmp_path, monkeypatch):
    from mmeval.errors import MmevalError
    from mmeval.security import auditlog

    monkeypatch.setenv("MMEVAL_HOME", str(tmp_path / "home"))
    log = auditlog.AuditLog(tmp_path / "audit.log")
    log.append("run-start", principal="alice", run_id="r0")
    before = log.path.read_bytes()
    real_write = os.write

    def short_then_full(fd, data):  # half the line lands, then the disk is full
        if fd != -1 and len(data) > 40 and b"r1" in bytes(data):
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(auditlog.os, "write", short_then_full)
    with pytest.raises(MmevalError, match="not recorded"):
        log.append("run-start", principal="alice", run_id="r1")
    monkeypatch.setattr(auditlog.os, "write", real_write)
    assert log.path.read_bytes() == before
    assert log.append("run-end", principal="alice")["seq"] == 1 and log.verify() == 2
