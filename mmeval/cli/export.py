"""`mmeval export RUN_DIR --format model-index|mlflow`: a run's results for other tools.

`model-index` (Hugging Face model-card metadata) prints (or writes with `--out`) the YAML
front matter block a model card's README.md starts with: one `model-index` entry per model
of the run, one result per Hub task the suite's metrics measure (accuracy ->
text-classification, BLEU -> text-generation, FID -> text-to-image, ...), one metric per
headline result with its fingerprint and run id in `args`.
`dataset` names a Hub dataset id, so it is written only with `--dataset-id`; the Hub
reads a result only with one. Needs `read-report` on the run's signed suite.

`--format mlflow --tracking-uri URI [--experiment NAME]` logs the run to an MLflow tracking
store instead (report/mlflow_export.py), after verifying it: a tampered run is never
exported (exit 4); a store that cannot be reached or written is exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--format", choices=["model-index", "mlflow"], default="model-index")
    parser.add_argument("--model", help="export only this model of the run")
    parser.add_argument("--dataset-id", help="the Hub dataset the suite's samples come from (e.g. user/reviews)")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    parser.add_argument("--tracking-uri", metavar="URI", help="mlflow: the tracking store (file:///path, http://host:5000, ...)")
    parser.add_argument("--experiment", metavar="NAME", help="mlflow: the experiment to log into (default: mmeval/<suite>)")
    add_access_arguments(parser, keyring=False, run_key=True)


# Hub task (pipeline tag) each built-in metric measures; a suite with several gets one
# result per task. Metrics not named here (entry points) go under "other".
_TASK_METRICS = {
    "text-classification": ("accuracy", "precision", "recall", "f1", "exact_match", "mcc", "cohen_kappa",
                            "top_k_accuracy", "roc_auc", "ece"),
    "tabular-regression": ("mae", "mse", "rmse", "mape", "smape", "r2", "medae", "price_mae"),
    "text-generation": ("bleu", "chrf", "ter", "rouge_l", "distinct_n", "self_bleu", "vendi",
                        "semantic_similarity", "attribute_f1"),
    "text-to-image": ("fid", "kid", "inception_score", "prdc"),
    "image-to-image": ("ssim", "psnr", "ms_ssim"),
    "text-to-audio": ("audio_similarity", "pesq", "stoi", "si_sdr", "fad", "audio_prdc"),
}
TASK_OF_METRIC = {metric: task for task, metrics in _TASK_METRICS.items() for metric in metrics}


def _metric_use(report: dict[str, Any], result: dict[str, Any]) -> str:
    """The registry name of the metric behind a result (its label may differ)."""
    return report.get("metrics", {}).get(result["metric"], {}).get("use", result["metric"])


def _metric_entry(r: dict[str, Any], use: str, run_id: str) -> dict[str, Any]:
    args = {"fingerprint": r["fingerprint"], "n": r["n"], "mmeval_run": run_id}
    metric = {"type": use, "name": r["key"], "value": r["value"], "args": args}
    if r.get("ci_low") is not None:
        metric["args"].update(ci_low=r["ci_low"], ci_high=r["ci_high"])
    return metric


def model_index(report: dict[str, Any], only: str | None = None, dataset_id: str | None = None) -> dict[str, Any]:
    # Latency and memory figures (kind: efficiency) describe the machine, not a task score.
    scored = [r for r in report["results"] if r["value"] is not None and r.get("kind") != "efficiency"]
    entries = []
    for model in dict.fromkeys(r["model"] for r in report["results"]):
        if only and model != only:
            continue
        by_task: dict[str, list[dict[str, Any]]] = {}
        for r in scored:
            if r["model"] == model:
                use = _metric_use(report, r)
                by_task.setdefault(TASK_OF_METRIC.get(use, "other"), []).append(_metric_entry(r, use, report.get("run_id", "")))
        results = []
        for task, metrics in by_task.items():
            result: dict[str, Any] = {"task": {"type": task, "name": task.replace("-", " ").capitalize()}}
            if dataset_id:
                result["dataset"] = {"type": dataset_id, "name": dataset_id}
            result["metrics"] = metrics  # no `source`: the Hub wants a URL with it; the run id is in each metric's args
            results.append(result)
        entries.append({"name": model, "results": results})
    return {"model-index": entries}


def main(args: argparse.Namespace) -> int:
    if args.format == "mlflow":
        return _export_mlflow(args)
    import yaml

    from ..errors import InputError
    from ..fsutil import write_atomic

    authorize_run(args, "read-report", args.run_dir)  # with a policy in force: the signed suite (exit 4 if unverifiable)
    try:
        report = json.loads((args.run_dir / "report.json").read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{args.run_dir}/report.json: not found; not a run directory") from None
    index = model_index(report, args.model, args.dataset_id)
    if args.model and not index["model-index"]:
        raise InputError(f"{args.run_dir}: no model {args.model!r} in this run")
    if not args.dataset_id:
        print("note: no --dataset-id, so no result names a dataset; the Hub shows model-index results only with one",
              file=sys.stderr)
    text = "---\n" + yaml.safe_dump(index, sort_keys=False) + "---\n"
    if args.out:
        write_atomic(args.out, text.encode())
    else:
        print(text, end="")
    return 0


def _export_mlflow(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..report.mlflow_export import export_run
    from ..report.signing import verify_run

    if not args.tracking_uri:
        raise SpecError("--format mlflow needs --tracking-uri URI (e.g. file:///path/mlruns or http://host:5000)")
    unused = [flag for flag, value in (("--model", args.model), ("--dataset-id", args.dataset_id), ("--out", args.out)) if value]
    if unused:
        raise SpecError(f"{unused[0]} is for --format model-index; an MLflow export logs the whole run")
    statement = verify_run(args.run_dir, args.key)  # always, policy or not: a tampered run never leaves
    authorize_run(args, "read-report", args.run_dir, statement)
    run_id = export_run(args.run_dir, args.tracking_uri, args.experiment, statement=statement)
    print(f"exported {args.run_dir} to MLflow run {run_id} at {args.tracking_uri}")
    return 0
