"""`mmeval keys init|rotate|list|public [--keyring P] [--store RUN_DIR ...]`.

`public` prints the ring's signing public key (PEM) for `mmeval provenance verify --public-key`.

`rotate` adds a new active master key and re-wraps every record of the given run
directories under it; `--remove-old` then drops the previous master keys (only after
every named store was re-wrapped). A signed run is verified first and re-signed after
its records change (with the local or $MMEVAL_SIGNING_KEY key). Needs the `manage-keys` permission.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["init", "rotate", "list", "public"])
    parser.add_argument("--store", type=Path, action="append", default=[], metavar="RUN_DIR",
                        help="run directory whose store to re-wrap on rotate (repeatable)")
    parser.add_argument("--remove-old", action="store_true", help="after rotate, delete the inactive master keys")
    parser.add_argument("--json", action="store_true", help="list as JSON")
    add_access_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path
    from ..security.store import RecordStore

    path = resolve_path(args.keyring)
    principal = authorize_args(args, "manage-keys", str(path))
    log = AuditLog.default()
    if args.action == "init":
        ring = KeyRing.init(path)
        log.append("key", principal=principal, operation="init", keyring=str(path), key_ids=[k["id"] for k in ring.describe()])
        print(f"created key ring {path} (mode 0600)")
        return 0
    ring = KeyRing.load(path)
    if args.action == "public":
        from ..report.signing import public_pem

        print(public_pem(ring.signing_key().public_key()).decode(), end="")
        return 0
    if args.action == "list":
        keys = ring.describe()
        log.append("key", principal=principal, operation="list", keyring=str(path))
        if args.json:
            print(json.dumps({"keyring": str(path), "keys": keys, "public": ring.public_keys()}, indent=2))
        else:
            for k in keys:
                print(f"{k['id']:16} {k['kind']:10} {'active' if k['active'] else 'inactive':9} {k['created']}")
        return 0
    # rotate: check every store (and its run's signature) before anything changes
    from ..report.signing import ATTESTATION, sign_run, verify_run

    stores = [RecordStore.open(run_dir, ring) for run_dir in args.store]
    signed = [(Path(run_dir) / ATTESTATION).exists() for run_dir in args.store]
    for run_dir, store, is_signed in zip(args.store, stores, signed):
        if is_signed:
            verify_run(Path(run_dir))  # never re-sign a run that was tampered with
        store.verify()
    old = [k for k in ring.master_ids()]
    new_id = ring.rotate()
    log.append("key", principal=principal, operation="rotate", keyring=str(path), new_key_id=new_id)
    for run_dir, store in zip(args.store, stores):
        n = store.rewrap(ring)
        resigned = False
        if signed[stores.index(store)]:  # record files changed: the attestation must cover the new bytes
            sign_run(Path(run_dir), json.loads((Path(run_dir) / "report.json").read_text(encoding="utf-8")))
            resigned = True
        log.append("key", principal=principal, operation="rewrap", store=str(run_dir), records=n, key_id=new_id,
                   resigned=resigned)
        print(f"re-wrapped {n} records in {run_dir} under {new_id}")
    if args.remove_old:
        for key_id in old:
            ring.remove_master(key_id)
        log.append("key", principal=principal, operation="remove", keyring=str(path), key_ids=old)
        print(f"removed old master keys: {', '.join(old)}")
    print(f"active master key: {new_id}")
    return 0
