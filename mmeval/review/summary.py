"""Ratings as report results: `human_preference` (model a's win rate over b, with its
Bradley–Terry strength and agreement as extra keys) and `human_<criterion>` per model,
each with a seeded bootstrap interval over samples; and the Spearman correlation of human
scores with each automatic metric over the rated samples.

Before anyone has rated, the same results are present as not measured, so a threshold on
them is never a pass (runner/decide.py). The report's `review` section is the plan the run
made (`review_section`); its `summary` is what the ratings gave (`summarize_ratings`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .aggregate import Answer, Estimate, agreement, criterion_means, preference

RESAMPLES = 1000
NOT_RATED = "not measured: no human ratings yet"


def review_keys(spec: Any) -> dict[str, set[str]]:
    """The result keys a suite's `review:` gives each model (for threshold checks)."""
    a, b = spec.pairwise.a, spec.pairwise.b
    keys: dict[str, set[str]] = {a: {"human_preference", "human_preference_strength", "human_preference_agreement"}, b: set()}
    for c in spec.criteria:
        for model in (a, b):
            keys[model].update({f"human_{c.name}", f"human_{c.name}_agreement"})
    return keys


def review_section(spec: Any, chosen: list[str], sealed: bool) -> dict[str, Any]:
    """The report's record of what people are to rate."""
    return {
        "pairwise": {"a": spec.pairwise.a, "b": spec.pairwise.b},
        "criteria": [{"name": c.name, "scale": c.scale, **({"description": c.description} if c.description else {})}
                     for c in spec.criteria],
        "question": spec.question,
        "raters_per_sample": spec.raters_per_sample,
        "stratify": spec.stratify,
        "samples": chosen,
        "material": "store" if sealed else "files",
    }


def answers_of(entries: Sequence[dict[str, Any]], a: str, b: str) -> dict[str, list[Answer]]:
    """Un-blinded answers: `"preference"` (choice in a/b terms) and, per model, its scores.
    A rater's later answer to the same sample replaces the earlier one."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        latest[(e["rater"], e["sample_id"])] = e
    out: dict[str, list[Answer]] = {"preference": [], a: [], b: []}
    for e in latest.values():
        if set(e["shown"]) != {a, b}:
            continue  # rated under another pairing: not evidence for this one
        winner = {"left": e["shown"][0], "right": e["shown"][1]}.get(e["pick"])
        choice = "tie" if winner is None else ("a" if winner == a else "b")
        out["preference"].append(Answer(e["sample_id"], e["rater"], choice))
        for model in (a, b):
            out[model].append(Answer(e["sample_id"], e["rater"], choice, dict(e["scores"].get(model, {}))))
    return out


def human_results(section: dict[str, Any], entries: Sequence[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The report results the ratings give (not measured where there are none)."""
    from ..runner.decide import set_value

    a, b = section["pairwise"]["a"], section["pairwise"]["b"]
    answers = answers_of(entries, a, b)
    fingerprint = f"human|pairwise:{a}>{b}|bootstrap:{RESAMPLES}|seed:{seed}|mmeval:{__version__}"
    rows: list[dict[str, Any]] = []

    def add(model: str, metric: str, extra: str, estimate: Estimate | float | None, n: int, why: str = NOT_RATED,
            against: str | None = None) -> None:
        key = f"{metric}_{extra}" if extra else metric
        entry: dict[str, Any] = {"model": model, "metric": metric, "key": key,
                                 "value": estimate.value if isinstance(estimate, Estimate) else estimate, "n": n,
                                 "fingerprint": fingerprint, "higher_is_better": True, "kind": "human"}
        if against:
            entry["against"] = against
        set_value(entry, why)
        if isinstance(estimate, Estimate) and entry["value"] is not None:
            if all(map(math.isfinite, (estimate.ci_low, estimate.ci_high))):
                entry.update(ci_low=estimate.ci_low, ci_high=estimate.ci_high)
            else:  # JSON has no infinity, and a finite stand-in would claim a bound the data do not give
                entry["ci_note"] = ("no finite 95% interval: in the bootstrap the win rate reaches "
                                    f"{'0' if estimate.ci_low == -math.inf else '1'}, where the strength is unbounded")
        rows.append(entry)

    undefined = "undefined: fewer than two raters shared a sample, or they all gave the same answer"
    if answers["preference"]:
        p = preference(answers["preference"], RESAMPLES, seed)
        add(a, "human_preference", "", p.win_rate, p.win_rate.n, against=b)
        add(a, "human_preference", "strength", p.strength, p.strength.n, against=b)
        add(a, "human_preference", "agreement", p.agreement, p.win_rate.n, undefined, against=b)
    else:
        for extra in ("", "strength", "agreement"):
            add(a, "human_preference", extra, None, 0, against=b)
    for model in (a, b):
        scale = {c["name"]: c["scale"] for c in section["criteria"]}
        means = criterion_means(answers[model], scale, RESAMPLES, seed) if answers[model] else {}
        for name in scale:
            mean = means.get(name)
            add(model, f"human_{name}", "", mean, mean.n if mean else 0)
            scored = [x for x in answers[model] if name in x.scores]
            alpha = agreement(scored, lambda x, name=name: x.scores[name], "ordinal") if scored else None
            add(model, f"human_{name}", "agreement", alpha, len(scored), undefined if scored else NOT_RATED)
    return rows


