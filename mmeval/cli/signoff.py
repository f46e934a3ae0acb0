"""`mmeval signoff RUN_DIR [--principal NAME] [--key PUBKEY] [--json]`: approve a release.

Needs the `sign-off` permission, a report whose status is `pass` (not `ungated`: a
suite without thresholds checked nothing) of the whole suite (not a `--limit` subset),
and a run that verifies. Writes
`signoff.dsse.json` (format and checks: report/signoff.py; `mmeval verify` checks it)
and an audit event.

Permission: `sign-off` on the suite the verified attestation names, under the policies
in force (site, project, `--policy`); without any, local single-user mode (see README). The
decision and the approval are both events in the audit log. `--json` prints what was
approved (run, principal, file written) as one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by `mmeval run`")
    parser.add_argument("--key", type=Path, help="trusted public key the run must be signed with (default: your own)")
    parser.add_argument("--signing-key", type=Path, help="Ed25519 private key (PEM) to sign the approval (default: $MMEVAL_SIGNING_KEY, else yours)")
    parser.add_argument("--comment", default="", help="a note stored in the approval")
    parser.add_argument("--json", action="store_true", help="print what was approved as one JSON object")
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..errors import GateBlocked
    from ..report.signing import key_id, load_signing_key, verify_run
    from ..report.signoff import SIGNABLE_STATUS, write_signoff
    from ..report.summary import ratings_caveat
    from ..runinfo import utc_now
    from ..security.auditlog import AuditLog

    statement = verify_run(args.run_dir, args.key)  # IntegrityError (exit 4) if anything changed
    report = json.loads((args.run_dir / "report.json").read_text())
    principal = authorize_run(args, "sign-off", args.run_dir, statement)  # the signed suite
    if report.get("status") == "ungated":
        raise GateBlocked(f"{args.run_dir}/report.json: status is 'ungated': the suite sets no thresholds, so nothing was "
                          "gated; add thresholds to the suite to sign off a release")
    if report.get("status") != SIGNABLE_STATUS:
        raise GateBlocked(f"{args.run_dir}/report.json: status is {report.get('status')!r}; only a passing run can be signed off")
    partial = report.get("dataset", {}).get("partial")
    if partial:  # a --limit run measured part of the suite: a smoke check, not a release verdict
        raise GateBlocked(f"{args.run_dir}/report.json: the run is partial ({partial}); run the whole suite to sign off")
    overrides = report.get("suite", {}).get("overrides")
    if overrides:  # what ran is not the suite file whose sha256 the report names
        raise GateBlocked(f"{args.run_dir}/report.json: the run changed the suite with --set ({', '.join(overrides)}); "
                          "put the change in the suite file and run it to sign off")
    ratings = ratings_caveat(report)
    if ratings:  # the suite asks people to rate: a verdict without their ratings is not the suite's
        raise GateBlocked(f"{args.run_dir}/report.json: {ratings}; collect and summarize them (mmeval review) to sign off")
    key = load_signing_key(args.signing_key)
    path = write_signoff(args.run_dir, statement, principal, utc_now(), args.comment, key)
    keyid = key_id(key.public_key())
    AuditLog.default().append("sign-off", principal=principal, run_id=report.get("run_id"), suite=report["suite"]["name"], keyid=keyid)
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), "run_id": report.get("run_id"), "suite": report["suite"]["name"],
                          "status": report["status"], "principal": principal, "keyid": keyid, "signoff_file": str(path)}, indent=2))
    else:
        print(f"signed off by {principal}: {path}")
    return 0
