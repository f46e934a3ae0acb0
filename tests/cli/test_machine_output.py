"""Machine-readable CLI output: `--json` on run/verify/signoff/log verify, `--junit` on
run/compare. Real runs of suites/smoke.yaml and real `python -m mmeval` subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mmeval.cli.compare import compare_runs
from mmeval.report.junit import compare_junit

REPO = Path(__file__).resolve().parents[2]


def mmeval(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "MMEVAL_CACHE_DIR": "off", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmeval", *map(str, args)], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=300)


def one_json(stdout: str) -> dict:
    """stdout must be exactly one JSON object: json.loads refuses anything around it."""
    value = json.loads(stdout)
    assert isinstance(value, dict)
    return value


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    cases = suite.findall("testcase")
    assert counts["tests"] == len(cases)
    assert counts["failures"] == sum(c.find("failure") is not None for c in cases)
    assert counts["skipped"] == sum(c.find("skipped") is not None for c in cases)
    assert {k: int(root.get(k)) for k in counts} == counts
    return counts


def smoke_copy(tmp_path: Path, edit) -> Path:
    """suites/smoke.yaml and its data in tmp_path, the suite changed by `edit(spec)`."""
    shutil.copytree(REPO / "suites" / "data" / "smoke", tmp_path / "data" / "smoke")
    spec = yaml.safe_load((REPO / "suites" / "smoke.yaml").read_text())
    edit(spec)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def raise_accuracy(spec: dict) -> None:
    spec["thresholds"][0]["min"] = 0.95  # the candidate scores 0.9167


def test_run_json_and_junit_on_a_passing_run(tmp_path):
    out, xml = tmp_path / "run", tmp_path / "junit.xml"
    done = mmeval("run", REPO / "suites" / "smoke.yaml", "--out", out, "--json", "--quiet", "--junit", xml)
    assert done.returncode == 0, done.stderr
    summary = one_json(done.stdout)
    assert set(summary) == {"status", "exit_code", "run_dir", "reason", "thresholds", "results"}
    assert (summary["status"], summary["exit_code"], summary["run_dir"]) == ("pass", 0, str(out))
    assert summary["thresholds"] == json.loads((out / "report.json").read_text())["thresholds"]
    assert junit_counts(xml) == {"tests": 3, "failures": 0, "errors": 0, "skipped": 0}
    names = [c.get("name") for c in ET.parse(xml).getroot().iter("testcase")]
    assert names == ["candidate accuracy >= 0.8", "candidate mae <= 10.0", "candidate chrf >= 50.0"]
    assert {c.get("classname") for c in ET.parse(xml).getroot().iter("testcase")} == {"mmeval.smoke"}


def test_a_missed_threshold_is_a_junit_failure_and_the_file_is_still_written(tmp_path):
    suite = smoke_copy(tmp_path, raise_accuracy)
    xml = tmp_path / "junit.xml"
    done = mmeval("run", suite, "--out", tmp_path / "run", "--json", "--junit", xml)
    assert done.returncode == 1, done.stderr
    summary = one_json(done.stdout)  # progress went to stderr, not into the JSON
    assert (summary["status"], summary["exit_code"]) == ("fail", 1)
    assert "accuracy" in summary["reason"]
    assert junit_counts(xml) == {"tests": 3, "failures": 1, "errors": 0, "skipped": 0}
    (failure,) = ET.parse(xml).getroot().iter("failure")
    assert failure.get("message") == "candidate accuracy = 0.9167, needs >= 0.95"
    assert failure.get("type") == "threshold"


def test_a_blocked_run_is_a_failing_gates_case_not_an_empty_green_suite(tmp_path):
    def block_on_email(spec: dict) -> None:
        spec["gates"] = [{"use": "pii", "args": {"action": "block", "entities": ["EMAIL_ADDRESS"], "threshold": 0.5}}]

    suite = smoke_copy(tmp_path, block_on_email)
    outputs = tmp_path / "data" / "smoke" / "candidate.jsonl"
    lines = outputs.read_text().splitlines()
    last = json.loads(lines[-1])
    lines[-1] = json.dumps({**last, "output": f"{last['output']} Mail jane.doe@example.com"})
    outputs.write_text("\n".join(lines) + "\n")
    xml = tmp_path / "junit.xml"
    done = mmeval("run", suite, "--out", tmp_path / "run", "--json", "--junit", xml)
    assert done.returncode == 1, done.stderr
    assert one_json(done.stdout)["status"] == "blocked"
    assert junit_counts(xml) == {"tests": 1, "failures": 1, "errors": 0, "skipped": 0}
    (failure,) = ET.parse(xml).getroot().iter("failure")
    assert failure.get("type") == "gate" and "EMAIL_ADDRESS" in failure.get("message")
    assert "jane.doe" not in xml.read_text()  # the reason names types and counts, never values


def test_text_summary_is_unchanged_without_json(tmp_path):
    done = mmeval("run", REPO / "suites" / "smoke.yaml", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("suite smoke: PASS")
    with pytest.raises(json.JSONDecodeError):
        json.loads(done.stdout)


@pytest.mark.parametrize("where", ["missing/junit.xml", "a-file/junit.xml", "."])
def test_junit_destination_that_cannot_be_written_fails_before_the_run(tmp_path, where):
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "run"
    done = mmeval("run", REPO / "suites" / "smoke.yaml", "--out", out, "--junit", tmp_path / where)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --junit ") and done.stderr.count("\n") == 1, done.stderr
    assert not out.exists()  # refused before anything ran


def test_no_junit_file_when_the_command_errors(tmp_path):
    suite = smoke_copy(tmp_path, lambda spec: spec["thresholds"].append({"model": "nobody", "metric": "accuracy", "min": 1}))
    xml = tmp_path / "junit.xml"
    done = mmeval("run", suite, "--out", tmp_path / "run", "--junit", xml)
    assert done.returncode == 2, done.stderr  # a threshold naming no model is a suite error
    assert not xml.exists()


def test_verify_json(shipped_run, tmp_path):
    run = shipped_run("smoke").path
    done = mmeval("verify", run, "--json")
    assert done.returncode == 0, done.stderr
    result = one_json(done.stdout)
    assert result["ok"] is True and result["status"] == "pass" and result["signed_off"] is False
    assert result["files_verified"] == int(mmeval("verify", run).stdout.split()[1])  # the text says the same


def test_verify_json_on_a_tampered_run_prints_nothing_and_exits_4(shipped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(shipped_run("smoke").path, run)
    report = run / "report.md"
    report.write_text(report.read_text() + "edited\n")
    done = mmeval("verify", run, "--json")
    assert done.returncode == 4
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_signoff_json_then_verify_json_shows_the_approval(shipped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(shipped_run("smoke").path, run)
    done = mmeval("signoff", run, "--json", "--comment", "release 1")
    assert done.returncode == 0, done.stderr
    approved = one_json(done.stdout)
    assert approved["run_dir"] == str(run) and approved["status"] == "pass"
    assert Path(approved["signoff_file"]) == run / "signoff.dsse.json" and (run / "signoff.dsse.json").is_file()
    verified = one_json(mmeval("verify", run, "--json").stdout)
    assert verified["signed_off"] is True
    assert verified["signoff"]["approved_by"] == approved["principal"]
    assert verified["signoff"]["keyid"] == approved["keyid"]
    assert verified["signoff"]["comment"] == "release 1"


def test_log_verify_json_is_one_object_also_when_the_log_is_broken(shipped_run, tmp_path):
    log = tmp_path / "audit.log"
    env = {"MMEVAL_AUDIT_LOG": str(log)}
    for _ in range(3):  # each verify appends its access decision to the log
        assert mmeval("verify", shipped_run("smoke").path, env=env).returncode == 0
    done = mmeval("log", "verify", "--json", "--log", log, env=env)
    assert done.returncode == 0, done.stderr
    result = one_json(done.stdout)
    assert result["ok"] is True and result["entries"] >= 3
    lines = log.read_text().splitlines()
    lines[1] = lines[1].replace('"verify"', '"VERIFY"').replace('"read-report"', '"READ-REPORT"')
    assert lines[1] != log.read_text().splitlines()[1]
    log.write_text("\n".join(lines) + "\n")
    broken = mmeval("log", "verify", "--json", "--log", log, env=env)
    assert broken.returncode == 4
    result = one_json(broken.stdout)
    assert result["ok"] is False and result["problems"]


def test_compare_junit_fails_a_regression_and_is_written_although_the_verdict_fails(shipped_run, tmp_path):
    def candidate_replays_baseline(spec: dict) -> None:
        spec["models"]["candidate"]["args"]["path"] = "data/smoke/baseline.jsonl"

    worse = tmp_path / "worse"
    assert mmeval("run", smoke_copy(tmp_path, candidate_replays_baseline), "--out", worse, "--quiet").returncode == 1
    xml = tmp_path / "compare.xml"
    base = shipped_run("smoke").path
    done = mmeval("compare", base, worse, "--fail-on-regression", "--resamples", "200", "--junit", xml, "--json")
    assert done.returncode == 1, done.stderr
    rows = json.loads(done.stdout)
    regressions = [r for r in rows if r["verdict"] == "REGRESSION"]
    assert regressions  # the candidate now gives the baseline's worse outputs
    counts = junit_counts(xml)
    assert counts["tests"] == len(rows) and counts["failures"] == len(regressions)
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert cases["candidate chrf no regression"].find("failure") is not None
    assert "paired-bootstrap" in cases["candidate chrf no regression"].find("failure").get("message")
    assert cases["baseline chrf no regression"].find("failure") is None  # same outputs in both runs


def test_compare_junit_skips_rows_without_an_interval(shipped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(shipped_run("smoke").path, run)
    (run / "records.jsonl").unlink()  # no per-sample states: no paired interval
    rows = compare_runs(shipped_run("smoke").path, run, resamples=50)
    untested = [r for r in rows if r["verdict"] in ("untested", "no direction")]
    assert untested
    path = tmp_path / "compare.xml"
    path.write_bytes(compare_junit(rows, "smoke"))
    assert junit_counts(path) == {"tests": len(rows), "failures": 0, "errors": 0, "skipped": len(untested)}
    skipped = next(ET.parse(path).getroot().iter("skipped"))
    assert "records.jsonl" in skipped.get("message")


def test_compare_junit_destination_missing_is_exit_2_and_writes_nothing(shipped_run, tmp_path):
    run = shipped_run("smoke").path
    done = mmeval("compare", run, run, "--junit", tmp_path / "missing" / "x.xml")
    assert done.returncode == 2 and done.stderr.startswith("error: --junit ")
    assert not (tmp_path / "missing").exists()


def test_help_lists_every_environment_variable_mmeval_reads():
    import re

    read = set()
    for source in (REPO / "mmeval").rglob("*.py"):
        read |= set(re.findall(r"MMEVAL_[A-Z_]+", source.read_text()))
    done = mmeval("--help")
    assert done.returncode == 0
    listed = set(re.findall(r"^  (MMEVAL_[A-Z_]+) ", done.stdout, re.M))
    assert listed == read
