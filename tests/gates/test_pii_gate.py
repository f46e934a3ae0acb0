"""The `pii` gate alone and inside a suite run: report, anonymize, block; never the values."""

from __future__ import annotations

import json

import pytest

from mmeval.errors import SpecError
from mmeval.gates.base import GateContext, GateItem
from mmeval.gates.pii import PiiGate
from mmeval.runner import run
from tests.cli.test_cli import mmeval
from tests.test_suite import base_suite, write_suite

CTX = GateContext("t", "", "run", None, 0)
EMAIL = "jane.doe@example.com"
ITEMS = [
    GateItem("a", "candidate", f"Write to {EMAIL} today."),
    GateItem("b", "candidate", "Oak table 180 x 90 cm, SKU HX-4821, $499.00"),
    GateItem("c", "candidate", 3.5),  # not text: passes untouched
]


def test_report_allows_and_records_findings_without_values():
    decision = PiiGate("report")(ITEMS, CTX)
    assert decision.action == "allow" and decision.items == ITEMS
    assert [(f.sample_id, f.kind) for f in decision.findings] == [("a", "EMAIL_ADDRESS")]
    assert decision.findings[0].detail == {"start": 9, "end": 29, "score": 1.0}
    assert EMAIL not in repr(decision.findings)


def test_anonymize_transforms_text_only():
    decision = PiiGate("anonymize")(ITEMS, CTX)
    assert decision.action == "transform"
    assert [i.output for i in decision.items] == ["Write to <EMAIL_ADDRESS> today.", ITEMS[1].output, 3.5]


def test_block_reason_has_types_and_counts_not_values():
    decision = PiiGate("block", threshold=0.4)(ITEMS, CTX)
    assert decision.action == "block"
    assert "EMAIL_ADDRESS: 1" in decision.reason and EMAIL not in decision.reason


def test_clean_batch_is_allowed_in_block_mode():
    assert PiiGate("block")(ITEMS[1:], CTX).action == "allow"


def test_bad_args():
    with pytest.raises(SpecError):
        PiiGate("block", entities=["NOPE"])
    with pytest.raises(SpecError):
        PiiGate("block", threshold=1.5)


def _suite(tmp_path, action):
    rows = [{"id": f"s{i}", "input": "x", "target": f"Item {i} in stock."} for i in range(4)]
    outputs = [{"id": r["id"], "output": r["target"]} for r in rows]
    outputs[2]["output"] = f"Item 2 in stock. Questions? Mail {EMAIL}"
    suite = base_suite(
        metrics=[{"use": "exact_match"}],
        thresholds=[],
        gates=[{"use": "pii", "args": {"action": action, "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"], "threshold": 0.5}}],
    )
    return write_suite(tmp_path, suite, rows=rows, outputs=outputs)


def test_suite_blocked_exits_1_and_report_says_why_without_value(tmp_path):
    proc = mmeval("run", str(_suite(tmp_path, "block")), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 1, proc.stderr
    report_text = (tmp_path / "run" / "report.json").read_text()
    report = json.loads(report_text)
    assert report["status"] == "blocked"
    assert "EMAIL_ADDRESS: 1" in report["reason"]
    gate = report["gates"][0]
    assert gate["gate"] == "pii" and gate["findings"] == [{"model": "candidate", "kind": "EMAIL_ADDRESS", "count": 1}]
    assert "StrictPhoneRecognizer" in gate["settings"]["recognizers"]
    assert EMAIL not in report_text
    for path in (tmp_path / "run").rglob("*"):
        assert not path.is_file() or EMAIL.encode() not in path.read_bytes()


def test_suite_anonymize_scores_anonymized_outputs(tmp_path):
    result = run(_suite(tmp_path, "anonymize"), tmp_path / "run", progress=False)
    assert result.status == "ungated"
    # Three of four outputs equal their targets; the anonymized one no longer does.
    assert result.report["results"][0]["value"] == pytest.approx(0.75)
    assert result.report["gates"][0]["decisions"] == {"transform": 1}
    assert EMAIL not in (tmp_path / "run" / "report.json").read_text()


def test_findings_do_not_depend_on_batch_split():
    from mmeval.privacy.corpus import build_corpus

    items = [GateItem(t.id, "m", t.text) for t in build_corpus(seed=4, n_pii=60, n_clean=20)]
    gate = PiiGate("anonymize")
    whole = gate(items, CTX)
    parts = [gate(items[i : i + 7], CTX) for i in range(0, len(items), 7)]
    assert [f for p in parts for f in p.findings] == whole.findings
    assert [i for p in parts for i in p.items] == whole.items


def test_per_sample_findings_reach_records_and_html_badges(tmp_path):
    result = run(_suite(tmp_path, "report"), tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    flagged = {r["id"]: r.get("gates") for r in records}
    assert [g for g in flagged.values() if g] == [{"pii": ["EMAIL_ADDRESS"]}]
    html = (tmp_path / "run" / "report.html").read_text()
    assert '<span class="badge">pii: EMAIL_ADDRESS</span>' in html and EMAIL not in html
    assert result.status == "ungated"
