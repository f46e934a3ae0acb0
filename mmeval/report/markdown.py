"""`report.md`: the verdict, thresholds and the model x metric table, for CI logs and
GitHub's job summary."""

from __future__ import annotations

from typing import Any

from .summary import fmt, not_comparable, rank_rows, result_footnotes, run_caveats, value_text, verdict_reason

# `ungated` is not a pass: nothing was checked, so it gets no green tick.
ICONS = {"pass": "✅ PASS", "fail": "❌ FAIL", "blocked": "⛔ BLOCKED", "ungated": "⚪ UNGATED"}


SET_LEVEL_MARK = "†"


def _cell(result: dict[str, Any]) -> str:
    text = value_text(result)
    if result.get("ci_low") is not None and result.get("ci_high") is not None:
        text += f" [{fmt(result['ci_low'])}, {fmt(result['ci_high'])}]"
        if result.get("ci_method") == "set-bootstrap":
            text += SET_LEVEL_MARK
    mark = not_comparable(result)
    return text + (f" *{mark}*" if mark else "")


def _interval_notes(results: list[dict[str, Any]]) -> list[str]:
    """What a † interval is (it differs from a per-sample one), and why a set-level result has none."""
    lines = []
    marked = [r for r in results if r.get("ci_method") == "set-bootstrap" and r.get("ci_low") is not None]
    if marked:
        replicates = "/".join(str(n) for n in sorted({r.get("ci_resamples") for r in marked}))
        lines.append(f"{SET_LEVEL_MARK} set-level bootstrap over the outputs ({replicates} replicates; any reference set fixed)")
    lines += [f"- {r['model']} {r['key']}: {r['ci_note']}" for r in results if r.get("ci_low") is None and r.get("ci_note")]
    lines += [f"- {line}" for line in result_footnotes(results) if line.startswith("note: ")]
    return lines + [""] if lines else []


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"## mmeval · {report['suite']['name']} · {ICONS.get(report['status'], report['status'])}", ""]
    reason = verdict_reason(report) if report["status"] != "pass" else report.get("reason")
    if reason:
        lines += [f"**Why:** {reason}", ""]
    for caveat in run_caveats(report):
        lines += [f"**{caveat.split(':')[0].capitalize()}:**{caveat.split(':', 1)[1]}", ""]
    if report["thresholds"]:
        lines += ["| | model | metric | value | needs |", "|---|---|---|---|---|"]
        for t in report["thresholds"]:
            bound = f"≥ {t['min']}" if "min" in t else f"≤ {t['max']}"
            value = value_text(t)
            lines.append(f"| {'✅' if t['passed'] else '❌'} | {t['model']} | {t['metric']} | {value} | {bound} |")
        lines.append("")
    results = report["results"]
    if results:
        models = list(dict.fromkeys(r["model"] for r in results))
        keys = list(dict.fromkeys(r["key"] for r in results))
        cell = {(r["model"], r["key"]): _cell(r) for r in results}
        lines += ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {m} | " + " | ".join(cell.get((m, k), "") for k in keys) + " |" for m in models]
        lines.append("")
        lines += _interval_notes(results)
    for gate in report.get("gates", []):
        found = ", ".join(f"{f['kind']} ×{f['count']} ({f['model']})" for f in gate["findings"]) or "no findings"
        lines.append(f"- gate `{gate['gate']}`: {found}")
    ranks = rank_rows(report)
    if ranks:  # a distributed run: the figures above are the whole run's, these each rank's
        lines += ["", f"**Ranks** (world size {len(ranks) - 1}):", "", "| " + " | ".join(ranks[0]) + " |", "|---" * len(ranks[0]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in ranks[1:]]
    prov = report["provenance"]
    lines += ["", f"<sub>run {report['run_id']} · mmeval {prov['mmeval_version']} · {prov['device']} · seed {prov['seed']} · suite sha256 {report['suite']['sha256'][:12]}</sub>", ""]
    return "\n".join(lines)
