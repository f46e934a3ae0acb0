"""`mmeval review summarize RUN_DIR`: fold the run's ratings into its signed report.

The run is verified first (its attestation, with lines appended to `reviews.jsonl` since
the last summary allowed), the rating chain is checked and held locked, the `human_*`
results are recomputed from every rating (review/summary.py), the report's thresholds are
checked again from the report itself (the suite file may have moved or changed since),
and report.json/.md/.html are rewritten and signed with your signing key: the attestation
then covers `reviews.jsonl` byte for byte, so an edited rating fails `mmeval verify`.
A run that is signed off is refused: its approval is of the verdict as it was.

Crash safety: the new report files and attestation are made in memory first and written
to a signed journal (`.summary.pending`, your key); only then are they put in place, the
attestation last, and the journal removed. A summary killed part-way leaves the journal
(so `verify` fails, naming it), and the next `mmeval review summarize` finishes it before
anything else: the journal applies only over the attestation it was made from.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError, IntegrityError
from ..fsutil import json_bytes, sha256_file, write_atomic
from ..runinfo import utc_now
from .ledger import Ratings
from .summary import correlations, human_results

JOURNAL = ".summary.pending"
JOURNAL_TYPE = "application/vnd.mmeval.summary-journal+json"
VIEWS = ("report.json", "report.md", "report.html")


def fold_ratings(run_dir: Path, trusted_key: Path | None = None, ring: Any = None,
                 statement: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's new report (written and signed). `statement`: the run's attestation, when the
    caller has just finished any interrupted summary (`recover`) and verified it."""
    from ..report.signing import ATTESTATION, SIGNOFF, attestation_bytes, load_signing_key, verify_attestation
    from ..runner.decide import check_thresholds, failure_reason, status_of
    from ..runner.report import report_views
    from ..suite import ThresholdSpec

    run_dir = Path(run_dir)
    if statement is None:
        recover(run_dir)
        statement = verify_attestation(run_dir, trusted_key)
    if (run_dir / SIGNOFF).exists():
        raise InputError(f"{run_dir} is signed off; ratings cannot change an approved verdict (rate a new run)")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    section = report.get("review")
    if not isinstance(section, dict):
        raise InputError(f"{run_dir}: the suite of this run has no 'review:' section; there is nothing to summarize")
    if report["status"] == "blocked":
        raise InputError(f"{run_dir}: the run was blocked by a gate; it has no outputs to rate")
    ratings = Ratings(run_dir, report["run_id"])
    with ratings.frozen() as entries:  # no answer lands between reading and signing
        seed = int(report["provenance"].get("seed", 0))
        results = [r for r in report["results"] if r.get("kind") != "human"]
        results += human_results(section, entries, seed)
        specs = [ThresholdSpec(model=t["model"], metric=t["metric"], min=t.get("min"), max=t.get("max")) for t in report["thresholds"]]
        thresholds = check_thresholds(specs, results)
        records, why = _records(run_dir, report, ring, statement)
        raters_of: dict[str, set[str]] = {}
        for e in entries:
            raters_of.setdefault(e["sample_id"], set()).add(e["rater"])
        per_sample = {sid: len(raters) for sid, raters in raters_of.items()}
        need = section["raters_per_sample"]
        have, wanted = sum(min(n, need) for n in per_sample.values()), need * len(section["samples"])
        section["summary"] = {
            "ratings": len(entries),
            "raters": sorted({e["rater"] for e in entries}),
            "rated_samples": len(per_sample),
            "complete_samples": sum(1 for n in per_sample.values() if n >= need),
            **({"incomplete": f"{have} of {wanted} ratings ({need} per sample for {len(section['samples'])} samples)"}
               if have < wanted else {}),
            "correlations": correlations(section, entries, records) if records is not None else [],
            **({"correlations_note": why} if why else {}),
            "summarized": utc_now(),
        }
        report.update(results=results, thresholds=thresholds, status=status_of(False, thresholds), reason=failure_reason(thresholds))
        key = load_signing_key()
        files = {name: render() for name, render in report_views(report, run_dir).items()}
        files[ATTESTATION] = attestation_bytes(run_dir, report, key, contents=files)
        _commit(run_dir, files, key)
    return report


def _commit(run_dir: Path, files: dict[str, bytes], key: Any) -> None:
    """Put `files` in place so that a crash part-way can be finished (`recover`)."""
    from ..report.signing import ATTESTATION, sign_envelope

    payload = {"from": sha256_file(run_dir / ATTESTATION), "files": {n: base64.b64encode(b).decode() for n, b in files.items()}}
    write_atomic(run_dir / JOURNAL, json_bytes(sign_envelope(json.dumps(payload).encode(), key, JOURNAL_TYPE)), mode=0o600)
    _put(run_dir, files)


def recover(run_dir: Path) -> None:
    """Finish a summary that was interrupted after its journal was written."""
    from ..report.signing import ATTESTATION, open_envelope, trusted_keys

    journal = run_dir / JOURNAL
    if not journal.exists():
        return
    try:
        envelope = json.loads(journal.read_bytes())
        if envelope.get("payloadType") != JOURNAL_TYPE:
            raise ValueError
        payload = json.loads(open_envelope(envelope, trusted_keys(None), str(journal)))
        files = {str(n): base64.b64decode(b, validate=True) for n, b in payload["files"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise IntegrityError(f"{journal}: not a summary journal") from None
    if set(files) != {*VIEWS, ATTESTATION}:
        raise IntegrityError(f"{journal}: names files a summary does not write")
    current = sha256_file(run_dir / ATTESTATION)
    if current not in (payload.get("from"), hashlib.sha256(files[ATTESTATION]).hexdigest()):
        raise IntegrityError(f"{journal}: made over another attestation than this run's; it is stale or from elsewhere")
    sys.stderr.write(f"warning: {run_dir}: finishing a summary that was interrupted ({JOURNAL})\n")
    _put(run_dir, files)


def _put(run_dir: Path, files: dict[str, bytes]) -> None:
    from ..report.signing import ATTESTATION

    for name in (*VIEWS, ATTESTATION):  # the signature last: until it lands the journal can redo all
        write_atomic(run_dir / name, files[name])
    (run_dir / JOURNAL).unlink()


def _records(run_dir: Path, report: dict[str, Any], ring: Any, statement: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, str]:
    """The run's per-sample records, or None and why not (a sealed run without its key ring)."""
    from ..report.records import RECORDS, parse_records, read_records, sealed_records_text

    if not (report.get("store") or {}).get("encrypted"):
        return read_records(run_dir), ""
    if ring is None:
        return None, "not computed: the per-sample records are sealed; summarize with the run's key ring"
    from ..security.store import verified_store

    return parse_records(sealed_records_text(verified_store(run_dir, ring, statement=statement)), f"{run_dir}/store/{RECORDS}"), ""
