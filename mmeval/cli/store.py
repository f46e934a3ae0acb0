"""`mmeval store ls RUN_DIR` and `mmeval store get RUN_DIR [ID] [--export DIR]`: list or decrypt a run's store.

Needs the `read-raw` permission (ls too) on the suite the run's signed attestation names
(with a policy in force the run is verified first: exit 4); every read is
an audit event (record ids only). `--export DIR` writes media outputs (images, audio) as
files (mode 0600) with their provenance manifests beside them, ready for
`mmeval provenance verify`.

Every read checks the store against the run's verified attestation first (`--key`, default
your signing key): a store whose record files were deleted, added or swapped in from
another run is exit 4, before any record is shown. `get --reader-key FILE` decrypts with a
reader role's private key alone (no key ring): see `mmeval keys reader-new`.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    listing = actions.add_parser("ls", help="list the record ids of a run's encrypted store",
                                 description="List the record ids (not their contents) of RUN_DIR's encrypted store.")
    reading = actions.add_parser("get", help="decrypt records (all, or one ID) to stdout, or media to files with --export",
                                 description="Decrypt records of RUN_DIR's encrypted store: one ID, or all of them.")
    for action in (listing, reading):
        action.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    reading.add_argument("id", nargs="?", metavar="ID", help="record id; all records when left out")
    reading.add_argument("--export", type=Path, metavar="DIR", help="write media outputs and their manifests to DIR")
    reading.add_argument("--reader-key", type=Path, metavar="FILE",
                         help="decrypt with this reader role's X25519 private key instead of the key ring's master key")
    for action in (listing, reading):
        action.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        add_access_arguments(action, run_key=True)


def main(args: argparse.Namespace) -> int:
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path
    from ..security.store import RecordStore

    principal = authorize_run(args, "read-raw", args.run_dir)  # the signed suite, never the folder name
    log = AuditLog.default()
    if args.action == "ls":
        store = RecordStore.open(args.run_dir, None, args.key)
        ids = store.ids()
        log.append("store-read", principal=principal, run_id=store.run_id, operation="ls", records=len(ids))
        for record_id in ids:
            print(record_id)
        return 0
    if args.reader_key is not None:
        from ..security.readers import load_reader_key

        store = RecordStore.open(args.run_dir, None, args.key, reader=load_reader_key(args.reader_key))
    else:
        store = RecordStore.open(args.run_dir, KeyRing.load(resolve_path(args.keyring)), args.key)
    ids = [args.id] if args.id else store.ids()
    values = {record_id: store.get(record_id) for record_id in ids}  # all verify before any is shown
    log.append("store-read", principal=principal, run_id=store.run_id, operation="get", record_ids=ids,
               reader_key=store.reader.key_id if store.reader else None)
    if args.export is not None:
        for path in _export(args.run_dir, values, args.export):
            print(path)
        return 0
    if args.id:
        print(json.dumps(values[args.id], indent=2, ensure_ascii=False))
    else:
        for record_id, value in values.items():
            print(json.dumps({"id": record_id, "value": value}, ensure_ascii=False))
    return 0


def _export(run_dir: Path, values: dict, out: Path) -> list[Path]:
    """Media outputs as files, each with its manifest (if the run signed one) beside it."""
    import base64

    from ..fsutil import safe_stem, write_atomic
    from ..provenance.manifest import manifest_path

    written = []
    for value in values.values():
        output = value.get("output") if isinstance(value, dict) else None
        if not (isinstance(output, dict) and "bytes_b64" in output):
            continue  # text and numbers are printed by plain `get`
        model = safe_stem(str(value.get("model")))
        suffix = str(output.get("media", ""))
        suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ".bin"  # never a path
        name = safe_stem(str(value.get("sample_id"))) + suffix
        target = out / model / name
        write_atomic(target, base64.b64decode(output["bytes_b64"]), mode=0o600)
        signed = manifest_path(run_dir / "outputs" / model / name)
        if signed.is_file():
            write_atomic(manifest_path(target), signed.read_bytes())
        written.append(target)
    return written
