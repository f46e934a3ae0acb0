"""The short human summary printed after a run: verdict, model x metric table, thresholds.

Also the wording every view shares (stdout, report.md, report.html), so they agree:
how a value reads (`value_text`: numbers, "+inf", a null value's note), what a status
says (`verdict_reason`), which way a result is better (`direction`), and the mark of a
number that must not be compared with published ones (`not_comparable`).
"""

from __future__ import annotations

from typing import Any

UNGATED_REASON = "no thresholds: nothing was gated"
DEFAULT_REASONS = {"pass": "every threshold met and no gate blocked", "ungated": UNGATED_REASON}
NOT_COMPARABLE_MARK = "*"


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def value_text(result: dict[str, Any]) -> str:
    """A result's value as people read it: the number, "+inf"/"-inf", or a null value's note."""
    if result.get("nonfinite"):
        return str(result["nonfinite"])
    if result.get("value") is None and result.get("note"):
        return str(result["note"])
    return fmt(result.get("value"))


def verdict_reason(report: dict[str, Any]) -> str:
    """Why the status is what it is: the report's reason, else the status's default wording."""
    return report.get("reason") or DEFAULT_REASONS.get(report.get("status", ""), "")


def direction(result: dict[str, Any]) -> str | None:
    """"higher" or "lower" (is better), or None when the result declares no direction."""
    better = result.get("higher_is_better")
    return None if better is None else ("higher" if better else "lower")


def not_comparable(result: dict[str, Any]) -> str:
    """The "not comparable: REASON" mark of a result, or "" when it is comparable."""
    reason = result.get("not_comparable")
    return f"not comparable: {reason}" if reason else ""


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(result: dict[str, Any], limit: int = 32) -> str:
    text = value_text(result)
    if len(text) > limit:  # a long note: the full text is listed under the table
        text = text[: limit - 1] + "…"
    return text + (f" {NOT_COMPARABLE_MARK}" if result.get("not_comparable") else "")


def result_footnotes(results: list[dict[str, Any]]) -> list[str]:
    """Lines under a results table: what the not-comparable mark means, and each note."""
    lines = []
    marks: dict[str, dict[str, None]] = {}  # mark -> the keys carrying it, in table order
    for r in results:
        if r.get("not_comparable"):
            marks.setdefault(not_comparable(r), {})[r["key"]] = None
    lines += [f"{NOT_COMPARABLE_MARK} {mark}: {', '.join(keys)}" for mark, keys in marks.items()]
    notes: dict[str, list[str]] = {}  # a note -> the results carrying it: one line each, however many
    for r in results:
        if r.get("note"):
            notes.setdefault(str(r["note"]), []).append(f"{r['model']} {r['key']}")
    lines += [f"note: {', '.join(where)}: {note}" for note, where in notes.items()]
    return lines


def run_caveats(report: dict[str, Any]) -> list[str]:
    """What every view says next to the verdict when the run was not the suite as written:
    a `--limit` subset, `--set` overrides."""
    caveats = []
    partial = report.get("dataset", {}).get("partial")
    if partial:
        caveats.append(f"partial: {partial}")
    overrides = report.get("suite", {}).get("overrides")
    if overrides:
        caveats.append("overrides (--set): " + ", ".join(overrides))
    review = ratings_caveat(report)
    if review:
        caveats.append(review)
    return caveats


def ratings_caveat(report: dict[str, Any]) -> str:
    """Why the run's human ratings are not all in, or "" (no review, or every rating summarized)."""
    review = report.get("review")
    if not isinstance(review, dict):
        return ""
    summary = review.get("summary")
    if not summary:
        return f"human ratings: not collected yet ({len(review['samples'])} samples x {review['raters_per_sample']} raters)"
    return f"human ratings incomplete: {summary['incomplete']}" if summary.get("incomplete") else ""


def rank_rows(report: dict[str, Any]) -> list[list[str]]:
    """A distributed run's ranks as table rows (a header first), or [] for one process:
    where each ran, its samples and seconds, and each model's throughput on it."""
    ranks = report.get("ranks") or []
    if not ranks:
        return []
    models = list(dict.fromkeys(m for r in ranks for m in r["models"]))
    rows = [["rank", "host", "device", "samples", "seconds", *(f"{m} samples/s" for m in models)]]
    for r in ranks:
        rates = [fmt(r["models"].get(m, {}).get("throughput_sps")) for m in models]
        rows.append([str(r["rank"]), str(r["host"]), str(r["device"]), str(r["samples"]), fmt(r["seconds"]), *rates])
    return rows


def summarize(report: dict[str, Any], run_dir: str) -> str:
    reason = report.get("reason") if report["status"] == "pass" else verdict_reason(report)
    out = [f"suite {report['suite']['name']}: {report['status'].upper()}" + (f" ({reason})" if reason else "")]
    out += [f"  {caveat}" for caveat in run_caveats(report)]
    results = report["results"]
    if results:
        models = list(dict.fromkeys(r["model"] for r in results))
        keys = list(dict.fromkeys(r["key"] for r in results))
        cell = {(r["model"], r["key"]): _cell(r) for r in results}
        rows = [["model"] + keys] + [[m] + [cell.get((m, k), "") for k in keys] for m in models]
        out += ["", table(rows)]
        footnotes = result_footnotes(results)
        if footnotes:
            out += [""] + footnotes
    if report["thresholds"]:
        out.append("")
        for t in report["thresholds"]:
            bound = f">= {t['min']}" if "min" in t else f"<= {t['max']}"
            mark = "ok  " if t["passed"] else "FAIL"
            value = value_text(t)
            out.append(f"{mark} {t['model']} {t['metric']} = {value} (needs {bound})")
    reused = [f"{name} {m['reused']}/{m['reused'] + m.get('generated', 0)}" for name, m in report.get("models", {}).items() if m.get("reused")]
    if reused:  # their efficiency figures were not measured in this run
        out += ["", "outputs reused from the resume cache: " + ", ".join(reused)]
    review = report.get("review")
    if review and not review.get("summary"):
        out += ["", f"review: {len(review['samples'])} samples await ratings by {review['raters_per_sample']} "
                f"rater(s) each: mmeval review serve {run_dir}, then mmeval review summarize {run_dir}"]
    ranks = rank_rows(report)
    if ranks:  # the figures above are the whole run's
        out += ["", f"ranks ({len(ranks) - 1}, merged on rank 0):", table(ranks)]
    out += ["", f"report: {run_dir}/report.json (also report.md, report.html; signed in attestation.dsse.json)"]
    return "\n".join(out)
