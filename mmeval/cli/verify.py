"""`mmeval verify RUN_DIR [--key PUBKEY]`: exit 0 if the run is intact, 4 naming the first bad file."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--key", type=Path, help="trusted Ed25519 public key (PEM); default: your own signing key")


def main(args: argparse.Namespace) -> int:
    from ..report.signing import verify_run

    statement = verify_run(args.run_dir, args.key)
    print(f"ok: {len(statement['subject'])} files verified, status {statement['predicate'].get('status')}")
    return 0
