"""`mmeval verify RUN_DIR [--key PUBKEY] [--signoff-key PUBKEY ...] [--json]`: exit 0 if the run is
intact, 4 naming the first bad file. A `signoff.dsse.json` must hold too (a trusted signer,
over this run's attestation and report, on a passing run), else exit 4; the output says
whether the run is signed off and by whom.

Needs `read-report` on the suite the run's verified attestation names (exit 3 if denied).
`--json` prints the same as one JSON object; a failure prints nothing on stdout."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--key", type=Path, help="trusted Ed25519 public key (PEM); default: your own signing key")
    parser.add_argument("--signoff-key", type=Path, action="append", default=[], metavar="PUBKEY",
                        help="also trust this approver's Ed25519 public key (PEM) for the sign-off (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..report.signing import verify_release

    statement, approval = verify_release(args.run_dir, args.key, args.signoff_key)
    authorize_run(args, "read-report", args.run_dir, statement)  # the signed suite, once verified
    if args.json:
        print(json.dumps(_verified(args.run_dir, statement, approval), indent=2))
        return 0
    print(f"ok: {len(statement['subject'])} files verified, status {statement['predicate'].get('status')}")
    if approval is None:
        print("not signed off")
    else:
        print(f"signed off by {approval.approved_by} at {approval.approved_at} (key {approval.keyid})")
    return 0


def _verified(run_dir: Path, statement: dict[str, Any], approval: Any) -> dict[str, Any]:
    """What verify checked, for scripts: the same facts as the text lines."""
    predicate = statement["predicate"]
    return {
        "ok": True, "run_dir": str(run_dir), "run_id": predicate.get("run_id"), "status": predicate.get("status"),
        "suite": (predicate.get("suite") or {}).get("name"), "files_verified": len(statement["subject"]),
        "signed_off": approval is not None, "signoff": None if approval is None else dataclasses.asdict(approval),
    }
