"""`mmeval review serve RUN_DIR [--port P]` and `mmeval review summarize RUN_DIR`: human ratings.

`serve` needs the `review` permission on the suite the run's signed attestation names; the
rater is the acting principal. It prints a one-time URL on 127.0.0.1 (review/server.py)
and appends every answer to RUN_DIR/reviews.jsonl (review/ledger.py) until Ctrl-C. A run
sealed with a key ring needs that ring (`--keyring`): the page decrypts each sample as it
shows it.

`summarize` needs `run` on that suite (it rewrites the verdict): it folds every rating into
the report as `human_*` results, checks the report's thresholds again and signs the run
with your key, the ratings included (review/fold.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    serve = actions.add_parser("serve", help="serve the rating page for RUN_DIR on 127.0.0.1 (one-time URL)",
                               description="Serve a local page where you rate RUN_DIR's chosen samples; Ctrl-C stops it.")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    summarize = actions.add_parser("summarize", help="fold RUN_DIR's ratings into its report and sign it",
                                   description="Compute human_* results from RUN_DIR/reviews.jsonl, re-check thresholds, sign.")
    for action in (serve, summarize):
        action.add_argument("run_dir", type=Path, metavar="RUN_DIR")
        action.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        add_access_arguments(action, run_key=True)


def main(args: argparse.Namespace) -> int:
    return _serve(args) if args.action == "serve" else _summarize(args)


def _summarize(args: argparse.Namespace) -> int:
    from ..report.signing import verify_attestation
    from ..report.summary import summarize
    from ..review.fold import fold_ratings, recover
    from ..security.auditlog import AuditLog

    recover(args.run_dir)  # finish your own interrupted summary first, or the run cannot verify
    statement = verify_attestation(args.run_dir, args.key)
    principal = authorize_run(args, "run", args.run_dir, statement)
    ring = _ring_if_sealed(args, _report(args.run_dir))
    report = fold_ratings(args.run_dir, args.key, ring, statement=statement)
    summary = report["review"]["summary"]
    AuditLog.default().append("review-summarize", principal=principal, run_id=report["run_id"], ratings=summary["ratings"],
                              raters=len(summary["raters"]), status=report["status"])
    print(summarize(report, str(args.run_dir)))
    return 1 if report["status"] in ("fail", "blocked") else 0


def _serve(args: argparse.Namespace) -> int:
    from ..errors import AccessDenied, InputError
    from ..report.signing import verify_attestation
    from ..review.server import ReviewServer
    from ..security.auditlog import AuditLog
    from ..security.policy import authorize, decide
    from ..security.store import verified_store
    from ._access import policy_for, signed_suite

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: not a port number")
    statement = verify_attestation(args.run_dir, args.key)
    principal = authorize_run(args, "review", args.run_dir, statement)
    report = _report(args.run_dir)
    section = report.get("review")
    if not isinstance(section, dict):
        raise InputError(f"{args.run_dir}: the suite of this run has no 'review:' section; there is nothing to rate")
    if report["status"] == "blocked":
        raise InputError(f"{args.run_dir}: the run was blocked by a gate; it has no outputs to rate")
    ring = _ring_if_sealed(args, report)
    store = verified_store(args.run_dir, ring, statement=statement) if ring is not None else None
    suite, sha256 = signed_suite(statement, args.run_dir)

    def allowed() -> bool:  # the policy may change while the page is open: asked on every request
        policies = policy_for(args, args.run_dir)
        if decide("review", suite, principal=args.principal, policy=policies, suite_sha256=sha256).allowed:
            return True
        try:
            authorize("review", suite, principal=args.principal, policy=policies, suite_sha256=sha256, run_dir=str(args.run_dir))
        except AccessDenied:
            return False  # audited by authorize
        return True

    server = ReviewServer(args.run_dir, rater=principal, section=section, run_id=report["run_id"], suite=suite,
                          store=store, allowed=allowed,
                          attested={str(s["name"]): str(s["digest"]["sha256"]) for s in statement["subject"]})
    log = AuditLog.default()
    log.append("review-serve", principal=principal, run_id=report["run_id"], samples=len(section["samples"]))
    try:
        server.serve(args.port)
    except KeyboardInterrupt:
        pass
    finally:
        log.append("review-stop", principal=principal, run_id=report["run_id"], ratings=server.saved)
    print(f"review: {server.saved} rating(s) saved to {server.ratings.path}; "
          f"'mmeval review summarize {args.run_dir}' adds them to the signed report")
    return 0


def _report(run_dir: Path) -> dict:
    from ..errors import InputError

    try:
        return json.loads((Path(run_dir) / "report.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}: no report.json; not a run folder") from None


def _ring_if_sealed(args: argparse.Namespace, report: dict):
    """The key ring when the run's data is sealed (its material or records), else None."""
    if not (report.get("store") or {}).get("encrypted"):
        return None
    from ..security.keyring import KeyRing, resolve_path

    return KeyRing.load(resolve_path(args.keyring))
