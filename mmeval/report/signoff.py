"""Release sign-offs: the one module that knows their format, to write one and to check one.

    RUN_DIR/signoff.dsse.json = DSSE envelope (Ed25519, as the run's attestation) over
      {"_type": in-toto Statement v1,
       "subject": [attestation.dsse.json, report.json] with their sha256,
       "predicateType": "https://mmeval.dev/attestation/signoff/v1",
       "predicate": {"decision": "approved", "approved_by", "approved_at", "comment",
                     "run_id", "suite", "files_verified"}}

A sign-off counts only if a trusted key signed it, its subjects are exactly this run's
attestation and report.json with their current digests, its run id is the attested one,
and the attested status is `pass`. Anything else is an IntegrityError naming the file and
the reason: a sign-off never passes by being ignored. The sign-off lies outside the
attestation (it signs the attestation), so `signing.verify_run` checks it here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from ..fsutil import sha256_file, write_json
from .signing import ATTESTATION, SIGNOFF, STATEMENT_TYPE, open_envelope_by, sign_envelope

PREDICATE_TYPE = "https://mmeval.dev/attestation/signoff/v1"
REPORT = "report.json"
SUBJECTS = (ATTESTATION, REPORT)
APPROVED = "approved"
SIGNABLE_STATUS = "pass"


@dataclass(frozen=True)
class Approval:
    approved_by: str
    approved_at: str
    keyid: str
    comment: str


def write_signoff(run_dir: Path, statement: dict[str, Any], principal: str, approved_at: str, comment: str, key: Any) -> Path:
    """Sign an approval of the verified run whose attestation `statement` is."""
    predicate = statement.get("predicate") or {}
    approval = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": sha256_file(run_dir / n)}} for n in SUBJECTS],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "decision": APPROVED, "approved_by": principal, "approved_at": approved_at, "comment": comment,
            "run_id": predicate.get("run_id"), "suite": predicate.get("suite"), "files_verified": len(statement["subject"]),
        },
    }
    payload = json.dumps(approval, sort_keys=True, separators=(",", ":")).encode()
    write_json(run_dir / SIGNOFF, sign_envelope(payload, key))
    return run_dir / SIGNOFF


def check_signoff(run_dir: Path, statement: dict[str, Any], trusted: list[Any]) -> Approval | None:
    """The run's approval if it has one (None if not); IntegrityError if it does not hold."""
    path = run_dir / SIGNOFF
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise IntegrityError(f"{path}: not a regular file")
    try:
        envelope = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise IntegrityError(f"{path}: not valid JSON") from None
    if not isinstance(envelope, dict):
        raise IntegrityError(f"{path}: not a DSSE envelope")
    payload, signer = open_envelope_by(envelope, trusted, str(path))  # untrusted or bad signature: IntegrityError
    try:
        approval = json.loads(payload)
        predicate = approval["predicate"]
        subjects = {s["name"]: s["digest"]["sha256"] for s in approval["subject"]}
        ok = approval["_type"] == STATEMENT_TYPE and approval["predicateType"] == PREDICATE_TYPE
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path}: signed payload is not a sign-off statement") from None
    if not ok or not isinstance(predicate, dict) or predicate.get("decision") != APPROVED:
        raise IntegrityError(f"{path}: signed payload is not an approval ({PREDICATE_TYPE})")
    if set(subjects) != set(SUBJECTS) or len(approval["subject"]) != len(SUBJECTS):
        raise IntegrityError(f"{path}: approves {sorted(subjects)}, not exactly {list(SUBJECTS)}")
    for name in SUBJECTS:
        if subjects[name] != sha256_file(run_dir / name):
            raise IntegrityError(f"{path}: approves a different {name} (sha256 {str(subjects[name])[:16]}…), not this run's")
    attested = statement.get("predicate") or {}
    if predicate.get("run_id") != attested.get("run_id"):
        raise IntegrityError(
            f"{path}: approves run {predicate.get('run_id')!r}, this run is {attested.get('run_id')!r}")
    if attested.get("status") != SIGNABLE_STATUS:
        raise IntegrityError(
            f"{path}: approves a run whose attested status is {attested.get('status')!r}; only a pass can be approved")
    return Approval(str(predicate.get("approved_by")), str(predicate.get("approved_at")), signer,
                    str(predicate.get("comment", "")))
