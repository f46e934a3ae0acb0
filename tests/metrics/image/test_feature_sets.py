"""FID, KID and IS: exact against reference implementations on the same features,
independent of batching, with a reference-side cache that skips network work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmeval.errors import InputError, IntegrityError
from mmeval.metrics.frechet import GaussianStats, frechet_distance
from mmeval.metrics.image import feature_memo
from mmeval.fsutil import sha256_file
from mmeval.metrics.image.fid import FID
from mmeval.metrics.image.inception_score import inception_score_from_logits
from mmeval.metrics.image.kid import KID, poly_mmd
from mmeval.metrics.image.inception import NETWORK, WEIGHTS_FILE, image_features, resolve_weights


def test_frechet_distance_matches_pytorch_fid():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 64)), rng.normal(0.3, 1.2, size=(300, 64))
    sa, sb = GaussianStats.of(a), GaussianStats.of(b)
    ours = frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    ref = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(sa.mean, sa.cov, sa.mean, sa.cov) == pytest.approx(0.0, abs=1e-6 * np.trace(sa.cov))


def test_stats_merge_equals_one_pass():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(101, 16))
    merged = GaussianStats.of(x[:40]).merge(GaussianStats.of(x[40:77])).merge(GaussianStats.of(x[77:]))
    assert np.allclose(merged.cov, np.cov(x, rowvar=False), atol=1e-12)
    assert np.allclose(merged.mean, x.mean(0), atol=1e-12)


def test_kid_matches_torchmetrics_poly_mmd():
    from torchmetrics.image.kid import poly_mmd as tm_poly_mmd

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 32)), rng.normal(0.2, 1, size=(50, 32))
    expected = float(tm_poly_mmd(torch.from_numpy(x), torch.from_numpy(y)))
    assert poly_mmd(x, y) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("splits", [1, 5])
def test_inception_score_matches_torchmetrics_math(splits):
    from torchmetrics.image.inception import InceptionScore

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, size=(60, 1008))
    metric = InceptionScore(feature=torch.nn.Identity(), splits=splits)
    metric.features = [torch.from_numpy(logits)]
    torch.manual_seed(0)
    perm = torch.randperm(60)  # torchmetrics shuffles before splitting; reproduce its order
    torch.manual_seed(0)
    tm_mean, tm_std = metric.compute()
    mean, std = inception_score_from_logits(logits[perm.numpy()], splits, "torchmetrics")
    assert mean == pytest.approx(float(tm_mean), rel=1e-6)
    if splits > 1:
        assert std == pytest.approx(float(tm_std), rel=1e-6)


@pytest.mark.parametrize(("n", "splits"), [(60, 10), (103, 10), (37, 4), (8, 1)])
def test_inception_score_equals_torch_fidelity_by_default(n, splits):
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()  # torch-fidelity imports torchvision
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = np.random.default_rng(n).normal(0, 3, size=(n, 1008))
    expected = isc_features_to_metric(torch.from_numpy(logits), splits=splits)
    mean, std = inception_score_from_logits(logits, splits)
    assert mean == pytest.approx(expected["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(expected["inception_score_std"], rel=1e-9, abs=1e-12)


@pytest.fixture(scope="module")
def image_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(4)
    paths = []
    for i in range(12):
        img = (rng.random((40, 40, 3)) * 255 * (0.3 + 0.05 * i)).astype(np.uint8)
        paths.append(folder / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    return paths


def test_fid_of_a_set_with_itself_is_zero_and_batching_does_not_matter(image_set, monkeypatch, tmp_path):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    features = image_features(image_set, "random")
    trace = np.trace(GaussianStats.of(features).cov)
    for batch in (12, 5):
        metric = FID(weights="random", batch_size=4)
        state = metric.init()
        for i in range(0, 12, batch):
            state = metric.update(state, image_set[i : i + batch], image_set[i : i + batch])
        assert abs(metric.compute(state)["fid"]) <= 1e-6 * trace


def test_fid_and_kid_equal_reference_math_on_same_features(image_set, monkeypatch, tmp_path):
    from pytorch_fid.fid_score import calculate_frechet_distance

    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    outs, refs = image_set[:6], image_set[6:]
    fo, fr = image_features(outs, "random"), image_features(refs, "random")
    fid = FID(weights="random")
    value = fid.compute(fid.update(fid.init(), outs, refs))["fid"]
    expected = calculate_frechet_distance(fo.mean(0), np.cov(fo, rowvar=False), fr.mean(0), np.cov(fr, rowvar=False))
    assert value == pytest.approx(expected, rel=1e-6)
    kid = KID(weights="random", subsets=1, subset_size=5)
    rng = np.random.default_rng(0)  # KID's own draw of one subset per side
    picked_outputs, picked_targets = rng.permutation(6)[:5], rng.permutation(6)[:5]
    by_content = sorted(range(6), key=lambda i: sha256_file(refs[i]))  # reference files form a set, sorted by hash
    expected_kid = poly_mmd(fo[picked_outputs], fr[by_content][picked_targets])
    assert kid.compute(kid.update(kid.init(), outs, refs))["kid"] == pytest.approx(expected_kid, rel=1e-6)


def test_second_run_reuses_reference_statistics(image_set, monkeypatch, tmp_path):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    outputs = [np.zeros((40, 40, 3), np.uint8)] * 12
    first = FID(weights="random")
    expected = first.compute(first.update(first.init(), outputs, image_set))["fid"]
    assert first.cache.misses == 1

    monkeypatch.setattr(feature_memo, "MEMO", feature_memo.FeatureMemo(max_bytes=0))  # only the disk cache shares
    second = FID(weights="random")
    state = second.update(second.init(), outputs, image_set)
    second.settle(state)  # the 4 outputs after the last full chunk
    embedded = NETWORK.images  # only the reference side is under test: the outputs were just embedded
    assert second.compute(state)["fid"] == expected
    assert second.cache.hits == 1 and NETWORK.images == embedded  # no reference image went through the network


def test_random_weights_are_labelled():
    metric = FID(weights="random")
    assert "weights:random-seed0" in metric.fingerprint() and metric.not_comparable == "random weights"


def test_missing_and_wrong_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(InputError, match=f"{WEIGHTS_FILE} not found.*MMEVAL_WEIGHTS_DIR"):
        resolve_weights(None)
    fake = tmp_path / WEIGHTS_FILE
    fake.write_bytes(b"not the weights")
    with pytest.raises(IntegrityError, match="does not match"):
        resolve_weights(str(fake))
    with pytest.raises(IntegrityError):
        resolve_weights(str(tmp_path))  # a folder holding the file works the same way


def test_inception_score_survives_extreme_logits():
    rng = np.random.default_rng(6)
    logits = rng.normal(0, 800, size=(16, 1008))  # untrained networks produce such logits
    mean, std = inception_score_from_logits(logits, 2)
    assert np.isfinite(mean) and np.isfinite(std) and 1.0 <= mean <= 16.0
