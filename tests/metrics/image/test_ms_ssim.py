"""`ms_ssim` equals torchmetrics' multiscale_structural_similarity_index_measure in float64
at the source bit depth, averaged over pairs; too-small images are refused with the size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmeval.errors import InputError
from mmeval.metrics.image.paired import MS_SSIM_BETAS, MSSSIM, ms_ssim_min_side


def torchmetrics_ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float, betas=MS_SSIM_BETAS, kernel_size=11) -> float:
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    def tensor(x):
        x = np.asarray(x, np.float64)
        return torch.from_numpy((x[..., None] if x.ndim == 2 else x).transpose(2, 0, 1).copy())[None]

    return float(multiscale_structural_similarity_index_measure(tensor(a), tensor(b), data_range=data_range, betas=tuple(betas),
                                                                kernel_size=kernel_size))


def photo(rng, shape, top):
    """A smooth backdrop with a textured blob, scaled to `top` (255 or 65535)."""
    h, w = shape[:2]
    y, x = np.mgrid[:h, :w]
    img = 0.9 - 0.2 * (y / h) + rng.normal(0, 0.01, (h, w))
    blob = (y - h / 2) ** 2 + (x - w / 2) ** 2 < (min(h, w) / 3) ** 2
    img[blob] = (0.35 + 0.2 * np.sin(x / 4.0) + rng.normal(0, 0.05, (h, w)))[blob]
    img = img[..., None] * np.linspace(0.8, 1.0, shape[2]) if len(shape) == 3 else img
    return np.clip(np.round(img * top), 0, top)


def degraded(rng, img, top, noise):
    return np.clip(np.round(img + rng.normal(0, noise * top, img.shape)), 0, top)


def score(metric, outputs, targets, split=None):
    state = metric.init()
    split = split or len(outputs)
    for i in range(0, len(outputs), split):
        state = metric.update(state, outputs[i : i + split], targets[i : i + split])
    return metric.compute(state)["ms_ssim"]


@pytest.mark.parametrize("noise", [0.01, 0.05, 0.2])
def test_8bit_rgb_equals_torchmetrics(noise):
    rng = np.random.default_rng(int(noise * 100))
    a = photo(rng, (180, 201, 3), 255)
    b = degraded(rng, a, 255, noise)
    expected = torchmetrics_ms_ssim(a, b, 255.0)
    assert score(MSSSIM(), [a.astype(np.uint8)], [b.astype(np.uint8)]) == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= expected <= 1.0


def test_16bit_grayscale_pngs_compare_at_65535(tmp_path):
    rng = np.random.default_rng(1)
    a = photo(rng, (190, 176), 65535).astype(np.uint16)
    b = degraded(rng, a, 65535, 0.02).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    expected = torchmetrics_ms_ssim(a, b, 65535.0)
    assert score(MSSSIM(), [tmp_path / "a.png"], [tmp_path / "b.png"]) == pytest.approx(expected, abs=1e-12)
    # the 8-bit view of the same pictures is another number: the low byte matters
    assert abs(expected - torchmetrics_ms_ssim(a >> 8, b >> 8, 255.0)) > 1e-6


def test_float_arrays_use_range_1_and_pairs_are_averaged_whatever_the_batching():
    rng = np.random.default_rng(2)
    outs, tgts = [], []
    for i in range(5):
        t = photo(rng, (176 + 4 * i, 180, 3), 1.0)
        tgts.append(t)
        outs.append(np.clip(t + rng.normal(0, 0.02 * (i + 1), t.shape), 0, 1))
    expected = np.mean([torchmetrics_ms_ssim(o, t, 1.0) for o, t in zip(outs, tgts)])
    metric = MSSSIM()
    for split in (1, 2, 5):
        assert score(metric, outs, tgts, split) == pytest.approx(expected, abs=1e-12)
    a = metric.update(metric.init(), outs[:2], tgts[:2])
    b = metric.update(metric.init(), outs[2:], tgts[2:])
    assert metric.compute(metric.merge(a, b))["ms_ssim"] == pytest.approx(expected, abs=1e-12)
    assert score(metric, tgts, tgts) == pytest.approx(1.0, abs=1e-12)


def test_small_images_are_refused_with_the_minimum_size_or_scored_with_fewer_scales():
    assert ms_ssim_min_side(5, 11) == 176 and ms_ssim_min_side(3, 11) == 44
    rng = np.random.default_rng(3)
    small = photo(rng, (175, 300, 3), 255).astype(np.uint8)
    with pytest.raises(InputError, match="175 px.*at least 176 px"):
        score(MSSSIM(), [small], [small])
    with pytest.raises(ValueError):  # and torchmetrics itself refuses 175 as well (it says "larger than 160")
        torchmetrics_ms_ssim(small, small, 255.0)
    three = (0.2, 0.3, 0.5)
    a = photo(rng, (44, 60, 3), 255)
    b = degraded(rng, a, 255, 0.05)
    got = score(MSSSIM(betas=list(three)), [a.astype(np.uint8)], [b.astype(np.uint8)])
    assert got == pytest.approx(torchmetrics_ms_ssim(a, b, 255.0, betas=three), abs=1e-12)
    with pytest.raises(InputError, match="at least 44 px"):
        score(MSSSIM(betas=list(three)), [a[:43].astype(np.uint8)], [b[:43].astype(np.uint8)])
    smaller_window = MSSSIM(kernel_size=7)
    c = photo(rng, (112, 120, 3), 255)
    d = degraded(rng, c, 255, 0.05)
    got = score(smaller_window, [c.astype(np.uint8)], [d.astype(np.uint8)])
    assert got == pytest.approx(torchmetrics_ms_ssim(c, d, 255.0, kernel_size=7), abs=1e-12)


@pytest.mark.parametrize("args", [{"betas": []}, {"betas": [0.5, -0.1]}, {"betas": "0.5"}, {"kernel_size": 4}, {"kernel_size": 1}])
def test_bad_args_are_value_errors(args):
    with pytest.raises(ValueError):
        MSSSIM(**args)


def test_registered_with_its_settings_in_the_fingerprint():
    from mmeval.registry import METRICS

    metric = METRICS.get("ms_ssim")()
    assert isinstance(metric, MSSSIM) and metric.value_range == (0.0, 1.0) and metric.higher_is_better
    fp = metric.fingerprint()
    assert "betas:0.0448,0.2856,0.3001,0.2363,0.1333" in fp and "torchmetrics-" in fp and "alpha:composite" in fp
    assert MSSSIM(betas=[0.5, 0.5]).fingerprint() != fp
