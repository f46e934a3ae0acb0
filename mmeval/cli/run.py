"""`mmeval run SUITE [--out DIR]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--out", type=Path, help="run directory (default: reports/<suite>/<UTC time>/)")
    parser.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM) to sign the run (default: $MMEVAL_SIGNING_KEY, else a per-user key)")
    parser.add_argument("--quiet", action="store_true", help="no progress, no summary")


def main(args: argparse.Namespace) -> int:
    from ..report.summary import summarize
    from ..runner import run

    if args.signing_key:  # the runner signs through report.signing.load_signing_key, which reads this
        os.environ["MMEVAL_SIGNING_KEY"] = str(args.signing_key)
    result = run(args.suite, args.out, progress=not args.quiet)
    if not args.quiet:
        print(summarize(result.report, str(result.run_dir)))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:  # GitHub Actions shows this on the job page
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write((result.run_dir / "report.md").read_text(encoding="utf-8") + "\n")
    return result.exit_code
