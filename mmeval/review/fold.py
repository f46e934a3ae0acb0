"""`mmeval review summarize RUN_DIR`: fold the run's ratings into its signed report.

The run is verified first (its attestation, with lines appended to `reviews.jsonl` since
the last summary allowed), the rating chain is checked and held locked, the `human_*`
results are recomputed from every rating (review/summary.py), the report's thresholds are
checked again from the report itself (the suite file may have moved or changed since),
and report.json/.md/.html are rewritten and signed with your signing key: the attestation
then covers `reviews.jsonl` byte for byte, so an edited rating fails `mmeval verify`.
A run that is signed off is refused: its approval is of the verdict as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..runinfo import utc_now
from .ledger import Ratings
from .summary import correlations, human_results


def fold_ratings(run_dir: Path, trusted_key: Path | None = None, ring: Any = None, progress: bool = False) -> dict[str, Any]:
    """The run's new report (written and signed)."""
    from ..report.signing import SIGNOFF, verify_attestation
    from ..runner.decide import check_thresholds, failure_reason, status_of
    from ..runner.report import write_report_files
    from ..suite import ThresholdSpec

    run_dir = Path(run_dir)
    verify_attestation(run_dir, trusted_key)
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
        records, why = _records(run_dir, report, ring)
        rated = {e["sample_id"] for e in entries}
        per_sample = {sid: len({e["rater"] for e in entries if e["sample_id"] == sid}) for sid in rated}
        need = section["raters_per_sample"]
        have, wanted = sum(min(n, need) for n in per_sample.values()), need * len(section["samples"])
        section["summary"] = {
            "ratings": len(entries),
            "raters": sorted({e["rater"] for e in entries}),
            "rated_samples": len(rated),
            "complete_samples": sum(1 for n in per_sample.values() if n >= need),
            **({"incomplete": f"{have} of {wanted} ratings ({need} per sample for {len(section['samples'])} samples)"}
               if have < wanted else {}),
            "correlations": correlations(section, entries, records) if records is not None else [],
            **({"correlations_note": why} if why else {}),
            "summarized": utc_now(),
        }
        report.update(results=results, thresholds=thresholds, status=status_of(False, thresholds), reason=failure_reason(thresholds))
        write_report_files(report, run_dir, progress)
    return report


def _records(run_dir: Path, report: dict[str, Any], ring: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """The run's per-sample records, or None and why not (a sealed run without its key ring)."""
    from ..report.records import RECORDS, parse_records, read_records, sealed_records_text

    if not (report.get("store") or {}).get("encrypted"):
        return read_records(run_dir), ""
    if ring is None:
        return None, "not computed: the per-sample records are sealed; summarize with the run's key ring"
    from ..security.store import RecordStore

    return parse_records(sealed_records_text(RecordStore.open(run_dir, ring)), f"{run_dir}/store/{RECORDS}"), ""
