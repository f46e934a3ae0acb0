"""report.md and report.html: verdict first, escaped content, GitHub job summary."""

from __future__ import annotations

import os
from pathlib import Path

from mmeval.report.html import render_html
from mmeval.report.markdown import render_markdown
from tests.test_suite import base_suite, write_suite


def sample_report(status="fail") -> dict:
    return {
        "status": status,
        "reason": "threshold missed: candidate accuracy = 0.5 (needs >= 0.9)",
        "run_id": "abc",
        "suite": {"name": "demo", "path": "suites/demo.yaml", "sha256": "0" * 64},
        "provenance": {"mmeval_version": "0.1.0", "device": "cpu", "seed": 0, "finished": "now"},
        "results": [
            {"model": "candidate", "metric": "accuracy", "key": "accuracy", "value": 0.5, "n": 4, "fingerprint": "accuracy|x", "ci_low": 0.25, "ci_high": 0.75},
            {"model": "<script>alert(1)</script>", "metric": "accuracy", "key": "accuracy", "value": 0.75, "n": 4, "fingerprint": "accuracy|x"},
        ],
        "thresholds": [{"model": "candidate", "metric": "accuracy", "min": 0.9, "value": 0.5, "passed": False}],
        "gates": [{"gate": "pii", "settings": {}, "decisions": {"allow": 2}, "findings": [{"model": "candidate", "kind": "EMAIL_ADDRESS", "count": 1}]}],
    }


def test_html_puts_verdict_first_and_escapes(tmp_path):
    page = render_html(sample_report(), tmp_path)
    assert page.index('id="verdict"') < page.index("Thresholds") < page.index("Results")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "95% CI 0.25 – 0.75" in page
    assert 'title="accuracy|x · n=4' in page
    assert "http://" not in page.replace("http-equiv", "") and "https://" not in page  # self-contained


def test_markdown_summary():
    text = render_markdown(sample_report())
    assert text.splitlines()[0] == "## mmeval · demo · ❌ FAIL"
    assert "| ❌ | candidate | accuracy | 0.5 | ≥ 0.9 |" in text
    assert "0.5 [0.25, 0.75]" in text and "EMAIL_ADDRESS ×1" in text


def test_run_appends_to_github_step_summary(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n")
    path = write_suite(tmp_path, base_suite())
    proc = mmeval_env({"GITHUB_STEP_SUMMARY": str(summary)}, "run", str(path), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    assert text.startswith("previous step\n") and "## mmeval · t · ✅ PASS" in text


def mmeval_env(extra: dict, *args: str):
    import subprocess
    import sys

    env = {**os.environ, **extra, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, env=env, timeout=120)
