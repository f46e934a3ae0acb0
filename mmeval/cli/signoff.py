"""`mmeval signoff RUN_DIR [--principal NAME] [--key PUBKEY]`: approve a release.

Needs the `sign-off` permission, a report whose status is `pass` (not `ungated`: a
suite without thresholds checked nothing), and a run that verifies. Writes `signoff.dsse.json` (a DSSE envelope over an in-toto Statement whose
subjects are the run's attestation and report.json, predicate: who approved, when) and
an audit event.

Permission: `sign-off` on the suite's name under the access policy (`--policy` or
`$MMEVAL_POLICY`); without a policy, local single-user mode applies (see README). The
decision and the approval are both events in the audit log.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_args

SIGNOFF = "signoff.dsse.json"
PREDICATE_TYPE = "https://mmeval.dev/attestation/signoff/v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--key", type=Path, help="trusted public key the run must be signed with (default: your own)")
    parser.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM) to sign the approval (default: $MMEVAL_SIGNING_KEY, else yours)")
    parser.add_argument("--comment", default="", help="a note stored in the approval")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..errors import GateBlocked
    from ..fsutil import write_json
    from ..fsutil import sha256_file
    from ..report.signing import ATTESTATION, STATEMENT_TYPE, key_id, load_signing_key, sign_envelope, verify_run
    from ..runinfo import utc_now
    from ..security.auditlog import AuditLog

    statement = verify_run(args.run_dir, args.key)  # IntegrityError (exit 4) if anything changed
    report = json.loads((args.run_dir / "report.json").read_text())
    principal = authorize_args(args, "sign-off", report["suite"]["name"])
    if report.get("status") == "ungated":
        raise GateBlocked(f"{args.run_dir}/report.json: status is 'ungated': the suite sets no thresholds, so nothing was "
                          "gated; add thresholds to the suite to sign off a release")
    if report.get("status") != "pass":
        raise GateBlocked(f"{args.run_dir}/report.json: status is {report.get('status')!r}; only a passing run can be signed off")
    key = load_signing_key(args.signing_key)
    approval = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": sha256_file(args.run_dir / n)}} for n in (ATTESTATION, "report.json")],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "approved_by": principal, "approved_at": utc_now(), "decision": "approved", "comment": args.comment,
            "run_id": report.get("run_id"), "suite": report.get("suite"), "files_verified": len(statement["subject"]),
        },
    }
    payload = json.dumps(approval, sort_keys=True, separators=(",", ":")).encode()
    write_json(args.run_dir / SIGNOFF, sign_envelope(payload, key))
    AuditLog.default().append("sign-off", principal=principal, run_id=report.get("run_id"), suite=report["suite"]["name"], keyid=key_id(key.public_key()))
    print(f"signed off by {principal}: {args.run_dir / SIGNOFF}")
    return 0
