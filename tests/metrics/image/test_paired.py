"""SSIM and PSNR equal scikit-image; mae/mse stay on numbers; image errors name the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mmeval.errors import InputError
from mmeval.metrics.image.paired import PSNR, SSIM, psnr_pair, ssim_pair


def skimage_ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1)


def structured(seed: int, shape=(72, 96, 3)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    img = np.zeros(shape)
    img[..., 0] = (x // 12 + y // 12) % 2  # checkerboard
    img[..., 1] = np.sin(x / 7.0) * 0.5 + 0.5
    img[..., 2] = (x - shape[1] / 2) ** 2 + (y - shape[0] / 2) ** 2 < (min(shape[:2]) / 3) ** 2
    return np.clip(img * 0.8 + rng.normal(0, 0.02, shape), 0, 1)


@pytest.mark.parametrize("seed", range(6))
def test_ssim_and_psnr_equal_scikit_image(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((40 + seed * 7, 50, 3)) if seed % 2 else structured(seed)
    for b in (np.clip(a + rng.normal(0, 0.03 * (seed + 1), a.shape), 0, 1), np.clip(a * 0.6 + 0.2, 0, 1), a):
        assert ssim_pair(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-5)
        if not np.array_equal(a, b):
            assert psnr_pair(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)


def test_metrics_average_pairs_across_batches(tmp_path):
    rng = np.random.default_rng(1)
    outs, tgts, expected_ssim, expected_psnr = [], [], [], []
    for i in range(7):
        a = structured(i, (32, 40, 3))
        b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
        pa, pb = tmp_path / f"o{i}.png", tmp_path / f"t{i}.png"
        Image.fromarray((a * 255).round().astype(np.uint8)).save(pa)
        Image.fromarray((b * 255).round().astype(np.uint8)).save(pb)
        a8, b8 = np.asarray(Image.open(pa), float) / 255, np.asarray(Image.open(pb), float) / 255
        expected_ssim.append(skimage_ssim(a8, b8))
        expected_psnr.append(peak_signal_noise_ratio(b8, a8, data_range=1.0))
        outs.append(pa)
        tgts.append(pb)
    for metric, expected in ((SSIM(), expected_ssim), (PSNR(), expected_psnr)):
        whole = metric.compute(metric.update(metric.init(), outs, tgts))[metric.name]
        a = metric.update(metric.init(), outs[:3], tgts[:3])
        b = metric.update(metric.init(), outs[3:], tgts[3:])
        assert metric.compute(metric.merge(a, b))[metric.name] == pytest.approx(whole, abs=1e-12)
        assert whole == pytest.approx(np.mean(expected), abs=1e-5)


def test_bad_images_are_named(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(good)
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((16, 32, 3), np.uint8)).save(small)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError, match="truncated.png"):
        SSIM().update(SSIM().init(), [truncated], [good])
    with pytest.raises(InputError, match="sizes differ.*small.png"):
        PSNR().update(PSNR().init(), [good], [small])
