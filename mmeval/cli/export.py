"""`mmeval export RUN_DIR --format model-index`: Hugging Face model-card metadata.

Prints (or writes with `--out`) the YAML front matter block a model card's README.md
starts with: one `model-index` entry per model of the run, one metric per headline
result, with the suite as the dataset and the fingerprint as `verifyToken`-free
provenance in the metric name's `args`. Needs `read-report` on the run's signed suite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--format", choices=["model-index"], default="model-index")
    parser.add_argument("--model", help="export only this model of the run")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    add_access_arguments(parser, keyring=False, run_key=True)


def model_index(report: dict[str, Any], only: str | None = None) -> dict[str, Any]:
    suite = report["suite"]
    entries = []
    models = list(dict.fromkeys(r["model"] for r in report["results"]))
    for model in models:
        if only and model != only:
            continue
        metrics = []
        for r in report["results"]:
            if r["model"] != model or r["value"] is None:
                continue
            metric = {"type": r["metric"], "name": r["key"], "value": r["value"], "args": {"fingerprint": r["fingerprint"], "n": r["n"]}}
            if r.get("ci_low") is not None:
                metric["args"].update(ci_low=r["ci_low"], ci_high=r["ci_high"])
            metrics.append(metric)
        entries.append({
            "name": model,
            "results": [{
                "task": {"type": "multimodal-generation", "name": f"mmeval {suite['name']}"},
                "dataset": {"type": f"mmeval/{suite['name']}", "name": suite["name"], "revision": suite["sha256"][:12]},
                "metrics": metrics,
                "source": {"name": f"mmeval run {report.get('run_id', '')}", "url": ""},
            }],
        })
    return {"model-index": entries}


def main(args: argparse.Namespace) -> int:
    import yaml

    from ..errors import InputError
    from ..fsutil import write_atomic

    authorize_run(args, "read-report", args.run_dir)  # with a policy in force: the signed suite (exit 4 if unverifiable)
    try:
        report = json.loads((args.run_dir / "report.json").read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{args.run_dir}/report.json: not found; not a run directory") from None
    index = model_index(report, args.model)
    if args.model and not index["model-index"]:
        raise InputError(f"{args.run_dir}: no model {args.model!r} in this run")
    for entry in index["model-index"]:
        for result in entry["results"]:
            result["source"].pop("url")
    text = "---\n" + yaml.safe_dump(index, sort_keys=False) + "---\n"
    if args.out:
        write_atomic(args.out, text.encode())
    else:
        print(text, end="")
    return 0
