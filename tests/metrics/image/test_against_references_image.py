"""Paired image metrics (ssim, psnr, mae) equal scikit-image / numpy at the source bit depth (issue 16).

16-bit PNGs are written by a small encoder here (Pillow cannot write 16-bit RGB), with every
PNG row filter and Adam7 interlacing, so the loader is checked against values we chose.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mmeval.errors import InputError, SpecError
from mmeval.media.blob import MediaBlob
from mmeval.media.image import load_exact, load_image
from mmeval.metrics.image.paired import PSNR, SSIM
from mmeval.metrics.regression import MAE
from mmeval.plugins import check_args

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _filtered(rows: np.ndarray, bpp: int, filters: tuple[int, ...]) -> bytes:
    out, prev = [], np.zeros(rows.shape[1], np.int64)
    for y, row in enumerate(rows.astype(np.int64)):
        kind = filters[y % len(filters)]
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        predictor = [0, left, prev, (left + prev) // 2, _paeth(left, prev, up_left)][kind]
        out.append(bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes())
        prev = row
    return b"".join(out)


def png_bytes(pixels: np.ndarray, filters: tuple[int, ...] = (0, 1, 2, 3, 4), interlace: bool = False,
              color_key: tuple[int, ...] | None = None) -> bytes:
    """A PNG of (H, W, C) uint8 or uint16 pixels, C in 1..4 (grey, grey+alpha, RGB, RGBA); `color_key`: a tRNS chunk."""
    h, w, c = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    bpp = c * depth // 8

    def as_bytes(p: np.ndarray) -> np.ndarray:  # one row of big-endian samples per image row
        return p.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(p.shape[0], -1)

    if interlace:
        passes = [pixels[ys::yst, xs::xst] for xs, ys, xst, yst in ADAM7]
        raw = b"".join(_filtered(as_bytes(p), bpp, filters) for p in passes if p.size)
    else:
        raw = _filtered(as_bytes(pixels), bpp, filters)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, depth, COLOR_TYPE[c], 0, 0, int(interlace))
    key = chunk(b"tRNS", struct.pack(f">{len(color_key)}H", *color_key)) if color_key else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + key + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def reference_ssim(a, b, data_range):
    return structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=data_range, channel_axis=-1)


def product_photo(rng, shape, depth=16, background=0.97) -> np.ndarray:
    """A bright backdrop with a textured product in the middle, at full `depth`-bit resolution."""
    top = 65535 if depth == 16 else 255
    h, w, c = shape
    img = np.full(shape, background) + rng.normal(0, 0.01, shape)
    y, x = np.mgrid[:h, :w]
    inside = ((y - h / 2) ** 2 / (h / 3) ** 2 + (x - w / 2) ** 2 / (w / 3) ** 2) < 1
    img[inside] = (0.3 + 0.2 * np.sin(x / 3.0)[..., None] + rng.normal(0, 0.05, shape))[inside]
    return np.clip(np.round(img * top), 0, top).astype(np.uint16 if depth == 16 else np.uint8)


def save(tmp_path, name, pixels, **kw):
    path = tmp_path / name
    path.write_bytes(png_bytes(pixels, **kw))
    return path


def score(metric, outputs, targets):
    return metric.compute(metric.update(metric.init(), outputs, targets))[metric.name]


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("interlace", [False, True])
def test_pngs_load_exactly_at_their_bit_depth(channels, dtype, interlace):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max + 1, (23, 37, channels)).astype(dtype)
    image = load_exact(MediaBlob(png_bytes(pixels, interlace=interlace), "x.png"))
    assert image.pixels.dtype == dtype and np.array_equal(image.pixels, pixels)
    assert image.data_range == np.iinfo(dtype).max
    assert image.mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 19), st.integers(1, 19), st.integers(1, 4), st.sampled_from([0, 1, 2, 3, 4]), st.booleans(), st.integers(0, 2**32 - 1))
def test_any_16bit_png_round_trips(h, w, channels, kind, interlace, seed):
    pixels = np.random.default_rng(seed).integers(0, 65536, (h, w, channels)).astype(np.uint16)
    assert np.array_equal(load_exact(MediaBlob(png_bytes(pixels, (kind,), interlace), "p.png")).pixels, pixels)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_16bit_color_key_becomes_alpha(channels):
    pixels = np.random.default_rng(9).integers(0, 4, (12, 14, channels)).astype(np.uint16) * 20000
    key = tuple(int(v) for v in pixels[0, 0])
    image = load_exact(MediaBlob(png_bytes(pixels, color_key=key), "k.png"))
    transparent = np.all(pixels == np.array(key), axis=2)
    assert image.mode == ("LA" if channels == 1 else "RGBA") and np.array_equal(image.pixels[..., :-1], pixels)
    assert np.array_equal(image.pixels[..., -1], np.where(transparent, 0, 65535))


def test_pillow_written_pngs_and_blobs_load_as_stored(tmp_path):
    rng = np.random.default_rng(0)
    for mode, channels in (("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)):
        pixels = rng.integers(0, 256, (20, 30, channels)).astype(np.uint8)
        path = tmp_path / f"{mode}.png"
        Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode).save(path)
        from_path, from_blob = load_exact(path), load_exact(MediaBlob(path.read_bytes(), path.name))
        assert np.array_equal(from_path.pixels, pixels) and np.array_equal(from_blob.pixels, pixels)
        assert (from_path.mode, from_path.depth) == (mode, "8-bit")
    grey16 = rng.integers(0, 65536, (20, 30)).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert np.array_equal(load_exact(tmp_path / "g16.png").pixels[:, :, 0], grey16)
    # the feature extractors' loader keeps its contract: float64 RGB in [0, 1]
    rgb = load_image(tmp_path / "RGBA.png")
    assert rgb.dtype == np.float64 and rgb.shape == (20, 30, 3) and 0 <= rgb.min() and rgb.max() <= 1


def test_16bit_grayscale_ssim_psnr_mae_equal_scikit_image_on_the_true_values(tmp_path):
    rng = np.random.default_rng(16)
    target = product_photo(rng, (64, 80, 1))
    output = np.clip(target.astype(np.int64) + rng.normal(0, 2900, target.shape).round(), 0, 65535).astype(np.uint16)
    o, t = save(tmp_path, "out16.png", output), save(tmp_path, "tgt16.png", target)
    ssim, psnr, mae = score(SSIM(), [o], [t]), score(PSNR(), [o], [t]), score(MAE(), [o], [t])
    assert ssim == pytest.approx(reference_ssim(output, target, 65535), abs=1e-8)
    assert psnr == pytest.approx(peak_signal_noise_ratio(target, output, data_range=65535), abs=1e-9)
    assert mae == pytest.approx(np.mean(np.abs(output / 65535 - target / 65535)), abs=1e-12)
    assert ssim < 0.9 and 20 < psnr < 40  # the values the 8-bit clipping used to turn into ~1.0 and inf


def test_48bit_rgb_psnr_keeps_the_low_byte(tmp_path):
    rng = np.random.default_rng(48)
    target = product_photo(rng, (40, 56, 3))
    output = np.clip(target.astype(np.int64) + rng.normal(0, 2900, target.shape).round(), 0, 65535).astype(np.uint16)
    o, t = save(tmp_path, "o48.png", output, interlace=True), save(tmp_path, "t48.png", target)
    assert score(PSNR(), [o], [t]) == pytest.approx(peak_signal_noise_ratio(target, output, data_range=65535), abs=1e-9)
    assert score(SSIM(), [o], [t]) == pytest.approx(reference_ssim(output, target, 65535), abs=1e-8)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_is_composited_on_white_or_compared_as_asked(tmp_path, dtype):
    rng = np.random.default_rng(4)
    top = float(np.iinfo(dtype).max)
    rgb = rng.integers(0, int(top) + 1, (32, 32, 3))
    out_alpha, tgt_alpha = np.full((32, 32, 1), top), rng.integers(0, int(top) + 1, (32, 32, 1))
    output = np.concatenate([rgb, out_alpha], axis=2).astype(dtype)
    target = np.concatenate([rgb, tgt_alpha], axis=2).astype(dtype)  # only alpha differs
    o, t = save(tmp_path, "o.png", output), save(tmp_path, "t.png", target)

    def on_white(x):
        x = x.astype(np.float64)
        return x[..., :3] * (x[..., 3:] / top) + top * (1 - x[..., 3:] / top)

    composited = on_white(output), on_white(target)
    assert score(SSIM(), [o], [t]) == pytest.approx(reference_ssim(*composited, top), abs=1e-8)
    assert score(PSNR(), [o], [t]) == pytest.approx(peak_signal_noise_ratio(composited[1], composited[0], data_range=top), abs=1e-9)
    assert score(SSIM(alpha="compare"), [o], [t]) == pytest.approx(reference_ssim(output, target, top), abs=1e-8)
    assert score(PSNR(alpha="compare"), [o], [t]) == pytest.approx(peak_signal_noise_ratio(target, output, data_range=top), abs=1e-9)
    assert score(SSIM(), [o], [t]) < 0.99  # alpha is no longer silently dropped
    assert SSIM().fingerprint() != SSIM(alpha="compare").fingerprint()
    assert score(MAE(), [o], [t]) == pytest.approx(np.mean(np.abs(composited[0] - composited[1])) / top, abs=1e-12)
    assert score(MAE(alpha="compare"), [o], [t]) == pytest.approx(np.mean(np.abs(output / top - target / top)), abs=1e-12)
    assert MAE().fingerprint() != MAE(alpha="compare").fingerprint()


def test_ssim_on_near_white_backgrounds_equals_scikit_image_to_1e8(tmp_path):
    rng = np.random.default_rng(3)
    outputs, targets, expected = [], [], []
    for i in range(4):
        target = np.clip(254 + rng.integers(-1, 2, (96, 128, 3)), 0, 255)
        target[30:60, 40:90] = rng.integers(60, 200, (30, 50, 3))
        output = np.clip(target + rng.integers(-1, 2, target.shape), 0, 255)
        outputs.append(save(tmp_path, f"o{i}.png", output.astype(np.uint8)))
        targets.append(save(tmp_path, f"t{i}.png", target.astype(np.uint8)))
        expected.append(reference_ssim(output, target, 255))
    assert score(SSIM(), outputs, targets) == pytest.approx(np.mean(expected), abs=1e-8)
    near_one = np.clip(0.999 + rng.normal(0, 3e-4, (48, 48, 3)), 0, 1)
    other = np.clip(near_one + rng.normal(0, 3e-4, near_one.shape), 0, 1)
    assert score(SSIM(), [near_one], [other]) == pytest.approx(reference_ssim(near_one, other, 1.0), abs=1e-8)


def test_16bit_states_merge_and_batches_never_change_a_value(tmp_path):
    rng = np.random.default_rng(7)
    outs, tgts = [], []
    for i in range(5):
        target = product_photo(rng, (24, 30, 3))
        outs.append(save(tmp_path, f"o{i}.png", np.clip(target + rng.integers(0, 900, target.shape), 0, 65535).astype(np.uint16)))
        tgts.append(save(tmp_path, f"t{i}.png", target))
    for metric in (SSIM(), PSNR(), MAE()):
        whole = score(metric, outs, tgts)
        parts = metric.merge(metric.update(metric.init(), outs[:2], tgts[:2]), metric.update(metric.init(), outs[2:], tgts[2:]))
        assert metric.compute(parts)[metric.name] == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("metric", [SSIM(), PSNR(), MAE()], ids=lambda m: m.name)
def test_modes_that_differ_are_an_error_naming_both_files(tmp_path, metric):
    rng = np.random.default_rng(1)
    grey16 = save(tmp_path, "grey16.png", rng.integers(0, 65536, (16, 16, 1)).astype(np.uint16))
    grey8 = save(tmp_path, "grey8.png", rng.integers(0, 256, (16, 16, 1)).astype(np.uint8))
    rgb8 = save(tmp_path, "rgb8.png", rng.integers(0, 256, (16, 16, 3)).astype(np.uint8))
    with pytest.raises(InputError, match=r"modes differ: output .*grey16.png is 16-bit grayscale, target .*grey8.png is 8-bit grayscale"):
        metric.update(metric.init(), [grey16], [grey8])
    with pytest.raises(InputError, match=r"output .*grey8.png is 8-bit grayscale, target .*rgb8.png is 8-bit RGB"):
        metric.update(metric.init(), [grey8], [rgb8])


def test_rgba_against_rgb_is_compared_after_compositing_and_refused_with_alpha_compare(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    rgba = save(tmp_path, "cutout.png", np.concatenate([rgb, np.full((16, 16, 1), 255, np.uint8)], axis=2))
    plain = save(tmp_path, "plain.png", rgb)
    assert score(PSNR(), [rgba], [plain]) == float("inf")  # opaque: compositing changes nothing
    with pytest.raises(InputError, match="cutout.png is 8-bit RGBA, target .*plain.png is 8-bit RGB"):
        PSNR(alpha="compare").update(PSNR().init(), [rgba], [plain])


def test_alpha_argument_is_checked_when_the_suite_loads(tmp_path):
    with pytest.raises(SpecError, match="alpha"):
        check_args(SSIM, {"alpha": "drop"}, "metrics[0].args", tmp_path)
    assert check_args(PSNR, {"alpha": "compare"}, "metrics[0].args", tmp_path) == {"alpha": "compare"}
    with pytest.raises(InputError, match="alpha"):
        SSIM(alpha="drop")  # type: ignore[arg-type]
