"""`mmeval run SUITE [--out DIR [--force]] [--reuse-outputs] [--threads N] [--json] [--junit FILE] [--principal P] [--policy FILE] [--keyring FILE]`.

Before anything runs, the principal must hold `run` on the suite (name and sha256; cli/_access.py);
the decision, run start/end and each gate's decisions go to the audit log. With a key
ring (`--keyring` or $MMEVAL_KEYRING), raw outputs are sealed into RUN_DIR/store/ and the
plaintext resume cache is off for the run. A run that did not complete resumes from the
cache; a completed run's outputs are reused only with `--reuse-outputs` (then untimed).
torch and BLAS threads are set first, before numpy or torch load (mmeval/threads.py).
Under `torchrun ... -m mmeval run` every rank authorizes, rank 0 alone writes the audit
trail (one run-start/run-end pair with `world_size`), the summary and the report.
`--json` prints one JSON object instead of the summary; `--junit FILE` writes the threshold
checks as JUnit XML for CI (also when a threshold fails; not when the command errors).
`--mlflow URI` then logs the signed run to that MLflow tracking store (as `mmeval export
--format mlflow`); if the store fails, the run stays written and the error says how to
export it again (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_run, authorize_suite, suite_identity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--out", type=Path, help="run directory (default: reports/<suite>/<UTC time>/); must be new, empty, or an earlier run (with --force)")
    parser.add_argument("--force", action="store_true", help="replace an earlier mmeval run at --out")
    parser.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM) to sign the run (default: $MMEVAL_SIGNING_KEY, else a per-user key)")
    parser.add_argument("--quiet", action="store_true", help="no progress, no summary (--json still prints)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (status, exit_code, run_dir, reason, thresholds, results) instead of the summary")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write the threshold checks as JUnit XML to FILE (its folder must exist)")
    parser.add_argument("--mlflow", metavar="URI", help="then log the run to this MLflow tracking store (needs mmeval[mlflow])")
    parser.add_argument(
        "--reuse-outputs", action="store_true",
        help="reuse outputs of an earlier completed run from the resume cache (their efficiency is not measured)",
    )
    parser.add_argument(
        "--threads", metavar="N",
        help="torch and BLAS/OpenMP threads (default: $MMEVAL_THREADS, else one per physical core this process may use)",
    )
    add_run_controls(parser)
    add_access_arguments(parser)


def add_run_controls(parser: argparse.ArgumentParser) -> None:
    """`--limit`, `--set` and `--device`: what a run (and `validate`) may change for once."""
    parser.add_argument("--limit", type=_positive, metavar="N",
                        help="run a seeded subset of N samples; the report says 'partial: N of M' and sign-off refuses it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one suite value, e.g. models.candidate.args.temperature=0.7 (repeatable; recorded in the report)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N for models and metrics (default: $MMEVAL_DEVICE, else cuda when present)")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of samples, at least 1, got {text!r}")
    return int(text)


def main(args: argparse.Namespace) -> int:
    from ..threads import configure_threads

    configure_threads(args.threads)  # before the imports below load numpy's BLAS and torch
    from ..distributed import current_world
    from ..report.junit import check_destination, run_junit, write_junit
    from ..report.summary import summarize
    from ..runner import run
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, configured_path

    if args.signing_key:  # the runner signs through report.signing.load_signing_key, which reads this
        os.environ["MMEVAL_SIGNING_KEY"] = str(args.signing_key)
    if args.device:  # runinfo.best_device reads it, for every adapter and metric
        from ..runinfo import check_device

        os.environ["MMEVAL_DEVICE"] = check_device(args.device, "--device")
    world = current_world()  # under torchrun: one run, many ranks; rank 0 keeps the audit trail
    if args.junit and world.primary:  # before the run: a mistyped folder must not cost a whole run
        check_destination(args.junit)
    if args.mlflow and world.primary:  # likewise a missing extra or a store MLflow would refuse
        from ..report.mlflow_export import check_tracking_uri

        check_tracking_uri(args.mlflow)
    log = AuditLog.default() if world.primary else _DenialsOnly(AuditLog.default())
    suite_name, suite_sha256 = suite_identity(args.suite)
    principal = authorize_suite(args, "run", args.suite, log=log)  # name and sha256 of the suite file
    extras = {}
    ring_path = configured_path(args.keyring)
    if ring_path is not None:
        extras["keyring"] = KeyRing.load(ring_path)
    asked = dict(extras=extras, reuse_outputs=args.reuse_outputs, force=args.force, limit=args.limit, overrides=args.overrides,
                 suite_sha256=suite_sha256)  # the bytes access was decided on, not a file swapped since
    if not world.primary:
        return run(args.suite, args.out, progress=False, **asked).exit_code
    log.append("run-start", principal=principal, suite=suite_name, encrypted=ring_path is not None, world_size=world.size,
               **({"overrides": args.overrides} if args.overrides else {}), **({"limit": args.limit} if args.limit else {}))
    try:
        result = run(args.suite, args.out, progress=not args.quiet, **asked)
    except BaseException as exc:
        log.append("run-end", principal=principal, suite=suite_name, status="error", error=type(exc).__name__, world_size=world.size)
        raise
    report = result.report
    for gate in report.get("gates", []):
        log.append(
            "gate", principal=principal, suite=suite_name, run_id=report["run_id"], gate=gate["gate"],
            decisions=gate["decisions"], findings={f"{f['model']}:{f['kind']}": f["count"] for f in gate["findings"]},
        )
    log.append(
        "run-end", principal=principal, suite=suite_name, run_id=report["run_id"], status=report["status"],
        run_dir=str(result.run_dir), store_records=report.get("store", {}).get("records", 0), world_size=world.size,
    )
    if args.json:
        print(json.dumps(_machine_summary(result), indent=2))
    elif not args.quiet:
        print(summarize(report, str(result.run_dir)))
    if args.junit:
        write_junit(args.junit, run_junit(report))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:  # GitHub Actions shows this on the job page
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write((result.run_dir / "report.md").read_text(encoding="utf-8") + "\n")
    if args.mlflow:  # last: whatever the store does, the local outputs are all written
        _export_mlflow(args, result.run_dir)
    return result.exit_code


def _export_mlflow(args: argparse.Namespace, run_dir: Path) -> None:
    """Log the finished run to MLflow; on failure, the written run and how to send it again."""
    from ..errors import MmevalError
    from ..report.mlflow_export import export_run
    from ..report.signing import verify_run

    try:
        statement = verify_run(run_dir)  # the key that just signed it: MMEVAL_SIGNING_KEY or your own
        authorize_run(args, "read-report", run_dir, statement)
        mlflow_run = export_run(run_dir, args.mlflow, statement=statement)
    except MmevalError as exc:
        again = f"mmeval export {run_dir} --format mlflow --tracking-uri {args.mlflow}"
        exc.args = (f"{exc}; the run is written and signed at {run_dir}; export it again with: {again}",)
        raise
    if not (args.quiet or args.json):
        print(f"logged to MLflow run {mlflow_run} at {args.mlflow}")


def _machine_summary(result: Any) -> dict[str, Any]:
    from ..report.summary import verdict_reason

    report = result.report
    return {"status": report["status"], "exit_code": result.exit_code, "run_dir": str(result.run_dir),
            "reason": verdict_reason(report), "thresholds": report["thresholds"], "results": report["results"]}


class _DenialsOnly:
    """The audit log as a rank other than 0 writes it: its own refusals, not a second copy
    of the access decision, run start and end that rank 0 records once for the run."""

    def __init__(self, log: Any):
        self.log = log

    def append(self, event: str, principal: str | None = None, **fields: Any) -> None:
        if fields.get("decision") == "deny":
            self.log.append(event, principal=principal, **fields)