def correlations(section: dict[str, Any], entries: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spearman's rho of each human score with each automatic per-sample metric, over the
    rated (model, sample) pairs; preference against a's minus b's metric per sample."""
    try:
        from scipy.stats import spearmanr
    except ImportError:
        from ..errors import MissingExtra

        raise MissingExtra("scipy", "review") from None

    a, b = section["pairwise"]["a"], section["pairwise"]["b"]
    answers = answers_of(entries, a, b)
    metric_of: dict[tuple[str, str], dict[str, float]] = {}
    for row in records:
        if row.get("model") in (a, b):
            values = {k: v for k, v in (row.get("metrics") or {}).items() if isinstance(v, (int, float)) and math.isfinite(v)}
            metric_of[(row["model"], row["id"])] = values
    metrics = sorted({k for v in metric_of.values() for k in v})
    out = []

    def rho(pairs: list[tuple[float, float]]) -> float | None:
        if len(pairs) < 3 or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
            return None
        value = float(spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic)
        return value if math.isfinite(value) else None

    for c in section["criteria"]:
        human = {(m, sid): mean for m in (a, b) for sid, mean in _mean_by_sample(answers[m], c["name"]).items()}
        for metric in metrics:
            pairs = [(h, metric_of[key][metric]) for key, h in human.items() if metric in metric_of.get(key, {})]
            out.append({"human": f"human_{c['name']}", "metric": metric, "rho": rho(pairs), "n": len(pairs)})
    points = _points_by_sample(answers["preference"])
    for metric in metrics:
        pairs = [(p, metric_of[(a, sid)][metric] - metric_of[(b, sid)][metric]) for sid, p in points.items()
                 if metric in metric_of.get((a, sid), {}) and metric in metric_of.get((b, sid), {})]
        out.append({"human": "human_preference", "metric": f"{metric} ({a} - {b})", "rho": rho(pairs), "n": len(pairs)})
    return out


def _mean_by_sample(answers: Sequence[Answer], name: str) -> dict[str, float]:
    sums: dict[str, list[int]] = {}
    for x in answers:
        if name in x.scores:
            sums.setdefault(x.sample_id, []).append(x.scores[name])
    return {sid: sum(v) / len(v) for sid, v in sums.items()}


def _points_by_sample(answers: Sequence[Answer]) -> dict[str, float]:
    points: dict[str, list[float]] = {}
    for x in answers:
        points.setdefault(x.sample_id, []).append({"a": 1.0, "b": 0.0, "tie": 0.5}[x.choice])
    return {sid: sum(v) / len(v) for sid, v in points.items()}
