"""`mmeval store ls|get RUN_DIR [ID]`: list or decrypt records of a run's encrypted store.

Needs the `read-raw` permission on the run (its suite name or directory); every read is
an audit event (record ids only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["ls", "get"])
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("id", nargs="?", metavar="ID", help="record id (get); all records when left out")
    add_access_arguments(parser)


def _resource(run_dir: Path) -> str:
    """The suite name from the run's report (for policy globs), else the directory name."""
    try:
        return str(json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["suite"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return run_dir.name


def main(args: argparse.Namespace) -> int:
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path
    from ..security.store import RecordStore

    principal = authorize_args(args, "read-raw", _resource(args.run_dir))
    log = AuditLog.default()
    if args.action == "ls":
        store = RecordStore.open(args.run_dir, None)
        ids = store.ids()
        log.append("store-read", principal=principal, run_id=store.run_id, operation="ls", records=len(ids))
        for record_id in ids:
            print(record_id)
        return 0
    store = RecordStore.open(args.run_dir, KeyRing.load(resolve_path(args.keyring)))
    ids = [args.id] if args.id else store.ids()
    values = {record_id: store.get(record_id) for record_id in ids}  # all verify before any is shown
    log.append("store-read", principal=principal, run_id=store.run_id, operation="get", record_ids=ids)
    if args.id:
        print(json.dumps(values[args.id], indent=2, ensure_ascii=False))
    else:
        for record_id, value in values.items():
            print(json.dumps({"id": record_id, "value": value}, ensure_ascii=False))
    return 0
