"""`mmeval keys ACTION`: init, rotate, list, public, reader-new, reader-remove, c2pa-cert (each with its own --help).

`public` prints the ring's signing public key (PEM) for `mmeval provenance verify --public-key`.

`rotate` adds a new active master key and re-wraps every record of the given run
directories under it, each with a fresh data key wrapped for the master key and for the
reader roles the ring lists now; `--remove-old` then drops the previous master keys (only
after every named store was re-wrapped). Each run is verified first (its store bound to
its attestation) and re-signed after its records change (with the local or
$MMEVAL_SIGNING_KEY key); a sign-off over the old attestation no longer holds, so it is
removed (the audit log keeps who had signed off) and the run must be signed off again.

`reader-new ROLE --out FILE` makes a reader role: its X25519 private key goes to FILE
(0600, never over an existing file), its public key into the ring; runs then seal every
record for it too, and `mmeval store get --reader-key FILE` opens them without the ring.
`reader-remove ROLE` drops it; records already written keep its wrap until a
`rotate --store` re-wraps them.

`c2pa-cert [--out DIR] [--ca-cert PEM --ca-key PEM]` makes the X.509 signer that embedded C2PA
manifests need (ES256, the C2PA certificate profile): a local root CA plus a leaf it signs, or a
leaf signed by your CA. DIR (default $MMEVAL_HOME/c2pa/) gets signer.pem (the chain), signer.key
(0600) and, for a local CA, ca.pem (give it to verifiers: `provenance verify --c2pa-trust`) and
ca.key (0600); nothing is ever overwritten.

Every action needs the `manage-keys` permission.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_args


ACTIONS = {  # name -> (help, the options it takes)
    "init": ("create a key ring (0600) with a master, watermark and signing key", ()),
    "rotate": ("add a new active master key and re-wrap the records of --store runs", ("store", "remove_old")),
    "list": ("list the ring's keys and reader roles (ids only, never key material)", ("json",)),
    "public": ("print the ring's signing public key (PEM), for provenance verify --public-key", ()),
    "reader-new": ("make a reader role: its private key to --out, its public key into the ring", ("role", "out")),
    "reader-remove": ("drop a reader role from the ring", ("role",)),
    "c2pa-cert": ("make the X.509 signer embedded C2PA manifests need", ("out", "ca_cert", "ca_key")),
}
_UNSET = {"role": None, "out": None, "ca_cert": None, "ca_key": None, "store": [], "remove_old": False, "json": False}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    for name, (help_text, options) in ACTIONS.items():
        action = actions.add_parser(name, help=help_text, description=help_text)
        if "role" in options:
            action.add_argument("role", nargs="?", metavar="ROLE", help="the reader role")  # missing: main says so
        if "out" in options:
            action.add_argument("--out", type=Path, metavar="PATH",
                                help="the file for the role's private key" if name == "reader-new"
                                else "the directory for the signer (default: $MMEVAL_HOME/c2pa/)")
        if "ca_cert" in options:
            action.add_argument("--ca-cert", type=Path, metavar="PEM", help="sign the leaf with this CA certificate")
            action.add_argument("--ca-key", type=Path, metavar="PEM", help="the CA's private key")
        if "store" in options:
            action.add_argument("--store", type=Path, action="append", default=[], metavar="RUN_DIR",
                                help="run directory whose store to re-wrap (repeatable)")
            action.add_argument("--remove-old", action="store_true", help="then delete the inactive master keys")
        if "json" in options:
            action.add_argument("--json", action="store_true", help="as JSON")
        action.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        add_access_arguments(action)
        action.set_defaults(**{k: v for k, v in _UNSET.items() if k not in options})


def main(args: argparse.Namespace) -> int:
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path
    from ..errors import SpecError
    from ..security.store import verified_store

    path = resolve_path(args.keyring)
    principal = authorize_args(args, "manage-keys", str(path), anchors=(path, *args.store))
    log = AuditLog.default()
    if args.action == "init":
        ring = KeyRing.init(path)
        log.append("key", principal=principal, operation="init", keyring=str(path), key_ids=[k["id"] for k in ring.describe()])
        print(f"created key ring {path} (mode 0600)")
        return 0
    if args.action == "c2pa-cert":
        return _c2pa_cert(args, principal, log)
    if args.action.startswith("reader-") and not args.role:
        raise SpecError(f"keys {args.action} needs a ROLE")
    ring = KeyRing.load(path)
    if args.action == "reader-new":
        from ..security.readers import create_reader_key

        if args.out is None:
            raise SpecError("keys reader-new needs --out FILE for the role's private key")
        ring.require_new_reader(args.role)  # before any file is made
        public = create_reader_key(args.out)  # refuses an existing file
        try:
            key_id = ring.add_reader(args.role, public)
        except BaseException:
            args.out.unlink(missing_ok=True)  # the key was never listed: leave nothing half-made
            raise
        log.append("key", principal=principal, operation="reader-new", keyring=str(path), role=args.role, key_id=key_id)
        print(f"reader role {args.role} ({key_id}): private key {args.out} (mode 0600), public key in {path}")
        return 0
    if args.action == "reader-remove":
        key_id = ring.remove_reader(args.role)
        log.append("key", principal=principal, operation="reader-remove", keyring=str(path), role=args.role, key_id=key_id)
        print(f"removed reader role {args.role} ({key_id}); re-wrap stores to revoke it there: "
              f"mmeval keys rotate --store RUN_DIR")
        return 0
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
                role = f" role {k['role']}" if k.get("role") else ""
                print(f"{k['id']:16} {k['kind']:10} {'active' if k['active'] else 'inactive':9} {k['created']}{role}")
        return 0
    # rotate: check every run, its store bound to it, before anything changes (never re-sign
    # a run that was tampered with)
    from ..report.signing import SIGNOFF, sign_run

    runs = []
    for run_dir in map(Path, args.store):
        store = verified_store(run_dir, ring)
        store.verify()
        runs.append((run_dir, store, _signoff_to_retire(run_dir)))
    old = [k for k in ring.master_ids()]
    new_id = ring.rotate()
    log.append("key", principal=principal, operation="rotate", keyring=str(path), new_key_id=new_id)
    readers = sorted(r.role for r in ring.readers())
    for run_dir, store, retired in runs:
        n = store.rewrap(ring)
        # record files changed: the attestation must cover the new bytes
        sign_run(run_dir, json.loads((run_dir / "report.json").read_text(encoding="utf-8")))
        if retired is not None:  # it approved the old attestation, which is gone
            (run_dir / SIGNOFF).unlink()
            print(f"{run_dir}: {retired} covered the old attestation and was removed; sign off again")
        log.append("key", principal=principal, operation="rewrap", store=str(run_dir), records=n, key_id=new_id,
                   readers=readers, resigned=True, signoff_removed=retired)
        print(f"re-wrapped {n} records in {run_dir} under {new_id} for readers: {', '.join(readers) or 'none'}")
    if args.remove_old:
        for key_id in old:
            ring.remove_master(key_id)
        log.append("key", principal=principal, operation="remove", keyring=str(path), key_ids=old)
        print(f"removed old master keys: {', '.join(old)}")
    print(f"active master key: {new_id}")
    return 0


def _c2pa_cert(args: argparse.Namespace, principal: str, log) -> int:
    from ..provenance.c2pa_embed import default_dir, make_signer

    out = args.out or default_dir()
    written = make_signer(out, args.ca_cert, args.ca_key)
    log.append("key", principal=principal, operation="c2pa-cert", directory=str(out),
               local_ca=args.ca_cert is None, files=[p.name for p in written])
    for path in written:
        print(f"wrote {path}" + (" (mode 0600)" if path.suffix == ".key" else ""))
    return 0


def _signoff_to_retire(run_dir: Path) -> str | None:
    """What the run's sign-off says, for the audit log, before re-signing voids it."""
    from ..errors import IntegrityError
    from ..report.signing import SIGNOFF, verify_release

    if not (run_dir / SIGNOFF).exists():
        return None
    try:
        approval = verify_release(run_dir)[1]
        return f"the sign-off by {approval.approved_by} ({approval.keyid})"
    except IntegrityError as exc:  # e.g. an approver's key we do not hold: it goes all the same
        return f"a sign-off that did not verify here ({exc})"
