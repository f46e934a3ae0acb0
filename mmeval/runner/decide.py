"""Decide a run: each metric's values from its merged state, thresholds, and the status."""

from __future__ import annotations

import math
from typing import Any

from ..progress import Progress
from ..suite import BoundMetric, Suite, result_key
from .state import Shard


def results(suite: Suite, shard: Shard, recorder: Any, progress: bool = False) -> list[dict[str, Any]]:
    """Every metric's values for every model, with intervals (the slow part: bootstraps)."""
    results = []
    bar = Progress(f"{suite.name}: values and intervals", sum(len(bm.models) for bm in suite.metrics), enabled=progress, unit="metrics")
    for bm in suite.metrics:
        for model in bm.models:
            bar.doing(f"{bm.label} of {model}")
            state = shard.states[(bm.label, model)]
            n = shard.counts[(bm.label, model)]
            unmeasured = _unmeasured(bm, n)
            values = bm.metric.compute(state)
            computed_note = getattr(bm.metric, "note", None)  # e.g. KID: how compute changed its subset size
            ci = {} if unmeasured or recorder is None else recorder.interval_fields(bm.label, bm.metric, model, state)
            fp = bm.metric.fingerprint()  # after compute: some record what compute chose
            directions = getattr(bm.metric, "extra_directions", {})
            not_comparable = getattr(bm.metric, "not_comparable", None)
            # Label metrics add a confusion matrix and per-class scores to their headline.
            details = getattr(bm.metric, "details", None)
            per_class = None if unmeasured or details is None else details(state)
            for i, (key, value) in enumerate(values.items()):
                extra = key.removeprefix(bm.metric.name + "_")
                entry = {
                    "model": model,
                    "metric": bm.label,
                    "key": result_key(bm.label, bm.metric, key, i),
                    "value": None if unmeasured else value,
                    "n": n,
                    "fingerprint": fp,
                    # An extra value (kid_std, a coverage) has its own direction, or none.
                    "higher_is_better": bm.metric.higher_is_better if i == 0 else directions.get(extra),
                }
                set_value(entry, unmeasured)
                if i == 0 and computed_note and "note" not in entry:
                    entry["note"] = computed_note
                if not_comparable:
                    entry["not_comparable"] = not_comparable
                if bm.against:
                    entry["against"] = bm.against
                if i == 0:
                    entry.update(ci)
                    if per_class:
                        entry["per_class"] = per_class
                results.append(entry)
            bar.update(1)
    bar.close()
    return results


def _unmeasured(bm: BoundMetric, n: int) -> str:
    """Why a metric has no value on `n` samples, or "" if it has one."""
    if n == 0:
        return f"no samples: where: {bm.where} matched no sample" if bm.where else "no samples"
    from ..report.records import set_level

    needs = getattr(bm.metric, "min_samples", 2 if set_level(bm.metric) else 1)
    return f"not measured: {bm.label} needs at least {needs} samples, got {n}" if n < needs else ""


def set_value(entry: dict[str, Any], why_missing: str) -> None:
    """JSON has no inf or NaN: an infinite value is `null` with `nonfinite: "+inf"`, and any
    other missing value is `null` with a `note` saying why (a null never passes a threshold)."""
    value = entry["value"]
    if value is None:
        entry["note"] = why_missing or "not measured"
    elif math.isinf(value):
        entry["value"], entry["nonfinite"] = None, "+inf" if value > 0 else "-inf"
    elif math.isnan(value):
        entry["value"], entry["note"] = None, f"undefined: {entry['metric']} gave NaN on {entry['n']} samples"


def true_value(entry: dict[str, Any]) -> float | None:
    """The value a threshold sees: infinities restored, missing values None."""
    if entry.get("nonfinite"):
        return float(entry["nonfinite"])
    return entry["value"]


def check_thresholds(specs: list[Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each threshold (a suite's ThresholdSpec: model, metric, min, max) against the results."""
    checks = []
    for t in specs:
        match = next((r for r in results if r["model"] == t.model and r["key"] == t.metric), None)
        value = None if match is None else true_value(match)
        passed = value is not None and (t.min is None or value >= t.min) and (t.max is None or value <= t.max)
        check: dict[str, Any] = {"model": t.model, "metric": t.metric, "min": t.min, "max": t.max,
                                 "value": match["value"] if match else None, "passed": passed}
        if match is not None and match.get("nonfinite"):
            check["nonfinite"] = match["nonfinite"]
        if value is None:  # never a pass: say what was not measured
            check["note"] = (match or {}).get("note") or "not measured: no such result"
        checks.append({k: v for k, v in check.items() if v is not None or k in ("value", "passed")})
    return checks


def status_of(blocked: bool, thresholds: list[dict[str, Any]]) -> str:
    """blocked (a gate stopped the run) | ungated (no thresholds: nothing was checked, which
    is not a pass: sign-off refuses it) | fail (a threshold missed) | pass."""
    if blocked:
        return "blocked"
    if not thresholds:
        return "ungated"
    return "fail" if any(not t["passed"] for t in thresholds) else "pass"


def failure_reason(thresholds: list[dict[str, Any]]) -> str:
    missed = [t for t in thresholds if not t["passed"]]
    if not missed:
        return ""
    parts = []
    for t in missed:
        bound = f">= {t['min']}" if "min" in t else f"<= {t['max']}"
        if t.get("nonfinite"):
            value = t["nonfinite"]
        elif t["value"] is None:
            value = t.get("note", "not measured")
        else:
            value = f"{t['value']:.4g}" if isinstance(t["value"], float) else t["value"]  # readable in a verdict line
        parts.append(f"{t['model']} {t['metric']} = {value} (needs {bound})")
    return "threshold missed: " + "; ".join(parts)
