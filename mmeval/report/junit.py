"""JUnit XML for CI test reporters: a run's threshold checks, a comparison's regression checks.

`run_junit` and `compare_junit` are pure: report dict or comparison rows in, XML bytes
out. `check_destination` runs before the command's work, so a mistyped folder fails in a
second, not after the run. The shape is the one CI reporters (GitHub, GitLab, Jenkins) read: `testsuites > testsuite >
testcase`, a `<failure>` for a check that failed and a `<skipped>` for one that was not
made. Counts agree with the exit code: a run that exits 1 has at least one failure.

    >>> run_junit({"suite": {"name": "s"}, "status": "ungated", "thresholds": []}).count(b'tests="0"')
    2
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .summary import fmt, value_text, verdict_reason

REGRESSION = "REGRESSION"
UNTESTED = ("untested", "no direction")  # compare verdicts that checked nothing


def check_destination(path: Path) -> None:
    """InputError (exit 2) unless `path` can be written: an existing, writable folder."""
    from ..errors import InputError

    folder = path.parent
    if path.is_dir():
        raise InputError(f"--junit {path}: is a folder; name the XML file to write")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--junit {path}: {folder} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"--junit {path}: folder {folder} is not writable")


def write_junit(path: Path, data: bytes) -> None:
    from ..fsutil import write_atomic

    check_destination(path)  # again: the folder may have gone while the command ran
    write_atomic(path, data)


def run_junit(report: dict[str, Any]) -> bytes:
    """One test case per threshold check of `report` (a report.json dict). A blocked run
    has no threshold checks (nothing was scored), so it gets one failing `gates` case:
    a blocked run must never read as an empty, green test suite."""
    suite = str(report["suite"]["name"])
    classname = f"mmeval.{suite}"
    cases = [_threshold_case(classname, t) for t in report.get("thresholds") or []]
    if report.get("status") == "blocked":
        cases.append(_case(classname, "gates", failure=verdict_reason(report) or "a gate blocked the run", kind="gate"))
    return _document(f"mmeval run {suite}", cases)


def compare_junit(rows: list[dict[str, Any]], suite: str) -> bytes:
    """One test case per regression check (a row of `compare_runs`): a failure for a
    significant regression, skipped for a row without an interval or a better direction."""
    classname = f"mmeval.compare.{suite}"
    cases = []
    for row in rows:
        name = f"{row['model']} {row['metric']} no regression"
        if row["verdict"] == REGRESSION:
            cases.append(_case(classname, name, failure=_regression_message(row), kind="regression"))
        elif row["verdict"] in UNTESTED:
            cases.append(_case(classname, name, skipped=f"{row['verdict']}: {row.get('note', '')}".rstrip(": ")))
        else:
            cases.append(_case(classname, name))
    return _document(f"mmeval compare {suite}", cases)


def _threshold_case(classname: str, check: dict[str, Any]) -> ET.Element:
    bound = _bound(check)
    name = f"{check['model']} {check['metric']} {bound}"
    if check["passed"]:
        return _case(classname, name)
    message = f"{check['model']} {check['metric']} = {value_text(check)}, needs {bound}"
    return _case(classname, name, failure=message, kind="threshold")


def _bound(check: dict[str, Any]) -> str:
    parts = [f">= {check['min']}"] if "min" in check else []
    parts += [f"<= {check['max']}"] if "max" in check else []
    return ", ".join(parts)


def _regression_message(row: dict[str, Any]) -> str:
    return (f"{row['model']} {row['metric']}: {fmt(row['baseline'])} -> {fmt(row['candidate'])} "
            f"(delta {fmt(row['delta'])}, 95% CI [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}], {row['ci_method']})")


def _case(classname: str, name: str, *, failure: str | None = None, kind: str = "", skipped: str | None = None) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name, time="0")
    if failure is not None:  # `type` is what failed: threshold, regression or gate
        ET.SubElement(case, "failure", message=failure, type=kind).text = failure
    elif skipped is not None:
        ET.SubElement(case, "skipped", message=skipped)
    return case


def _document(name: str, cases: list[ET.Element]) -> bytes:
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases if c.find("failure") is not None)),
        "errors": "0",  # an errored command writes no file at all
        "skipped": str(sum(1 for c in cases if c.find("skipped") is not None)),
    }
    root = ET.Element("testsuites", name=name, **counts)
    suite = ET.SubElement(root, "testsuite", name=name, **counts)
    suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
