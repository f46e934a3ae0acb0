"""`mmeval run SUITE [--out DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--out", type=Path, help="run directory (default: reports/<suite>/<UTC time>/)")
    parser.add_argument("--quiet", action="store_true", help="no progress, no summary")


def main(args: argparse.Namespace) -> int:
    from ..report.summary import summarize
    from ..runner import run

    result = run(args.suite, args.out, progress=not args.quiet)
    if not args.quiet:
        print(summarize(result.report, str(result.run_dir)))
    return result.exit_code
