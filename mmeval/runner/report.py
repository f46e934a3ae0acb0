"""The run's report: the record (report.json) with its sections, and the signed files."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import MmevalError
from ..fsutil import write_atomic
from ..runinfo import environment, utc_now
from ..suite import Suite
from .decide import check_thresholds, failure_reason, results, status_of
from .plan import Plan
from .state import GateLog, Shard

REPORT_FORMAT_VERSION = 1


def write_report_files(report: dict[str, Any], run_dir: Path, progress: bool = False) -> None:
    """The record (report.json), its views (report.md, report.html), then the signature
    over all of them and every artifact, so a run appears complete and signed or not at all."""
    from ..progress import Progress
    from ..report.signing import sign_run

    views = report_views(report, run_dir)
    bar = Progress(f"{report['suite']['name']}: report", len(views) + 1, enabled=progress, unit="steps")
    for name, render in views.items():
        bar.doing(name)
        write_atomic(run_dir / name, render())
        bar.update(1)
    bar.doing("signing")
    sign_run(run_dir, report)
    bar.update(1)
    bar.close()


def report_views(report: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """File name -> a function giving its bytes: the record and the views a person reads."""
    from ..fsutil import json_bytes
    from ..report.html import render_html
    from ..report.markdown import render_markdown

    return {"report.json": lambda: json_bytes(report),
            "report.md": lambda: render_markdown(report).encode(),
            "report.html": lambda: render_html(report, run_dir).encode()}


def build_report(plan: Plan, run_id: str, started: str, shard: Shard, recorder: Any, ranks: list[dict[str, Any]],
                 progress: bool = False) -> dict[str, Any]:
    """The report of a run whose shards merged into `shard`; `ranks`: each rank's figures
    (a distributed run; empty for one process)."""
    suite, gate_log = plan.suite, shard.gate_log
    blocked = bool(gate_log.blocked_reason)
    values = [] if blocked else results(suite, shard, recorder, progress) + shard.efficiency.results(suite.models)
    if not blocked and "review" in shard.report_entries:  # not measured until people rate (review/summary.py)
        from ..review.summary import human_results

        values += human_results(shard.report_entries["review"], [], suite.spec.seed)
    thresholds = [] if blocked else check_thresholds(suite.spec.thresholds, values)
    provenance = environment(suite.spec.seed, suite.path.parent)
    provenance.update(started=started, finished=utc_now(), world_size=max(len(ranks), 1))
    report = {
        "format_version": REPORT_FORMAT_VERSION,
        "status": status_of(blocked, thresholds),
        "reason": gate_log.blocked_reason or failure_reason(thresholds),
        "run_id": run_id,
        "suite": _suite_section(suite),
        "dataset": _dataset_section(plan),
        "models": _models_section(suite, shard),
        "metrics": _metrics_section(suite),
        "provenance": provenance,
        "results": values,
        "thresholds": thresholds,
        "gates": _gate_section(suite, gate_log),
        **({"ranks": ranks} if ranks else {}),
    }
    report.update(shard.report_entries)  # e.g. the encrypted store's summary
    return report


def _suite_section(suite: Suite) -> dict[str, Any]:
    section = {"name": suite.name, "path": str(suite.path), "sha256": suite.sha256, "language": suite.spec.language}
    if suite.overrides:  # what ran differs from the file the sha256 is of
        section["overrides"] = list(suite.overrides)
    return section


def _dataset_section(plan: Plan) -> dict[str, Any]:
    """The dataset and how many samples ran; a `--limit` run says "partial" in every view."""
    dataset = plan.dataset
    section: dict[str, Any] = {"path": str(plan.suite.dataset_path), "n": len(dataset)}
    if len(dataset) < dataset.total:
        section.update(of=dataset.total, partial=f"{len(dataset)} of {dataset.total} samples "
                       f"(a seeded subset, seed {plan.suite.spec.seed}: --limit)")
    return section


def _models_section(suite: Suite, shard: Shard) -> dict[str, Any]:
    """Per model: its adapter, how many outputs it produced in this run (`generated`; for
    `replay`, read from its file) or took from the resume cache (`reused`), and the sha256
    of the adapter's fingerprint (weights, endpoint, settings) where it has one, so
    `compare` can tell that a model ran differently. Hashed: a fingerprint may name
    settings a report should not show."""
    section = {}
    for name, spec in suite.spec.models.items():
        entry: dict[str, Any] = {"use": spec.use, **shard.efficiency.counts(name)}
        fingerprint = getattr(suite.models[name], "fingerprint", None)
        try:  # an endpoint asked only now (no resume cache) may have gone away: no digest then
            if fingerprint is not None:
                entry["adapter_sha256"] = hashlib.sha256(fingerprint().encode()).hexdigest()
        except MmevalError:
            pass
        section[name] = entry
    return section


def _metrics_section(suite: Suite) -> dict[str, Any]:
    """Per metric label: how the suite applied it, enough for `mmeval compare` to rebuild
    the metric (`plugins.build(METRICS, use, args, ...)`, paths relative to the suite)."""
    section = {}
    for spec, bm in zip(suite.spec.metrics, suite.metrics):
        section[bm.label] = {
            "use": spec.use,
            "args": _plain_json(spec.args),
            "against": bm.against,
            "models": list(bm.models),
            "where": _plain_json(bm.where),
        }
    return section


def _plain_json(value: Any) -> Any:
    """YAML values as strict JSON (the report allows no NaN); others become their text."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)


def _gate_section(suite: Suite, log: GateLog) -> list[dict[str, Any]]:
    section = []
    for gate in suite.gates:
        name = getattr(gate, "name", type(gate).__name__)
        describe = getattr(gate, "describe", None)
        findings = [
            {"model": model, "kind": kind, "count": count}
            for (model, kind), count in sorted(log.findings.get(name, Counter()).items())
        ]
        section.append(
            {
                "gate": name,
                "settings": describe() if describe else {},
                "decisions": dict(log.actions.get(name, Counter())),
                "findings": findings,
            }
        )
    return section
