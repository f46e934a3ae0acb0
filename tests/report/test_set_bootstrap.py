"""Set-level bootstrap intervals: seeded, narrowing with more outputs, around the point
estimate where the statistic is near-unbiased, capped with a reason, and present in
report.json for FID and KID after a real run of suites/image-smoke.yaml."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmeval.metrics import resampling
from mmeval.metrics.audio.fad import FAD
from mmeval.metrics.diversity import Vendi, vendi_score
from mmeval.metrics.frechet import GaussianStats, GaussianTarget, ReweightedFrechet, ReweightedStatsFrechet, stats_distance
from mmeval.metrics.image.fid import FID
from mmeval.metrics.image.inception_score import InceptionScore, inception_score_from_logits
from mmeval.metrics.image.kid import KID, ResampledPolyMMD, poly_kernel, poly_mmd
from mmeval.metrics.image.set_metric import FeatureState
from mmeval.report import set_bootstrap as sb
from mmeval.report.markdown import render_markdown


def gaussian_sets(n: int, m: int = 500, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.3, 1.0, size=(n, d)), rng.normal(0.0, 1.0, size=(m, d))


def fid_resampler(n: int, seed: int = 0) -> ReweightedFrechet:
    x, y = gaussian_sets(n, seed=seed)
    return ReweightedFrechet(x, GaussianTarget.of_features(y))


def test_interval_is_seeded():
    resampler = fid_resampler(200)
    first = sb.set_bootstrap(resampler, resamples=100, seed=3)
    assert first == sb.set_bootstrap(resampler, resamples=100, seed=3)
    assert first != sb.set_bootstrap(resampler, resamples=100, seed=4)


def test_interval_narrows_with_more_outputs():
    small = sb.set_bootstrap(fid_resampler(100), resamples=200, seed=0)
    large = sb.set_bootstrap(fid_resampler(1600), resamples=200, seed=0)
    # 16x the outputs: the width shrinks ~4x; half of that is a loose bound.
    assert large[1] - large[0] < 0.5 * (small[1] - small[0])
    assert all(low <= median <= high for low, high, median in (small, large))


def test_fid_interval_contains_the_point_estimate_with_many_samples_per_dimension():
    resampler = fid_resampler(1600)
    point = resampler.distance(np.ones(1600))
    low, high, _ = sb.set_bootstrap(resampler, resamples=200, seed=0)
    assert low < point < high and high - low < point  # informative, not vacuous


def test_a_biased_statistic_gets_a_bias_corrected_interval_around_its_value():
    # 30 outputs in 256 dimensions: resamples (~19 distinct outputs) have a larger FID, so
    # the raw percentiles lie above the value; the shifted interval keeps their width.
    x, y = gaussian_sets(30, m=40, d=256)
    state = FeatureState(outputs=[x], targets=[y])
    value = FID(weights="random").compute(state)["fid"]
    raw_low, raw_high, median = sb.set_bootstrap(FID(weights="random").set_resampler(state), resamples=50, seed=0)
    assert raw_low > value  # what an uncorrected percentile interval would report
    fields = sb.set_interval_fields(FID(weights="random"), state, resamples=50, seed=0)
    assert fields["ci_low"] < value < fields["ci_high"]
    assert fields["ci_high"] - fields["ci_low"] == pytest.approx(raw_high - raw_low, rel=1e-9)
    assert f"{median - value:+.4g}" in fields["ci_note"]


def test_kid_replicates_and_interval():
    x, y = gaussian_sets(150, m=150, d=32, seed=1)
    resampler = ResampledPolyMMD(x, y)
    assert resampler.value(np.arange(150)) == pytest.approx(poly_mmd(x, y), rel=1e-12)
    # A duplicated output is not paired with its own copy: compare with that pair sum by hand.
    picks = np.random.default_rng(0).integers(0, 150, 150)
    kernel = poly_kernel(x, x)[np.ix_(picks, picks)]
    distinct = picks[:, None] != picks[None, :]
    kyy = poly_kernel(y, y)
    expected = kernel[distinct].mean() + (kyy.sum() - np.trace(kyy)) / (150 * 149) - 2 * poly_kernel(x[picks], y).mean()
    assert resampler.value(picks) == pytest.approx(expected, rel=1e-10)
    low, high, _ = sb.set_bootstrap(resampler, resamples=200, seed=0)
    assert low < poly_mmd(x, y) < high


def test_fad_resamples_whole_clips():
    rng = np.random.default_rng(2)
    clips = [GaussianStats.of(rng.normal(0.2 * (i % 3), 1.0, size=(20 + i, 8))) for i in range(30)]
    target = GaussianStats.of(rng.normal(size=(400, 8)))
    resampler = ReweightedStatsFrechet(clips, target)
    pooled = clips[0]
    for clip in clips[1:]:
        pooled = pooled.merge(clip)
    assert resampler.value(np.arange(30)) == pytest.approx(stats_distance(pooled, target), rel=1e-10)
    picks = rng.integers(0, 30, 30)
    drawn = clips[picks[0]]
    for i in picks[1:]:
        drawn = drawn.merge(clips[i])
    assert resampler.value(picks) == pytest.approx(stats_distance(drawn, target), rel=1e-10)


def test_fad_state_keeps_clip_statistics_until_the_cap(monkeypatch):
    fad = FAD()
    waves = [np.sin(np.linspace(0, 200 * (i + 1), 8000)).astype(np.float32) for i in range(4)]
    state = fad.update(fad.init(), waves[:2], waves[2:])
    state = fad.merge(state, fad.update(fad.init(), waves[2:], waves[:2]))
    assert len(state.output_clips) == 4 and isinstance(fad.set_resampler(state), ReweightedStatsFrechet)
    monkeypatch.setattr("mmeval.metrics.audio.fad.MAX_SET_FLOATS", 3 * (64 * 64 + 64))
    capped = fad.merge(state, fad.update(fad.init(), waves[:1], waves[:1]))
    assert capped.output_clips is None
    assert "MiB resampling cap" in fad.set_resampler(capped).reason


def test_vendi_of_a_resample_counts_duplicates_as_weight():
    vendi = Vendi()
    state = vendi.update(vendi.init(), [f"item number {i} with words {i * 7}" for i in range(12)], [None] * 12)
    resampler = vendi.set_resampler(state)
    point = vendi.compute(state)["vendi"]
    assert resampler.value(np.arange(12)) == pytest.approx(point)
    picks = np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  # one output three times, two never
    assert resampler.value(picks) == pytest.approx(vendi_score(resampler.rows[picks]))
    assert resampler.value(picks) < point  # a copy adds weight, not diversity


def test_inception_score_resampler_recomputes_the_score():
    logits = np.random.default_rng(4).normal(0, 3, size=(40, 1008))
    metric = InceptionScore(weights="random", splits=4)
    resampler = metric.set_resampler(FeatureState(outputs=[logits]))
    assert resampler.value(np.arange(40)) == pytest.approx(inception_score_from_logits(logits, 4)[0])
    assert not resampler.fixed_reference


def test_caps_give_reasons(monkeypatch):
    resampler = fid_resampler(50)
    monkeypatch.setattr(sb, "MAX_SET_SAMPLES", 40)
    assert "50 outputs exceed the set-bootstrap cap of 40" in sb.set_bootstrap(resampler, resamples=50, seed=0).reason
    monkeypatch.setattr(sb, "MAX_SET_SAMPLES", 20_000)
    monkeypatch.setattr(sb, "MAX_SET_FLOPS", resampler.flops * 10)
    assert "lower bootstrap.resamples" in sb.set_bootstrap(resampler, resamples=50, seed=0).reason
    assert isinstance(sb.set_bootstrap(resampler, resamples=10, seed=0), tuple)
    assert "at least 10" in sb.set_bootstrap(resampler, resamples=5, seed=0).reason
    monkeypatch.setattr(resampling, "MAX_SET_FLOATS", 100)
    x, y = gaussian_sets(20, m=20)
    kid = KID(weights="random")
    assert "MiB (cap" in kid.set_resampler(FeatureState(outputs=[x], targets=[y])).reason


def test_interval_fields_say_what_was_resampled():
    x, y = gaussian_sets(60, m=80, d=8)
    fid = FID(weights="random")
    fields = sb.set_interval_fields(fid, FeatureState(outputs=[x], targets=[y]), resamples=50, seed=0)
    assert fields["ci_low"] < fields["ci_high"]
    assert fields["ci_method"] == "set-bootstrap" and fields["ci_resamples"] == 50
    assert fields["ci_note"].startswith("outputs resampled with replacement; reference set fixed; percentiles shifted by")
    none = sb.set_interval_fields(fid, FeatureState(outputs=[x[:1]], targets=[y]), resamples=50, seed=0)
    assert "ci_low" not in none and none["ci_note"].startswith("no interval: ")


def test_markdown_marks_set_level_intervals_and_missing_ones():
    results = [
        {"model": "c", "metric": "fid", "key": "fid", "value": 12.0, "n": 50, "fingerprint": "f", "ci_low": 10.0, "ci_high": 15.0, "ci_method": "set-bootstrap", "ci_resamples": 50, "ci_note": "outputs resampled with replacement; reference set fixed"},
        {"model": "c", "metric": "self_bleu", "key": "self_bleu", "value": 3.0, "n": 50, "fingerprint": "s", "ci_method": "set-bootstrap", "ci_note": "no interval: self_bleu has no set-level bootstrap"},
    ]
    report = {"status": "pass", "suite": {"name": "s", "sha256": "0" * 64}, "run_id": "r", "thresholds": [], "results": results,
              "provenance": {"mmeval_version": "0", "device": "cpu", "seed": 0}}
    text = render_markdown(report)
    assert "12 [10, 15]†" in text
    assert "† set-level bootstrap over the outputs (50 replicates; any reference set fixed)" in text
    assert "c self_bleu: no interval: self_bleu has no set-level bootstrap" in text


@pytest.mark.slow
def test_image_smoke_run_has_seeded_fid_and_kid_intervals_and_reuses_the_reference(tmp_path, repo, monkeypatch):
    from mmeval.runner import run

    from mmeval.metrics.image import feature_memo
    from mmeval.metrics.image.inception import NETWORK

    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    reports = []
    for name in ("first", "second"):
        monkeypatch.setattr(feature_memo, "MEMO", feature_memo.FeatureMemo())  # each run as a fresh process
        before = NETWORK.images
        reports.append(run(repo / "suites" / "image-smoke.yaml", tmp_path / name, progress=False).report)
        reports[-1]["embedded"] = NETWORK.images - before
    first, second = reports
    # One pass per distinct image: 16 outputs x 2 models (FID, KID and IS share them) and the
    # 16 reference images on the first run; the second reads the reference features from the cache.
    assert (first["embedded"], second["embedded"]) == (32 + 16, 32)
    on_disk = json.loads((tmp_path / "first" / "report.json").read_text())
    headline = {(r["model"], r["key"]): r for r in on_disk["results"]}
    for model in ("candidate", "degraded"):
        for key in ("fid", "kid", "inception_score", "vendi"):
            entry = headline[(model, key)]
            assert entry["ci_method"] == "set-bootstrap" and entry["ci_resamples"] == 50, entry
            assert entry["ci_low"] <= entry["ci_high"], entry
        assert "reference set fixed" in headline[(model, "fid")]["ci_note"]
        assert "ci_low" not in headline[(model, "kid_std")]
    second_headline = {(r["model"], r["key"]): r for r in second["results"]}
    for key, entry in headline.items():
        assert (entry.get("ci_low"), entry.get("ci_high")) == (second_headline[key].get("ci_low"), second_headline[key].get("ci_high"))
    assert "†" in (tmp_path / "first" / "report.md").read_text()
