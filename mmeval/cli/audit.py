"""`mmeval audit DIR [--json] [--policy P] [--out OUT_DIR]`: check content generated elsewhere.

For each text (.txt/.jsonl), image (PNG/JPEG) and audio (WAV) file: watermark detection
(score, p-value), manifest validity and, for text, PII findings (types and counts, never
values). Violations follow the access policy's `audit:` rules (default: unmarked content,
an invalid manifest and PII are violations). Writes `audit.json` and a signed attestation
over it (`mmeval verify OUT_DIR` checks it) to OUT_DIR, default reports/audit/<UTC time>/.
Exit 0 when nothing violates the rules, 1 when something does. Needs the `audit` permission.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, policy_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="folder of generated content to audit")
    parser.add_argument("--json", action="store_true", help="print the audit report as JSON")
    parser.add_argument("--out", type=Path, help="where to write the signed audit (default: reports/audit/<UTC time>/)")
    parser.add_argument("--force", action="store_true", help="replace an earlier mmeval output at --out")
    parser.add_argument("--public-key", type=Path, help="trusted manifest signer, PEM (default: the key ring's)")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer folder of the text generator (default: reference text model)")
    parser.add_argument("--c2pa-trust", type=Path, metavar="PEM",
                        help="CA certificates embedded C2PA manifests must chain to (default: $MMEVAL_HOME/c2pa/ca.pem)")
    add_access_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..fsutil import write_json
    from ..staging import staged_directory
    from ..provenance.audit import AuditRules, Auditor
    from ..provenance.files import WatermarkKeys
    from ..provenance.manifest import trusted_signers
    from ..report.signing import sign_run
    from ..runinfo import utc_now
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path
    from ..security.policy import authorize

    if not args.folder.is_dir():
        raise InputError(f"{args.folder}: not a folder")
    policy = policy_for(args, args.folder)  # site, project and --policy; their audit: rules too
    principal = authorize("audit", str(args.folder), principal=args.principal, policy=policy)
    rules = AuditRules.parse(policy.audit)
    ring = KeyRing.load(resolve_path(args.keyring))
    trusted = trusted_signers(args.public_key, ring)
    from ..provenance.c2pa_embed import trust_anchors

    auditor = Auditor(WatermarkKeys.from_ring(ring), trusted, rules, args.tokenizer, trust_anchors(args.c2pa_trust))
    report = auditor.audit(args.folder)
    report.update(started=utc_now(), principal=principal, pii_detector=auditor.describe_pii())
    out = args.out or Path("reports") / "audit" / utc_now().replace(":", "").replace("-", "")
    with staged_directory(out, replace=args.force) as staging:  # the audit appears whole and signed, or not at all
        write_json(staging / "audit.json", report)
        # Signed like a run, with the same key, so `mmeval verify OUT` checks it.
        sign_run(staging, {"status": report["status"], "run_id": None, "suite": {"name": "audit", "path": str(args.folder)}})
    AuditLog.default().append("audit", principal=principal, folder=str(args.folder), status=report["status"],
                              files=report["summary"]["files"], violating=report["summary"]["violating_files"])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report, out)
    return 1 if report["status"] == "fail" else 0


def _print(report: dict[str, Any], out: Path) -> None:
    for entry in report["files"]:
        mark = entry.get("watermark")
        if isinstance(mark, list):
            hits = sum(1 for m in mark if m["detected"])
            mark_text = f"marked in {hits} of {len(mark)} item{'s' if len(mark) != 1 else ''}"
        elif mark:
            mark_text = f"{'marked' if mark['detected'] else 'unmarked'} (p {mark['p_value']:.1e})"
        else:
            mark_text = "-"
        pii = ",".join(f"{k}×{v}" for k, v in sorted((entry.get("pii") or {}).items())) or "-"
        verdict = "VIOLATION " + ",".join(entry["violations"]) if entry["violations"] else "ok"
        print(f"{entry['file']:<40} {entry['modality']:<6} {mark_text:<24} manifest {entry['manifest']['state']:<8} pii {pii:<20} {verdict}")
    for orphan in report["orphan_manifests"]:
        print(f"{orphan:<40} manifest without its asset: VIOLATION")
    s = report["summary"]
    print(f"\naudit {report['status'].upper()}: {s['violating_files']} of {s['files']} files violate the rules"
          f" ({s['skipped']} other files skipped); signed report in {out}")
