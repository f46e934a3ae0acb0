"""`mmeval signoff RUN_DIR [--principal NAME] [--key PUBKEY]`: approve a release.

Needs the `sign-off` permission, a report whose status is `pass`, and a run that
verifies. Writes `signoff.dsse.json` (a DSSE envelope over an in-toto Statement whose
subjects are the run's attestation and report.json, predicate: who approved, when) and
an audit event.

Permission: through `mmeval.security.policy` when that module is installed; without it
the local default applies: `--principal` is required and must be the logged-in OS user.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

SIGNOFF = "signoff.dsse.json"
PREDICATE_TYPE = "https://mmeval.dev/attestation/signoff/v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--principal", help="who signs off (required without the security policy module)")
    parser.add_argument("--key", type=Path, help="trusted public key the run must be signed with (default: your own)")
    parser.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM) to sign the approval (default: $MMEVAL_SIGNING_KEY, else yours)")
    parser.add_argument("--comment", default="", help="a note stored in the approval")


def authorize(principal: str | None, run_dir: Path) -> str:
    """The approving principal, or AccessDenied. Uses the security policy when installed."""
    from ..errors import AccessDenied, InputError

    try:
        from ..security import policy  # type: ignore[attr-defined]
    except ImportError:
        policy = None
    if policy is not None:  # lead wires: policy.require(principal, "sign-off", resource) -> principal
        return policy.require(principal, "sign-off", str(run_dir))
    if not principal:
        raise InputError("no access policy is installed (mmeval.security); pass --principal NAME to sign off as yourself")
    if principal != getpass.getuser():
        raise AccessDenied(f"principal {principal!r} lacks the sign-off permission (local default: only the logged-in user)")
    return principal


def audit(event: dict[str, Any]) -> None:
    """Record the sign-off in the audit log (the security module's when installed)."""
    try:
        from ..security import audit as audit_log  # type: ignore[attr-defined]
    except ImportError:
        audit_log = None
    if audit_log is not None:  # lead wires: audit.record(event_type, **fields)
        audit_log.record("sign-off", **event)
        return
    from ..report.signing import mmeval_home

    home = mmeval_home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (home / "audit.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"event": "sign-off", **event}, sort_keys=True) + "\n")


def main(args: argparse.Namespace) -> int:
    from ..errors import GateBlocked
    from ..fsutil import write_json
    from ..report.signing import ATTESTATION, STATEMENT_TYPE, key_id, load_signing_key, sha256_file, sign_envelope, verify_run
    from ..runinfo import utc_now

    principal = authorize(args.principal, args.run_dir)
    statement = verify_run(args.run_dir, args.key)  # IntegrityError (exit 4) if anything changed
    report = json.loads((args.run_dir / "report.json").read_text())
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
    audit({"principal": principal, "run_id": report.get("run_id"), "run_dir": str(args.run_dir), "keyid": key_id(key.public_key())})
    print(f"signed off by {principal}: {args.run_dir / SIGNOFF}")
    return 0
