"""The keyed image watermark: round trip, keys, quality, attacks, determinism, limits."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from mmeval.provenance import image as wm
from mmeval.provenance.base import subkey

Image = pytest.importorskip("PIL.Image")

KEY = subkey(b"test-watermark-secret-abcdefghij", "image")
OTHER = subkey(b"another-watermark-secret-987654", "image")
SIDE = 256


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def _product(seed: int) -> np.ndarray:
    """A catalogue render upsampled to 256 px, with a lighting gradient and sensor grain."""
    from mmeval.catalog.images import render
    from mmeval.catalog.products import make_products

    small = render(make_products(seed + 1, seed=7)[seed])
    big = np.asarray(Image.fromarray(small).resize((SIDE, SIDE), Image.BICUBIC), np.float64) / 255
    rng = np.random.default_rng(seed)
    xx = np.mgrid[0:SIDE, 0:SIDE][1] / SIDE - 0.5
    return np.clip(big + 0.06 * xx[..., None] + 0.008 * rng.standard_normal(big.shape), 0, 1)


def _natural(seed: int) -> np.ndarray:
    """A 1/f colour noise field with a soft disc on top."""
    rng = np.random.default_rng(1000 + seed)
    f = np.hypot(np.fft.fftfreq(SIDE)[:, None], np.fft.fftfreq(SIDE)[None, :])
    f[0, 0] = 1.0
    noise = rng.standard_normal((3, SIDE, SIDE))
    fields = [np.fft.ifft2(np.fft.fft2(n) / f).real for n in noise]
    img = np.stack([0.5 + 0.12 * g / g.std() for g in fields], axis=-1)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    disc = 0.5 + 0.5 * np.tanh((0.25 - np.hypot(yy - 0.5, xx - 0.4)) / 0.03)
    img = img * (1 - disc[..., None]) + rng.uniform(0.2, 0.8, 3) * disc[..., None]
    return np.clip(img, 0, 1)


def _stored(x: np.ndarray) -> np.ndarray:
    """What a shop keeps: the image as 8-bit, read back as floats."""
    return _u8(x).astype(np.float64) / 255


def _jpeg(u8: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float64) / 255


def _resize(u8: np.ndarray, size: tuple[int, int], method) -> np.ndarray:
    return np.asarray(Image.fromarray(u8).resize(size, method))


def _attacks(u8: np.ndarray) -> dict[str, np.ndarray]:
    h, w, _ = u8.shape
    x = u8.astype(np.float64) / 255
    noise = np.random.default_rng(5).standard_normal(x.shape)
    crop = u8[round(0.05 * h):h - round(0.05 * h), round(0.05 * w):w - round(0.05 * w)]
    out = {"jpeg50": _jpeg(u8, 50), "noise_0.02": np.clip(x + 0.02 * noise, 0, 1),
           "crop_10": crop, "crop_10_resized": _resize(crop, (w, h), Image.BICUBIC),
           "brightness_+10": np.clip(1.1 * x, 0, 1), "brightness_-10": np.clip(0.9 * x, 0, 1)}
    for name, method in (("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)):
        half = _resize(u8, (w // 2, h // 2), method)
        out[f"resize_half_{name}"] = _resize(half, (w, h), method)
    return out


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, np.ndarray]]:
    """(original as stored, marked as stored) for two images of each family."""
    out = []
    for img in (_product(0), _product(3), _natural(0), _natural(1)):
        ref = _stored(img)
        out.append((ref, _u8(wm.embed(ref, KEY))))
    return out


def test_round_trip_detects_with_tiny_p(marked):
    for _, u8 in marked:
        d = wm.detect(u8.astype(np.float64) / 255, KEY)
        assert d.detected and d.p_value < 1e-6, d
        assert d.algorithm == wm.ALGORITHM and d.score > 5
        assert d.details["scale"] == pytest.approx(1.0, abs=0.02)


def test_unmarked_images_are_not_detected():
    images = [_stored(_product(s)) for s in range(4)] + [_stored(_natural(s)) for s in range(4)]
    images.append(np.full((SIDE, SIDE, 3), 0.5))  # flat: nothing to find
    for img in images:
        d = wm.detect(img, KEY)
        assert not d.detected and d.p_value > 1e-3, d


def test_wrong_key_is_not_detected(marked):
    for _, u8 in marked:
        d = wm.detect(u8, OTHER)  # uint8 input is accepted too
        assert not d.detected and d.p_value > 1e-3, d


def test_psnr_after_8bit_rounding(marked):
    for ref, u8 in marked:
        mse = np.mean((u8.astype(np.float64) / 255 - ref) ** 2)
        assert 10 * np.log10(1.0 / mse) >= 38.0


def test_embed_output_contract():
    x = _natural(2)
    y = wm.embed(x, KEY)
    assert y.shape == x.shape and y.dtype == np.float64
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert np.abs(y - x).max() > 0


@pytest.mark.parametrize("index", range(4))
def test_survives_each_attack(marked, index):
    _, u8 = marked[index]
    for name, attacked in _attacks(u8).items():
        d = wm.detect(attacked, KEY)
        assert d.detected and d.p_value < 1e-6, (name, d)


def test_attacked_unmarked_images_stay_unmarked():
    for img in (_product(1), _natural(3)):
        for name, attacked in _attacks(_u8(img)).items():
            d = wm.detect(attacked, KEY)
            assert d.p_value > 1e-3, (name, d)


def test_crop_resized_back_is_found_at_the_right_scale(marked):
    _, u8 = marked[0]
    crop = u8[13:243, 13:243]
    d = wm.detect(_resize(crop, (SIDE, SIDE), Image.BICUBIC), KEY)
    assert d.details["scale"] == pytest.approx(SIDE / 230, abs=0.02)


def test_deterministic_and_key_dependent():
    x = _stored(_product(2))
    a, b = wm.embed(x, KEY), wm.embed(x.copy(), bytes(KEY))
    assert np.array_equal(a, b)
    assert not np.allclose(wm.embed(x, OTHER), a)
    d1, d2 = wm.detect(a, KEY), wm.detect(a, KEY)
    assert d1 == d2


def test_golden_pattern_pins_the_key_derivation():
    # On flat grey the mask is uniform, so the mark is the tile itself; these values
    # must never change, or marks made earlier stop being found.
    flat = np.full((64, 64, 3), 0.5)
    delta = wm.embed(flat, bytes(range(32)))[..., 0] - 0.5
    assert np.allclose(delta[:32, :32], delta[32:, 32:])  # periodic with the tile
    assert np.sqrt(np.mean(delta**2)) == pytest.approx(10 ** (-wm.PSNR_TARGET / 20), rel=1e-9)
    expected = [-0.013234078484, -0.01510689038, -0.012480875877, -0.007710584004]
    assert np.allclose(delta[0, :4], expected, atol=1e-9), delta[0, :4].tolist()


def test_too_small_images_raise():
    with pytest.raises(ValueError, match="at least 64 pixels"):
        wm.embed(np.zeros((63, 200, 3)), KEY)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        wm.detect(np.zeros((31, 31, 3)), KEY)
    with pytest.raises(ValueError, match="RGB"):
        wm.embed(np.zeros((128, 128)), KEY)
    wm.embed(np.zeros((64, 64, 3)), KEY)  # the minimum itself is fine
    with pytest.raises(ValueError, match="key"):
        wm.detect(np.zeros((64, 64, 3)), b"short")


def test_params_are_json_safe():
    p = wm.params()
    assert json.loads(json.dumps(p)) == p
    assert p["algorithm"] == wm.ALGORITHM and p["tile"] == wm.TILE
