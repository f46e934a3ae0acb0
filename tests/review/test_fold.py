"""`mmeval review summarize`: ratings become signed results that thresholds use."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import spearmanr

from mmeval.cli import main
from mmeval.errors import InputError, IntegrityError
from mmeval.report.signing import verify_attestation, verify_run
from mmeval.review.fold import fold_ratings
from mmeval.review.ledger import Ratings
from tests.review.fixtures import rated_run


def _rate(run_dir, raters=("ann", "bob"), losses=frozenset(), ties=frozenset()):
    """Every chosen sample, by every rater: the candidate wins except where told; fluency
    is 5 for the candidate and 2 for the reference, fits_product = 1 + sample number % 5."""
    report = json.loads((run_dir / "report.json").read_text())
    ratings = Ratings(run_dir, report["run_id"])
    for rater in raters:
        for i, sid in enumerate(report["review"]["samples"]):
            shown = ["candidate", "reference"] if i % 2 else ["reference", "candidate"]
            pick = "tie" if (rater, sid) in ties else ("left" if (shown[0] == "candidate") != ((rater, sid) in losses) else "right")
            fits = 1 + int(sid[1:]) % 5
            ratings.append(rater, sid, shown, pick, {"candidate": {"fits_product": fits, "fluency": 5},
                                                     "reference": {"fits_product": fits, "fluency": 2}})
    return report


def _result(report, model, key):
    return next(r for r in report["results"] if r["model"] == model and r["key"] == key)


def test_values_match_hand_computed_ones_and_decide_the_verdict(tmp_path):
    run_dir = rated_run(tmp_path)  # 10 samples x 2 raters
    before = _rate(run_dir, losses={("ann", "p01"), ("bob", "p02"), ("bob", "p03")}, ties={("ann", "p04"), ("bob", "p05")})
    samples = before["review"]["samples"]
    losses = sum(1 for x in (("ann", "p01"), ("bob", "p02"), ("bob", "p03")) if x[1] in samples)
    ties = sum(1 for x in (("ann", "p04"), ("bob", "p05")) if x[1] in samples)
    report = fold_ratings(run_dir)
    rate = (20 - losses - ties + ties / 2) / 20
    win = _result(report, "candidate", "human_preference")
    assert win["value"] == pytest.approx(rate) and win["n"] == 20 and win["against"] == "reference"
    assert 0.0 <= win["ci_low"] <= rate <= win["ci_high"] <= 1.0
    strength = _result(report, "candidate", "human_preference_strength")
    assert strength["value"] == pytest.approx(math.log(rate / (1 - rate)))
    log_odds = lambda p: math.log(p / (1 - p))  # noqa: E731
    if win["ci_high"] < 1:
        assert (strength["ci_low"], strength["ci_high"]) == pytest.approx((log_odds(win["ci_low"]), log_odds(win["ci_high"])))
    else:  # some resamples are all wins: the strength has no finite upper bound, and says so
        assert "ci_low" not in strength and "unbounded" in strength["ci_note"]
    assert _result(report, "candidate", "human_fluency")["value"] == 5.0
    assert _result(report, "reference", "human_fluency")["value"] == 2.0
    fits = [1 + int(s[1:]) % 5 for s in samples]
    assert _result(report, "reference", "human_fits_product")["value"] == pytest.approx(sum(fits) / len(fits))
    assert _result(report, "candidate", "human_fits_product_agreement")["value"] == pytest.approx(1.0)  # raters agree exactly
    assert report["status"] == "pass" and report["thresholds"][0]["passed"]
    summary = report["review"]["summary"]
    assert summary["ratings"] == 20 and summary["raters"] == ["ann", "bob"] and summary["complete_samples"] == 10
    assert "incomplete" not in summary
    verify_run(run_dir)  # the attestation now covers reviews.jsonl


def test_correlations_are_spearman_over_the_rated_pairs(tmp_path):
    run_dir = rated_run(tmp_path)
    _rate(run_dir)
    report = fold_ratings(run_dir)
    records = {(r["model"], r["id"]): r["metrics"]["chrf"] for r in map(json.loads, (run_dir / "records.jsonl").read_text().splitlines())}
    pairs = [(1 + int(sid[1:]) % 5, records[(m, sid)]) for m in ("candidate", "reference") for sid in report["review"]["samples"]]
    expected = spearmanr([h for h, _ in pairs], [v for _, v in pairs]).statistic
    row = next(c for c in report["review"]["summary"]["correlations"] if c["human"] == "human_fits_product" and c["metric"] == "chrf")
    assert row["n"] == 20 and row["rho"] == pytest.approx(expected)


def test_no_ratings_is_not_measured_and_never_a_pass(tmp_path, capsys):
    run_dir = rated_run(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "fail" and _result(report, "candidate", "human_preference")["value"] is None
    assert "not measured" in report["reason"]
    for view in ("report.md", "report.html"):
        assert "not collected yet" in (run_dir / view).read_text()
    report = fold_ratings(run_dir)  # summarizing nothing changes nothing
    assert report["status"] == "fail" and _result(report, "candidate", "human_preference")["value"] is None


def test_incomplete_ratings_are_said_everywhere_and_block_sign_off(tmp_path, capsys):
    run_dir = rated_run(tmp_path)
    _rate(run_dir, raters=("ann",))
    assert main(["review", "summarize", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "human ratings incomplete: 10 of 20 ratings" in out
    for view in ("report.md", "report.html"):
        assert "10 of 20 ratings" in (run_dir / view).read_text()
    assert main(["signoff", str(run_dir)]) == 1
    assert "human ratings incomplete" in capsys.readouterr().err


def test_an_edited_rating_fails_verify_and_pending_ones_are_named(tmp_path, capsys):
    run_dir = rated_run(tmp_path)
    report = _rate(run_dir)
    fold_ratings(run_dir)
    ratings = run_dir / "reviews.jsonl"
    Ratings(run_dir, report["run_id"]).append("cy", report["review"]["samples"][0], ["candidate", "reference"], "right", {})
    verify_attestation(run_dir)  # readers (the store, the server) accept appended ratings
    assert main(["verify", str(run_dir)]) == 4
    assert "summarize" in capsys.readouterr().err
    fold_ratings(run_dir)
    assert main(["verify", str(run_dir)]) == 0
    data = ratings.read_bytes()
    ratings.write_bytes(data.replace(b'"fluency": 5', b'"fluency": 4', 1))
    assert main(["verify", str(run_dir)]) == 4
    with pytest.raises(IntegrityError):
        verify_attestation(run_dir)  # a signed line changed: nobody reads this run
    with pytest.raises(IntegrityError):
        fold_ratings(run_dir)


def test_ratings_of_another_run_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = rated_run(tmp_path / "a"), rated_run(tmp_path / "b")
    _rate(first)
    (second / "reviews.jsonl").write_bytes((first / "reviews.jsonl").read_bytes())
    with pytest.raises(IntegrityError, match="rates run"):
        fold_ratings(second)


def test_a_signed_off_run_keeps_its_verdict(tmp_path, capsys):
    run_dir = rated_run(tmp_path)
    _rate(run_dir)
    fold_ratings(run_dir)
    assert main(["signoff", str(run_dir)]) == 0
    with pytest.raises(InputError, match="signed off"):
        fold_ratings(run_dir)
    assert main(["verify", str(run_dir)]) == 0


def test_force_never_replaces_a_rated_run(tmp_path, capsys):
    run_dir = rated_run(tmp_path)
    _rate(run_dir, raters=("ann",))
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert main(["run", str(tmp_path / "suite.yaml"), "--out", str(run_dir), "--force"]) == 2
    assert "human ratings" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_compare_leaves_human_ratings_out(tmp_path):
    from mmeval.cli.compare import compare_runs

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = rated_run(tmp_path / "a"), rated_run(tmp_path / "b")
    _rate(second)
    fold_ratings(second)  # rated by other people than the baseline (here: by nobody)
    rows = compare_runs(first, second)
    assert {r["metric"] for r in rows} == {"bleu", "chrf"}


def test_a_summary_killed_part_way_is_finished_by_the_next(tmp_path, monkeypatch, capsys):
    import mmeval.review.fold as fold

    run_dir = rated_run(tmp_path)
    _rate(run_dir)
    real, written = fold.write_atomic, []

    def dies_after_the_record(path, data, mode=0o644):
        if written and path.name != ".summary.pending":
            raise KeyboardInterrupt  # killed after report.json landed, before its views and signature
        real(path, data, mode)
        written.append(path.name) if path.name == "report.json" else None

    monkeypatch.setattr(fold, "write_atomic", dies_after_the_record)
    with pytest.raises(KeyboardInterrupt):
        fold_ratings(run_dir)
    monkeypatch.setattr(fold, "write_atomic", real)
    assert written == ["report.json"] and (run_dir / ".summary.pending").exists()
    with pytest.raises(IntegrityError):
        verify_run(run_dir)  # half-written: never verified
    from mmeval.security.policy import os_user

    policy = tmp_path / "policy.yaml"  # with a policy in force the run is verified before the decision
    policy.write_text(f"roles:\n  releaser: [run, read-report]\nprincipals:\n  {os_user()}: [releaser]\n")
    assert main(["review", "summarize", str(run_dir), "--policy", str(policy)]) == 0
    assert "finishing a summary that was interrupted" in capsys.readouterr().err
    report = json.loads((run_dir / "report.json").read_text())
    assert not (run_dir / ".summary.pending").exists() and report["status"] == "pass"
    verify_run(run_dir)


def test_a_stale_or_forged_journal_is_refused(tmp_path, monkeypatch):
    import shutil

    import mmeval.review.fold as fold

    run_dir = rated_run(tmp_path)
    report = _rate(run_dir)
    kept, real_put = tmp_path / "kept", fold._put

    def keep_the_journal(folder, files):
        shutil.copy(folder / fold.JOURNAL, kept)
        real_put(folder, files)

    monkeypatch.setattr(fold, "_put", keep_the_journal)
    fold_ratings(run_dir)
    monkeypatch.setattr(fold, "_put", real_put)
    Ratings(run_dir, report["run_id"]).append("cy", report["review"]["samples"][0], ["candidate", "reference"], "tie", {})
    fold_ratings(run_dir)  # a newer summary: the kept journal's attestation is gone
    shutil.copy(kept, run_dir / fold.JOURNAL)
    with pytest.raises(IntegrityError, match="stale"):
        fold_ratings(run_dir)
    (run_dir / fold.JOURNAL).write_text('{"payloadType": "' + fold.JOURNAL_TYPE + '", "payload": "e30=", "signatures": []}')
    with pytest.raises(IntegrityError, match="untrusted key"):
        fold_ratings(run_dir)
