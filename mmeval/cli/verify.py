"""`mmeval verify RUN_DIR [--key PUBKEY] [--signoff-key PUBKEY ...]`: exit 0 if the run is
intact, 4 naming the first bad file. A `signoff.dsse.json` must hold too (a trusted signer,
over this run's attestation and report, on a passing run), else exit 4; the output says
whether the run is signed off and by whom.

Needs `read-report` on the suite the run's verified attestation names (exit 3 if denied)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--key", type=Path, help="trusted Ed25519 public key (PEM); default: your own signing key")
    parser.add_argument("--signoff-key", type=Path, action="append", default=[], metavar="PUBKEY",
                        help="also trust this approver's Ed25519 public key (PEM) for the sign-off (repeatable)")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..report.signing import verify_release

    statement, approval = verify_release(args.run_dir, args.key, args.signoff_key)
    authorize_run(args, "read-report", args.run_dir, statement)  # the signed suite, once verified
    print(f"ok: {len(statement['subject'])} files verified, status {statement['predicate'].get('status')}")
    if approval is None:
        print("not signed off")
    else:
        print(f"signed off by {approval.approved_by} at {approval.approved_at} (key {approval.keyid})")
    return 0
