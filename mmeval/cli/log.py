"""`mmeval log verify|show`: check or print the tamper-evident audit log.

`verify` exits 4 naming the first bad entry; `show --head` prints the last seq and hash
to pin elsewhere. Both need the `audit` permission.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["verify", "show"])
    parser.add_argument("--log", type=Path, help="audit log (default: $MMEVAL_AUDIT_LOG or .mmeval/audit.log)")
    parser.add_argument("--head", action="store_true", help="show: only the head (last seq and hash)")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..security.auditlog import AuditLog

    log = AuditLog(args.log) if args.log else AuditLog.default()
    authorize_args(args, "audit", str(log.path))
    if args.action == "verify":
        count = log.verify()
        print(f"audit log {log.path}: {count} entries, chain intact")
        return 0
    if args.head:
        print(json.dumps(log.head()))
        return 0
    for entry in log.entries():
        print(json.dumps(entry, sort_keys=True))
    return 0
