"""Generative precision / recall / density / coverage equal the authors' `prdc` package and
the papers' formulas (Kynkäänniemi et al. 2019, Naeem et al. 2020), for the math and for
the `prdc` image metric on Inception features."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from mmeval.metrics import prdc as pr
from mmeval.fsutil import sha256_file
from mmeval.metrics.image.fid import FID
from mmeval.metrics.image.precision_recall import PRDC
from mmeval.metrics.image.set_metric import FeatureState

prdc_package = pytest.importorskip("prdc")  # dev-only reference (NAVER's implementation)

KEYS = ("precision", "recall", "density", "coverage")


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        return {key: float(v) for key, v in prdc_package.compute_prdc(real, fake, k).items()}


def papers(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The definitions, one point at a time, with plain Euclidean norms."""
    def radius(points: np.ndarray, i: int) -> float:  # k-th nearest other point
        return float(np.sort(np.linalg.norm(points - points[i], axis=1))[k])

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    d = np.array([[np.linalg.norm(x - y) for y in fake] for x in real])  # real x fake
    precision = np.mean([any(d[i, j] < r_real[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(d[i, j] < r_fake[j] for j in range(len(fake))) for i in range(len(real))])
    density = sum(d[i, j] < r_real[i] for i in range(len(real)) for j in range(len(fake))) / (k * len(fake))
    coverage = np.mean([d[i].min() < r_real[i] for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


CASES = [(60, 45, 16, 5, 0.3), (40, 70, 2048, 5, 0.05), (200, 150, 64, 3, 0.5), (25, 25, 3, 1, 0.0), (90, 30, 8, 10, 1.0)]


@pytest.mark.parametrize(("n", "m", "d", "k", "shift"), CASES)
def test_prdc_equals_the_prdc_package(n, m, d, k, shift):
    rng = np.random.default_rng(n * 7 + d)
    real, fake = rng.normal(size=(n, d)), rng.normal(shift, 1.0 + shift / 2, size=(m, d))
    ours, ref = pr.prdc(real, fake, k), reference(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


@pytest.mark.parametrize(("n", "m", "d", "k", "shift"), CASES[:1] + CASES[3:])
def test_prdc_equals_the_papers_formulas(n, m, d, k, shift):
    rng = np.random.default_rng(n + m + d)
    real, fake = rng.normal(size=(n, d)), rng.normal(shift, 1.0, size=(m, d))
    ours, expected = pr.prdc(real, fake, k), papers(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(expected[key], abs=1e-12), key
    assert 0 <= ours["precision"] <= 1 and 0 <= ours["recall"] <= 1 and 0 <= ours["coverage"] <= 1 and ours["density"] >= 0


def test_blocks_never_change_a_value(monkeypatch):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(70, 12)), rng.normal(0.2, 1, size=(50, 12))
    whole = pr.prdc(real, fake, 4)
    monkeypatch.setattr(pr, "_BLOCK_FLOATS", 37)  # one row a block or a few
    assert pr.prdc(real, fake, 4) == whole


def test_duplicates_and_memorised_outputs_follow_the_package():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(30, 5))
    real[10:13] = real[9]  # 4 copies: their 3-NN radius is 0, so nothing is strictly inside
    fake = np.concatenate([real[:8], rng.normal(3, 1, size=(12, 5))])  # 8 memorised, 12 far off
    ours, ref = pr.prdc(real, fake, 3), reference(real, fake, 3)
    assert ours == pytest.approx(ref, abs=1e-12)
    assert ours["precision"] == pytest.approx(8 / 20)


def test_density_exceeds_one_for_outputs_packed_into_the_reference():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(80, 4))
    fake = rng.normal(0, 0.1, size=(40, 4))  # all in the densest part of the reference
    ours = pr.prdc(real, fake, 5)
    assert ours["density"] > 1 and ours == pytest.approx(reference(real, fake, 5), abs=1e-12)


def test_too_few_rows_or_bad_k_are_refused():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="more than 5 rows"):
        pr.prdc(x, x, 5)
    with pytest.raises(ValueError, match="positive integer"):
        PRDC(weights="random", nearest_k=0)
    with pytest.raises(ValueError, match="positive integer"):
        PRDC(weights="random", nearest_k=2.5)


# --- the `prdc` image metric -----------------------------------------------------------


def test_image_metric_on_features_equals_the_package_and_merges_exactly():
    rng = np.random.default_rng(6)
    outputs, targets = rng.normal(0.1, 1, size=(40, 2048)), rng.normal(size=(50, 2048))
    metric = PRDC(weights="random", nearest_k=4)
    whole = metric.compute(FeatureState(outputs=[outputs], targets=[targets]))
    ref = reference(targets, outputs, 4)
    assert list(whole) == ["prdc", "recall", "density", "coverage"]
    assert whole["prdc"] == pytest.approx(ref["precision"], abs=1e-12)
    for key in KEYS[1:]:
        assert whole[key] == pytest.approx(ref[key], abs=1e-12)
    shards = [FeatureState(outputs=[outputs[a:b]], targets=[targets[a:b]]) for a, b in ((0, 13), (13, 40))]
    shards[1].targets.append(targets[40:])
    assert metric.compute(metric.merge(*shards)) == whole
    # Precision's set bootstrap: the reference balls fixed, so all outputs give the value.
    resampler = metric.set_resampler(FeatureState(outputs=[outputs], targets=[targets]))
    assert resampler.fixed_reference and resampler.value(np.arange(40)) == whole["prdc"]
    assert resampler.value(np.zeros(40, dtype=int)) in (0.0, 1.0)


def test_image_metric_with_too_few_images_is_nan_with_a_note():
    metric = PRDC(weights="random")
    rng = np.random.default_rng(7)
    values = metric.compute(FeatureState(outputs=[rng.normal(size=(5, 2048))], targets=[rng.normal(size=(9, 2048))]))
    assert all(math.isnan(v) for v in values.values()) and "more than nearest_k=5 images" in metric.note
    assert metric.value_range == (0.0, 1.0) and metric.set_level
    assert metric.extra_directions == {"recall": True, "density": True, "coverage": True}


def test_image_metric_runs_the_network_and_shares_fids_reference_cache(tmp_path, monkeypatch):
    from PIL import Image

    from mmeval.metrics.image.inception import image_features
    from mmeval.registry import METRICS

    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(8)
    outputs = [(rng.random((32, 32, 3)) * 255).astype(np.uint8) for _ in range(6)]
    refs = []
    for i in range(6):
        refs.append(tmp_path / f"r{i}.png")
        Image.fromarray((rng.random((32, 32, 3)) * 255 * 0.6).astype(np.uint8)).save(refs[-1])
    assert METRICS.get("prdc") is PRDC
    fid = FID(weights="random")
    fid.compute(fid.update(fid.init(), outputs, refs))
    metric = PRDC(weights="random", nearest_k=2)
    values = metric.compute(metric.update(metric.init(), outputs, refs))
    assert metric.cache.hits == 1  # FID's reference features, not a second pass over them
    by_content = sorted(refs, key=sha256_file)  # reference files form a set, ordered by hash
    ref = reference(image_features(by_content, "random"), image_features(outputs, "random"), 2)
    assert values["prdc"] == pytest.approx(ref["precision"], abs=1e-12)
    assert values["coverage"] == pytest.approx(ref["coverage"], abs=1e-12)
