"""`mmeval pii scan` and `mmeval pii redact`: findings without values, keys never printed."""

from __future__ import annotations

import json

from tests.cli.test_cli import assert_one_line_error, mmeval

EMAIL, PHONE = "jane.doe@example.com", "+44 20 7946 0958"


def _jsonl(tmp_path):
    path = tmp_path / "outputs.jsonl"
    rows = [{"id": "a", "output": f"Mail {EMAIL} or call {PHONE}"}, {"id": "b", "text": "SKU HX-4821, $12.99"},
            {"id": "c", "output": 7}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scan_json(tmp_path):
    proc = mmeval("pii", "scan", str(_jsonl(tmp_path)), "--json")
    assert proc.returncode == 0, proc.stderr
    findings = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(f["id"], f["entity"], f["start"], f["end"]) for f in findings] == [
        ("a", "EMAIL_ADDRESS", 5, 25), ("a", "PHONE_NUMBER", 34, 50)]
    assert set(findings[0]) == {"id", "entity", "start", "end", "score"}
    assert EMAIL not in proc.stdout + proc.stderr and PHONE not in proc.stdout + proc.stderr


def test_scan_plain_text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(f"nothing here\nreach me: {EMAIL}\n")
    proc = mmeval("pii", "scan", str(path))
    assert proc.returncode == 0 and proc.stdout.startswith("2\tEMAIL_ADDRESS\t10-30")


def test_redact_with_pseudonym_key_file(tmp_path):
    key = tmp_path / "key.hex"
    key.write_text("0f" * 32)
    out = tmp_path / "red.jsonl"
    proc = mmeval("pii", "redact", str(_jsonl(tmp_path)), "--out", str(out), "--operator", "pseudonym", "--key-file", str(key))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert EMAIL not in text and PHONE not in text and "<EMAIL_ADDRESS_" in text
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[1] == {"id": "b", "text": "SKU HX-4821, $12.99"} and rows[2] == {"id": "c", "output": 7}
    assert "0f0f" not in proc.stdout + proc.stderr


def test_redact_errors_exit_2_without_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_PSEUDONYM_KEY", "secretnothex")
    proc = mmeval("pii", "redact", str(_jsonl(tmp_path)), "--out", str(tmp_path / "o"), "--operator", "pseudonym")
    assert_one_line_error(proc, 2, "not hex")
    assert "secretnothex" not in proc.stderr
    assert_one_line_error(mmeval("pii", "scan", str(tmp_path / "missing.jsonl")), 2, "not found")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "body": "x"}\n')
    assert_one_line_error(mmeval("pii", "scan", str(bad)), 2, "'output' or 'text'")
