"""Helpers for suite-level model tests: runnable copies of shipped suites, report values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mmeval.registry import METRICS


def runnable_copy(suite: Path, tmp: Path, **changes: Any) -> tuple[Path, list[str]]:
    """Copy `suite` into `tmp`, dropping metrics not registered on this branch (and their
    thresholds); `changes` override top-level keys. Returns the path and the dropped names."""
    spec = yaml.safe_load(suite.read_text())
    spec["dataset"]["path"] = str((suite.parent / spec["dataset"]["path"]).resolve())
    for model in spec["models"].values():  # Path args are relative to the suite file
        for key in ("path", "root"):
            if key in model.get("args", {}):
                model["args"][key] = str((suite.parent / model["args"][key]).resolve())
    dropped = [m["use"] for m in spec.get("metrics", []) if m["use"] not in METRICS]
    spec["metrics"] = [m for m in spec.get("metrics", []) if m["use"] in METRICS]
    labels = {m.get("name", m["use"]) for m in spec["metrics"]}
    spec["thresholds"] = [t for t in spec.get("thresholds", []) if t["metric"] in labels]
    spec.update(changes)
    out = tmp / suite.name
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out, dropped


def values(report: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Metric values; efficiency timings are measurements of the machine, never reproducible."""
    return {(r["model"], r["key"]): r["value"] for r in report["results"] if r.get("kind") != "efficiency"}


def missing_metrics(suite: Path) -> list[str]:
    spec = yaml.safe_load(suite.read_text())
    return [m["use"] for m in spec.get("metrics", []) if m["use"] not in METRICS]
