"""`mmeval log verify|show|repair`: check, print or repair the tamper-evident audit log.

`verify` reports everything wrong (chain break with its line and seq, torn tail, head
behind/ahead/missing, log missing or shorter than its pin) and exits 4 for integrity
failures; `--json` prints the full report. `show --head` prints the last seq and hash to
pin elsewhere. Both need the `audit` permission. `repair` moves a torn tail aside,
recomputes the head and, with `--accept-loss`, records a lost history; it needs
`manage-keys` and is audited (a `log-repair` entry).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._access import add_access_arguments, authorize_args, policy_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["verify", "show", "repair"])
    parser.add_argument("--log", type=Path, help="audit log (default: $MMEVAL_AUDIT_LOG or .mmeval/audit.log)")
    parser.add_argument("--head", action="store_true", help="show: only the head (last seq and hash)")
    parser.add_argument("--json", action="store_true", help="verify: print the full report as JSON")
    parser.add_argument("--accept-loss", action="store_true",
                        help="repair: record a log shorter than its head or pin (lost entries) and re-pin it")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..errors import IntegrityError
    from ..security.auditlog import AuditLog

    log = AuditLog(args.log) if args.log else AuditLog.default()
    if args.action == "repair":
        principal = _authorize(args, "manage-keys", str(log.path))
        done = log.repair(principal, accept_loss=args.accept_loss, policy=policy_for(args, log.path).describe())
        if not done["changed"]:
            print(f"audit log {log.path}: nothing to repair")
        else:
            kept = f", torn bytes kept in {done['torn_file']}" if done.get("torn_file") else ""
            lost = f", loss up to seq {done['lost_seq']} recorded" if "lost_seq" in done else ""
            print(f"audit log {log.path}: repaired ({', '.join(done['problems'])}){kept}{lost}; "
                  f"entry {done['entry']['seq']} records it")
        return 0
    _authorize(args, "audit", str(log.path))
    if args.action == "verify":
        result = log.check()
        if args.json:
            print(json.dumps(result.as_dict(), indent=2))
        for note in result.notes:
            sys.stderr.write(f"warning: audit log {log.path}: {note['message']}\n")
        if result.problems:
            raise IntegrityError(f"audit log {log.path}: " + "; ".join(p["message"] for p in result.problems))
        if not args.json:
            print(f"audit log {log.path}: {result.entries} entries, chain intact")
        return 0
    if args.head:
        print(json.dumps(log.head()))
        return 0
    for entry in log.entries():
        print(json.dumps(entry, sort_keys=True))
    return 0


def _authorize(args: argparse.Namespace, action: str, resource: str) -> str:
    """authorize_args, but a damaged log must not stop the commands that diagnose and fix it:
    the decision is still made (a denial still exits 3), only its audit entry is lost."""
    from ..errors import AccessDenied, IntegrityError
    from ..security.policy import decide

    try:
        return authorize_args(args, action, resource, anchors=(resource,))
    except IntegrityError as exc:
        decision = decide(action, resource, principal=args.principal, policy=policy_for(args, resource))
        if not decision.allowed:
            raise AccessDenied(f"{decision.message}; the audit log is damaged, so this denial was not recorded") from None
        sys.stderr.write(f"warning: this access was not audited: {exc}\n")
        return decision.principal
