"""`mmeval compare BASELINE_RUN CANDIDATE_RUN [--fail-on-regression] [--min-effect X] [--json] [--junit FILE]`.

Per (model, result key) present in both runs: the delta is candidate - baseline of the
values the reports show, and its 95% interval comes from

- a paired bootstrap of that same statistic (per-sample metrics: accuracy, F1, BLEU,
  RMSE, ...): sample ids are resampled jointly, each run's corpus-level value is
  recomputed from its per-sample metric states (`states` in `records.jsonl`, plaintext
  or sealed in the encrypted store) with the metric rebuilt from the report's `metrics`
  section, and the replicate differences give the percentiles;
- for set-level metrics (FID, KID, FAD, Vendi, ...): both runs' set-bootstrap
  replicates (`ci_replicates`), the two output sets being independent samples against
  fixed references.

The metric's `higher_is_better` says which sign is a regression: significant when the
whole interval lies on the bad side and the delta exceeds `--min-effect`. A row without
an interval is `untested` (never `ok`), and says why; a value with no better direction
(`kid_std`) gets `no direction`, which gates nothing. Exit codes: results whose
fingerprints differ are not comparable (2); each run needs `read-report`, and sealed
records `read-raw`, on the suite its signed attestation names (3 if denied; every read
is audited); `--fail-on-regression` exits 1
on a significant regression, else 2 if any row is untested. `--junit FILE` writes each
row as a JUnit test case (a regression fails, an untested row is skipped) whatever the
verdict, but not when the command errors.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_run, authorize_run_dir

PAIRED = "paired-bootstrap"
SET_DIFFERENCE = "set-bootstrap-difference"
NO_DIRECTION = "no direction"  # a value with no better side (kid_std) has no verdict to gate
MIN_REPLICATES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", type=Path, help="baseline run directory")
    parser.add_argument("candidate", type=Path, help="candidate run directory")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 on a significant regression, 2 if any row is untested")
    parser.add_argument("--min-effect", type=float, default=0.0, help="ignore regressions smaller than this (absolute)")
    parser.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write each regression check as JUnit XML to FILE (its folder must exist)")
    add_access_arguments(parser, run_key=True)


@dataclass(frozen=True)
class Access:
    """Who reads sealed records, under which policy, with which key ring and trusted run
    signer (None: env/defaults)."""

    principal: str | None = None
    policy: Path | None = None
    keyring: Path | None = None
    key: Path | None = None


@dataclass
class Run:
    """One run directory: its report, and its records once something needs them."""

    path: Path
    report: dict[str, Any]
    access: Access
    _records: list[dict[str, Any]] | None = None
    _unavailable: str = ""
    _loaded: bool = False
    _metrics: dict[str, Any] = field(default_factory=dict)

    def records(self) -> tuple[list[dict[str, Any]] | None, str]:
        """(records, "") or (None, why they cannot be had). AccessDenied/IntegrityError propagate."""
        if not self._loaded:
            self._records, self._unavailable = _read_records(self)
            self._loaded = True
        return self._records, self._unavailable


def load_report(run_dir: Path) -> dict[str, Any]:
    from ..errors import InputError

    try:
        report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}/report.json: not found; not a run directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{run_dir}/report.json: not valid JSON") from None
    except OSError as exc:
        raise InputError(f"{run_dir}/report.json: cannot read ({exc.strerror})") from None
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise InputError(f"{run_dir}/report.json: not an mmeval report (no 'results' list)")
    for i, r in enumerate(report["results"]):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("model", "metric", "key")):
            raise InputError(f"{run_dir}/report.json: results[{i}] is not a result entry")
    return report


def _read_records(run: Run) -> tuple[list[dict[str, Any]] | None, str]:
    from ..report.records import RECORDS, parse_records, read_records

    where = str(run.report.get("records") or RECORDS)
    if not where.startswith("store:"):
        if not (run.path / RECORDS).is_file():
            return None, f"{run.path} has no {RECORDS}"
        return read_records(run.path), ""
    return _read_sealed(run, where.removeprefix("store:"), parse_records)


def _read_sealed(run: Run, name: str, parse: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """Sealed records: authorize read-raw (exit 3 if denied), decrypt, audit the read."""
    from ..errors import InputError, SpecError
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path

    principal = authorize_run_dir("read-raw", run.path, principal=run.access.principal, policy=run.access.policy,
                                  key=run.access.key, anchors=[resolve_path(run.access.keyring)])  # the signed suite
    try:
        ring = KeyRing.load(resolve_path(run.access.keyring))
    except SpecError as exc:
        return None, f"records of {run.path} are sealed and cannot be opened: {exc}"
    from ..security.store import RecordStore

    from ..report.records import sealed_records_text

    store = RecordStore.open(run.path, ring, run.access.key)  # bound to the run signed by --key
    text = sealed_records_text(store, name)
    AuditLog.default().append("store-read", principal=principal, run_id=store.run_id, operation="compare", record_ids=[name])
    if not isinstance(text, str):
        raise InputError(f"{run.path}: sealed record {name!r} is not a records file")
    return parse(text, f"{run.path}: store:{name}"), ""


def compare_runs(
    baseline: Path, candidate: Path, *, min_effect: float = 0.0, resamples: int = 1000, seed: int = 0,
    access: Access | None = None,
) -> list[dict[str, Any]]:
    """One row per result present in both runs; raises InputError if fingerprints differ."""
    from ..errors import InputError

    access = access or Access()
    base_run = Run(Path(baseline), load_report(Path(baseline)), access)
    cand_run = Run(Path(candidate), load_report(Path(candidate)), access)
    base = {(r["model"], r["key"]): r for r in base_run.report["results"]}
    pairs = []
    for r in cand_run.report["results"]:
        if r.get("kind") in ("efficiency", "human"):  # timings depend on the machine; ratings on who rated
            continue
        b = base.get((r["model"], r["key"]))
        if b is None:
            continue
        if b.get("fingerprint") != r.get("fingerprint"):
            raise InputError(
                f"{r['model']} {r['key']}: fingerprints differ, results are not comparable "
                f"(baseline {b.get('fingerprint')!r}, candidate {r.get('fingerprint')!r})"
            )
        pairs.append((b, r))
    changed = adapters_changed(base_run.report, cand_run.report)
    rows = []
    for b, r in pairs:
        row = _compare_entry(b, r, base_run, cand_run, resamples, seed)
        if r["model"] in changed:
            row["adapter_changed"] = True
        row["regression"] = _is_regression(row, min_effect)
        row["verdict"] = _verdict(row)
        rows.append(row)
    return rows


def adapters_changed(baseline: dict[str, Any], candidate: dict[str, Any]) -> set[str]:
    """Models whose adapter fingerprint (weights, endpoint, settings) differs between two
    reports. Their rows are still compared (that is often the point: a new release), but
    say so, so a changed endpoint is never mistaken for the same model."""
    base, cand = baseline.get("models"), candidate.get("models")
    if not isinstance(base, dict) or not isinstance(cand, dict):
        return set()
    return {name for name, entry in cand.items()
            if isinstance(entry, dict) and isinstance(base.get(name), dict)
            and entry.get("adapter_sha256") and base[name].get("adapter_sha256")
            and entry["adapter_sha256"] != base[name]["adapter_sha256"]}


def _compare_entry(b: dict[str, Any], r: dict[str, Any], base_run: Run, cand_run: Run, resamples: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": r["model"], "metric": r["key"], "baseline": _number(b.get("value")), "candidate": _number(r.get("value")),
        "delta": None, "higher_is_better": r.get("higher_is_better", True),
        "paired": 0, "ci_low": None, "ci_high": None, "ci_method": None,
    }
    marks = sorted({str(e["not_comparable"]) for e in (b, r) if e.get("not_comparable")})
    if marks:
        row["not_comparable"] = "; ".join(marks)
    missing = [(side, e) for side, e in (("baseline", b), ("candidate", r)) if row[side] is None]
    if missing:
        side, entry = missing[0]
        why = entry.get("nonfinite") or entry.get("note") or "no value"
        return {**row, "note": f"{side} has no finite value ({why})"}
    row["delta"] = row["candidate"] - row["baseline"]
    if not isinstance(row["higher_is_better"], bool):  # e.g. kid_std: a spread, not a quality
        return {**row, "higher_is_better": None, "note": "neither a higher nor a lower value is better"}
    try:
        if _has_replicates(b) and _has_replicates(r):
            _set_difference(row, b, r)
        elif _set_level(r, cand_run) or _set_level(b, base_run):
            side = r if not _has_replicates(r) else b
            which = "candidate" if side is r else "baseline"
            row["note"] = f"no interval: the {which} result has no set-bootstrap replicates ({side.get('ci_note') or 'ci_replicates missing'})"
        elif r["key"] != r["metric"]:
            row["note"] = "no interval: an extra value of the metric, with no per-sample states or replicates of its own"
        else:
            _paired(row, r["metric"], base_run, cand_run, resamples, seed)
    except _Untested as exc:
        row["note"] = str(exc)
    return row


class _Untested(Exception):
    """Why a row gets no interval (it becomes the row's note)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _set_level(entry: dict[str, Any], run: Run) -> bool:
    from ..report.bootstrap import SET_LEVEL

    section = run.report.get("metrics")
    spec = section.get(entry["metric"]) if isinstance(section, dict) else None
    use = spec.get("use") if isinstance(spec, dict) else None
    return entry.get("ci_method") == "set-bootstrap" or use in SET_LEVEL or entry["metric"] in SET_LEVEL


def _has_replicates(entry: dict[str, Any]) -> bool:
    reps = entry.get("ci_replicates")
    return isinstance(reps, list) and sum(1 for v in reps if _number(v) is not None) >= MIN_REPLICATES


def _set_difference(row: dict[str, Any], b: dict[str, Any], r: dict[str, Any]) -> None:
    from ..report.bootstrap import independent_difference_replicates, percentile_interval

    base_reps = [float(v) for v in b["ci_replicates"] if _number(v) is not None]
    cand_reps = [float(v) for v in r["ci_replicates"] if _number(v) is not None]
    diffs = independent_difference_replicates(base_reps, row["baseline"], cand_reps, row["candidate"])
    row["ci_low"], row["ci_high"] = percentile_interval(diffs)
    row.update(ci_method=SET_DIFFERENCE, ci_replicate_counts=[len(base_reps), len(cand_reps)])


def _paired(row: dict[str, Any], label: str, base_run: Run, cand_run: Run, resamples: int, seed: int) -> None:
    from ..report.bootstrap import _merge_all, headline, paired_replicates, paired_stats_replicates, percentile_interval

    metric = _rebuilt_metric(label, base_run, cand_run)
    model = row["model"]
    base_states, why = _states(base_run, model, label)
    cand_states, why_c = _states(cand_run, model, label)
    if base_states is None or cand_states is None:
        raise _Untested(f"no interval: {why or why_c}")
    if set(base_states) != set(cand_states):
        common = len(set(base_states) & set(cand_states))
        raise _Untested(f"no interval: the runs scored different samples ({len(base_states)} and {len(cand_states)}, {common} in common)")
    ids = sorted(base_states)
    if len(ids) < 2:
        raise _Untested(f"no interval: {len(ids)} sample(s)")
    base_list = [_decode(base_states[i], metric, base_run, i) for i in ids]
    cand_list = [_decode(cand_states[i], metric, cand_run, i) for i in ids]
    for side, states, run in (("baseline", base_list, base_run), ("candidate", cand_list, cand_run)):
        value = headline(metric, _merge_all(metric, states))
        if not math.isclose(value, row[side], rel_tol=1e-6, abs_tol=1e-9):
            raise _Untested(f"no interval: {run.path}'s per-sample states give {value:.6g}, not the reported {row[side]:.6g}")
    fingerprint = metric.fingerprint()  # after compute: some metrics record what compute chose
    expected = next(e["fingerprint"] for e in cand_run.report["results"] if e["model"] == model and e["key"] == label)
    if fingerprint != expected:
        raise _Untested(f"no interval: the rebuilt {label} has fingerprint {fingerprint!r}, the result {expected!r}")
    rows = _stat_rows(metric, base_list, cand_list)
    if all(base_states[i] == cand_states[i] for i in ids):  # the same per-sample states: every replicate differs by 0
        diffs = [0.0] * resamples
    elif rows is not None:  # the same draws, as arrays (report/bootstrap.py)
        diffs = paired_stats_replicates(metric, *rows, resamples=resamples, seed=seed)
    else:
        groups = [json.dumps([base_states[i], cand_states[i]], sort_keys=True) for i in ids]
        diffs = paired_replicates(metric, base_list, cand_list, resamples=resamples, seed=seed, groups=groups)
    if len(diffs) < max(MIN_REPLICATES, resamples // 2):
        raise _Untested(f"no interval: only {len(diffs)} of {resamples} paired replicates were finite")
    row["ci_low"], row["ci_high"] = percentile_interval(diffs)
    row.update(paired=len(ids), ci_method=PAIRED, ci_resamples=resamples)


def _stat_rows(metric: Any, baseline: list[Any], candidate: list[Any]) -> tuple[Any, Any] | None:
    """Both runs' per-sample states as statistic rows (n, k) each, for a metric that has
    them (metrics/base.py); None otherwise, or once the rows would grow too wide."""
    import numpy as np

    from ..metrics.base import has_sample_stats

    if not has_sample_stats(metric) or not callable(getattr(metric, "state_stats", None)):
        return None
    rows = []
    for state in [*baseline, *candidate]:
        rows.append(metric.state_stats(state))
        if not has_sample_stats(metric):  # a confusion table past its cell cap
            return None
    width = max(len(r) for r in rows)
    table = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        table[i, : len(row)] = row
    return table[: len(baseline)], table[len(baseline) :]


def _rebuilt_metric(label: str, base_run: Run, cand_run: Run) -> Any:
    """The metric as the runs applied it, from their reports' `metrics` sections."""
    from ..errors import MmevalError
    from ..plugins import build
    from ..registry import METRICS

    if label in cand_run._metrics:
        return cand_run._metrics[label]
    sections = [run.report.get("metrics", {}).get(label) if isinstance(run.report.get("metrics"), dict) else None for run in (base_run, cand_run)]
    if any(not isinstance(s, dict) for s in sections):
        raise _Untested(f"no interval: a report does not say how {label!r} was applied (no 'metrics' section; made by an older mmeval)")
    how = [{k: s.get(k) for k in ("use", "args", "against", "where")} for s in sections]
    if how[0] != how[1]:
        differs = ", ".join(k for k in how[0] if how[0][k] != how[1][k])
        raise _Untested(f"no interval: {label!r} was applied differently in the two runs ({differs})")
    spec = sections[1]
    if not isinstance(spec.get("use"), str) or not isinstance(spec.get("args") or {}, dict):
        raise _Untested(f"no interval: the report's metrics.{label} is malformed")
    suite = cand_run.report.get("suite") if isinstance(cand_run.report.get("suite"), dict) else {}
    base_dir = Path(str(suite.get("path") or cand_run.path / "suite.yaml")).parent
    try:
        metric = build(METRICS, spec["use"], spec.get("args") or {}, f"{cand_run.path}/report.json: metrics.{label}", base_dir)
    except (MmevalError, OSError) as exc:
        raise _Untested(f"no interval: cannot rebuild {label!r} ({exc})") from None
    cand_run._metrics[label] = metric
    return metric


def _states(run: Run, model: str, label: str) -> tuple[dict[str, Any] | None, str]:
    records, why = run.records()
    if records is None:
        return None, why
    states: dict[str, Any] = {}
    scored = 0
    for row in records:
        if row["model"] != model or label not in (row.get("metrics") or {}):
            continue
        scored += 1
        state = (row.get("states") or {}).get(label) if isinstance(row.get("states") or {}, dict) else None
        if state is not None:
            states[row["id"]] = state
    if scored == 0:
        return None, f"{run.path}'s records hold no {model} {label} samples"
    if len(states) < scored:
        return None, f"{run.path}'s records keep no per-sample {label} state for {scored - len(states)} of {scored} samples"
    return states, ""


def _decode(encoded: Any, metric: Any, run: Run, sample_id: str) -> Any:
    from ..errors import InputError
    from ..report.state_codec import decode_state

    try:
        return decode_state(encoded, metric.init())
    except InputError as exc:
        raise InputError(f"{run.path}: record {sample_id!r}: {exc}") from None


def _verdict(row: dict[str, Any]) -> str:
    if row["higher_is_better"] is None:
        return NO_DIRECTION
    if row["ci_low"] is None:
        return "untested"
    return "REGRESSION" if row["regression"] else "ok"


def _is_regression(row: dict[str, Any], min_effect: float) -> bool:
    if row["ci_low"] is None or row["delta"] is None or math.isnan(row["delta"]):
        return False
    sign = 1 if row["higher_is_better"] else -1
    worse_bound = sign * row["ci_high"] if row["higher_is_better"] else sign * row["ci_low"]
    # Significant: the whole interval on the bad side, and the effect beyond the minimum.
    return worse_bound < 0 and -sign * row["delta"] > min_effect


def _interval_text(row: dict[str, Any]) -> str:
    from ..report.summary import fmt

    if row["ci_low"] is None:
        return "n/a"
    how = f"paired n={row['paired']}" if row["ci_method"] == PAIRED else "sets {}x{}".format(*row["ci_replicate_counts"])
    return f"[{fmt(row['ci_low'])}, {fmt(row['ci_high'])}] {how}"


def main(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..report.summary import fmt, not_comparable, table

    if args.resamples < MIN_REPLICATES:
        raise SpecError(f"--resamples must be at least {MIN_REPLICATES} (got {args.resamples})")
    if args.junit:
        from ..report.junit import check_destination

        check_destination(args.junit)
    for run_dir in (args.baseline, args.candidate):  # before reading either (exit 4 if unverifiable, 3 if denied)
        authorize_run(args, "read-report", run_dir)
    access = Access(args.principal, args.policy, args.keyring, args.key)
    rows = compare_runs(args.baseline, args.candidate, min_effect=args.min_effect, resamples=args.resamples, seed=args.seed, access=access)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        out = [["model", "metric", "baseline", "candidate", "delta", "95% CI of delta", "verdict"]]
        for r in rows:
            mark = not_comparable(r)
            metric = r["metric"] + (f" [{mark}]" if mark else "")
            out.append([r["model"], metric, fmt(r["baseline"]), fmt(r["candidate"]), fmt(r["delta"]), _interval_text(r), r["verdict"]])
        print(table(out) if rows else "no results in common")
        for model in sorted({r["model"] for r in rows if r.get("adapter_changed")}):
            print(f"note: {model} ran with a different adapter fingerprint in the two runs (weights, endpoint or settings)")
        for r in rows:
            if r["verdict"] in ("untested", NO_DIRECTION):
                print(f"{r['verdict']}: {r['model']} {r['metric']}: {r['note']}")
    if args.junit:  # the verdict below may fail: that is when CI needs the file most
        _write_junit(args.junit, rows, args.candidate)
    regressed = [r for r in rows if r["regression"]]
    untested = [r for r in rows if r["verdict"] == "untested"]
    if regressed and not args.json:
        print(f"{len(regressed)} significant regression(s): " + ", ".join(f"{r['model']} {r['metric']}" for r in regressed))
    if not args.fail_on_regression:
        return 0
    if regressed:
        return 1
    if untested or not rows:
        what = f"{len(untested)} of {len(rows)} comparison(s) untested, first {untested[0]['model']} {untested[0]['metric']}: {untested[0]['note']}" if rows else "no results in common"
        sys.stderr.write(f"error: cannot rule out a regression: {what}\n")
        return 2
    return 0


def _write_junit(path: Path, rows: list[dict[str, Any]], candidate: Path) -> None:
    from ..report.junit import compare_junit, write_junit

    suite = load_report(candidate).get("suite")
    name = suite.get("name") if isinstance(suite, dict) else None
    write_junit(path, compare_junit(rows, str(name or candidate.name)))
