"""Audit log: edits, deletions, reorders, insertions and a cut tail are each detected."""

from __future__ import annotations

import json

import pytest

from mmeval.errors import IntegrityError
from mmeval.security.auditlog import AuditLog, entry_hash


@pytest.fixture
def log(tmp_path):
    log = AuditLog(tmp_path / "audit.log")
    for i in range(6):
        log.append("run-start", principal="alice", run_id=f"r{i}")
    assert log.verify() == 6
    return log


def _lines(log):
    return log.path.read_text().splitlines(keepends=True)


def _write(log, lines):
    log.path.write_text("".join(lines))


def test_edited_entry(log):
    lines = _lines(log)
    lines[2] = lines[2].replace('"r2"', '"rX"')
    _write(log, lines)
    with pytest.raises(IntegrityError, match="entry 2 .*edited"):
        log.verify()


def test_edited_entry_with_recomputed_hash(log):
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["principal"] = "mallory"
    entry["hash"] = entry_hash(entry)
    lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    _write(log, lines)
    with pytest.raises(IntegrityError, match="entry 3"):
        log.verify()


def test_deleted_entry(log):
    lines = _lines(log)
    del lines[3]
    _write(log, lines)
    with pytest.raises(IntegrityError, match="entry 3"):
        log.verify()


def test_reordered_entries(log):
    lines = _lines(log)
    lines[1], lines[4] = lines[4], lines[1]
    _write(log, lines)
    with pytest.raises(IntegrityError, match="entry 1"):
        log.verify()


def test_inserted_entry(log):
    lines = _lines(log)
    fake = json.loads(lines[2])
    fake["run_id"] = "forged"
    fake["hash"] = entry_hash(fake)
    lines.insert(3, json.dumps(fake, sort_keys=True, separators=(",", ":")) + "\n")
    _write(log, lines)
    with pytest.raises(IntegrityError, match="entry 3"):
        log.verify()


def test_cut_tail_is_detected_and_not_extended(log):
    _write(log, _lines(log)[:4])
    with pytest.raises(IntegrityError, match="tail was cut"):
        log.verify()
    with pytest.raises(IntegrityError, match="head"):
        log.append("run-end")


def test_entries_hold_identifiers_only_and_file_is_private(log):
    entry = log.append("store-read", principal="bob", run_id="r1", record_ids=["m/s1"])
    assert set(entry) == {"seq", "time", "event", "principal", "run_id", "record_ids", "prev", "hash"}
    assert log.path.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError):
        log.append("x", hash="forged")
