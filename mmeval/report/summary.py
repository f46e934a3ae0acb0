"""The short human summary printed after a run: verdict, model x metric table, thresholds."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summarize(report: dict[str, Any], run_dir: str) -> str:
    out = [f"suite {report['suite']['name']}: {report['status'].upper()}" + (f" ({report['reason']})" if report.get("reason") else "")]
    results = report["results"]
    if results:
        models = list(dict.fromkeys(r["model"] for r in results))
        keys = list(dict.fromkeys(r["key"] for r in results))
        cell = {(r["model"], r["key"]): fmt(r["value"]) for r in results}
        rows = [["model"] + keys] + [[m] + [cell.get((m, k), "") for k in keys] for m in models]
        out += ["", table(rows)]
    if report["thresholds"]:
        out.append("")
        for t in report["thresholds"]:
            bound = f">= {t['min']}" if "min" in t else f"<= {t['max']}"
            mark = "ok  " if t["passed"] else "FAIL"
            out.append(f"{mark} {t['model']} {t['metric']} = {fmt(t['value'])} (needs {bound})")
    out += ["", f"report: {run_dir}/report.json (also report.md, report.html; signed in attestation.dsse.json)"]
    return "\n".join(out)
