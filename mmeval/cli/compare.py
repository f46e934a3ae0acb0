"""`mmeval compare BASELINE_RUN CANDIDATE_RUN [--fail-on-regression] [--min-effect X]`.

Per (model, metric) headline: the delta candidate - baseline with a paired bootstrap 95%
interval over per-sample values (paired by sample id, from `records.jsonl`); the metric's
`higher_is_better` says which sign is a regression. A regression is significant when the
whole interval lies on the bad side and the delta is larger than `--min-effect`. Results
whose fingerprints differ are not comparable: exit 2 naming what differs.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", type=Path, help="baseline run directory")
    parser.add_argument("candidate", type=Path, help="candidate run directory")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 on a significant regression")
    parser.add_argument("--min-effect", type=float, default=0.0, help="ignore regressions smaller than this (absolute)")
    parser.add_argument("--resamples", type=int, default=2000, help="paired bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def load_run(run_dir: Path) -> tuple[dict[str, Any], dict[tuple[str, str, str], float]]:
    from ..errors import InputError
    from ..report.records import read_records

    try:
        report = json.loads((run_dir / "report.json").read_text())
    except FileNotFoundError:
        raise InputError(f"{run_dir}/report.json: not found; not a run directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{run_dir}/report.json: not valid JSON") from None
    per_sample = {}
    for row in read_records(run_dir):
        for label, value in row.get("metrics", {}).items():
            if value is not None:
                per_sample[(row["model"], label, row["id"])] = value
    return report, per_sample


def compare_runs(baseline: Path, candidate: Path, *, min_effect: float = 0.0, resamples: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """One row per headline result present in both runs; raises InputError if fingerprints differ."""
    from ..errors import InputError
    from ..report.bootstrap import paired_delta_interval

    base_report, base_samples = load_run(baseline)
    cand_report, cand_samples = load_run(candidate)
    base = {(r["model"], r["key"]): r for r in base_report["results"]}
    rows = []
    for r in cand_report["results"]:
        if r.get("kind") == "efficiency":  # timings depend on the machine, not the model's quality
            continue
        b = base.get((r["model"], r["key"]))
        if b is None:
            continue
        if b["fingerprint"] != r["fingerprint"]:
            raise InputError(
                f"{r['model']} {r['key']}: fingerprints differ, results are not comparable "
                f"(baseline {b['fingerprint']!r}, candidate {r['fingerprint']!r})"
            )
        row = {"model": r["model"], "metric": r["key"], "baseline": b["value"], "candidate": r["value"], "higher_is_better": r.get("higher_is_better", True)}
        ids = sorted(i for (m, k, i) in cand_samples if m == r["model"] and k == r["metric"] and (m, k, i) in base_samples)
        if r["key"] == r["metric"] and len(ids) >= 2:
            # Paired by sample id: the interval reflects only how the two runs differ per sample.
            delta, low, high = paired_delta_interval(
                [base_samples[(r["model"], r["metric"], i)] for i in ids],
                [cand_samples[(r["model"], r["metric"], i)] for i in ids],
                resamples=resamples, seed=seed,
            )
            row.update(paired=len(ids), ci_low=low, ci_high=high)
        else:  # set-level or extra values: no per-sample pairing, report the plain delta
            delta = None if r["value"] is None or b["value"] is None else r["value"] - b["value"]
            row.update(paired=0, ci_low=None, ci_high=None)
        row["delta"] = delta
        row["regression"] = _is_regression(row, min_effect)
        rows.append(row)
    return rows


def _is_regression(row: dict[str, Any], min_effect: float) -> bool:
    if row["ci_low"] is None or row["delta"] is None or math.isnan(row["delta"]):
        return False
    sign = 1 if row["higher_is_better"] else -1
    worse_bound = sign * row["ci_high"] if row["higher_is_better"] else sign * row["ci_low"]
    # Significant: the whole interval on the bad side, and the effect beyond the minimum.
    return worse_bound < 0 and -sign * row["delta"] > min_effect


def main(args: argparse.Namespace) -> int:
    from ..report.summary import fmt, table

    rows = compare_runs(args.baseline, args.candidate, min_effect=args.min_effect, resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        out = [["model", "metric", "baseline", "candidate", "delta", "95% CI (paired)", "verdict"]]
        for r in rows:
            ci = f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] n={r['paired']}" if r["ci_low"] is not None else "n/a"
            out.append([r["model"], r["metric"], fmt(r["baseline"]), fmt(r["candidate"]), fmt(r["delta"]), ci, "REGRESSION" if r["regression"] else "ok"])
        print(table(out) if rows else "no results in common")
    regressed = [r for r in rows if r["regression"]]
    if regressed:
        print(f"{len(regressed)} significant regression(s): " + ", ".join(f"{r['model']} {r['metric']}" for r in regressed))
    return 1 if regressed and args.fail_on_regression else 0
