"""Image watermark robustness: TPR at a fixed empirical FPR under each attack, PSNR, calibration.

    python bench/wm_image.py [--marked 200] [--unmarked 1000] [--seed 0]

Benchmark images are 256x256 and built from seeds, two families alternating:
  * product: a catalogue render (64x64, mmeval.catalog.images.render) upsampled with
    Pillow bicubic, plus a lighting gradient, a faint 1/f texture and sensor grain;
  * natural: a 1/f^beta colour noise field with soft-edged ellipses composited on top.
Marked and unmarked images come from disjoint seeds/products. Every image is stored as
8-bit (marked images after embedding), then attacked, then detected. The score is
-log10(p); the threshold for "TPR at x% FPR" is the empirical quantile of the unmarked
scores under the same attack; min+ / max- are the lowest marked and highest unmarked
score. Also printed: the false-positive rate at the calibrated alpha (p < alpha) and the
same table for the raw 64x64 catalogue images (for the record; their 10% crop is 58x58).
Attacks: JPEG quality 50 (Pillow, default 4:2:0); half size with bicubic and back with
bilinear; Gaussian noise sigma 0.02, clipped; 5% cut off each side (90% of each side left),
as is and resized back with bicubic; brightness x1.1 and x0.9, clipped.
"""

from __future__ import annotations

import io
import math
import os
import sys
import time
from pathlib import Path
from typing import Iterator

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # 2 shared cores: threads only contend
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from mmeval.catalog.images import render  # noqa: E402
from mmeval.catalog.products import make_products  # noqa: E402
from mmeval.provenance import image as wm  # noqa: E402
from mmeval.provenance.base import subkey  # noqa: E402
from wm_stats import bench_parser, clopper_pearson, tpr_at_fpr  # noqa: E402

SIDE = 256
ATTACKS = ["none", "jpeg50", "resize_half", "noise_0.02", "crop_10", "crop_10_resized",
           "brightness_+10", "brightness_-10"]


def bench_key(seed: int) -> bytes:
    return subkey(f"mmeval-bench-watermark-secret-{seed}".encode(), "image")


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def _pil(x: np.ndarray) -> Image.Image:
    return Image.fromarray(x if x.dtype == np.uint8 else _to_u8(x), "RGB")


def _field(rng: np.random.Generator, side: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std noise with amplitude spectrum 1/f^beta (natural-image-like)."""
    f = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.rfftfreq(side)[None, :])
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**beta
    spec[0, 0] = 0.0
    out = np.fft.irfft2(spec, s=(side, side))
    return out / out.std()


def product_image(product, rng: np.random.Generator) -> np.ndarray:
    big = np.asarray(_pil(render(product)).resize((SIDE, SIDE), Image.BICUBIC), np.float64) / 255
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = rng.uniform(0.0, 0.12) * (xx * np.cos(angle) + yy * np.sin(angle))
    texture = rng.uniform(0.005, 0.03) * _field(rng, SIDE, rng.uniform(0.8, 1.2))
    grain = rng.uniform(0.002, 0.012) * rng.standard_normal((SIDE, SIDE, 3))
    return np.clip(big + (light + texture)[..., None] + grain, 0, 1)


def natural_image(rng: np.random.Generator) -> np.ndarray:
    lum = _field(rng, SIDE, rng.uniform(0.9, 1.4))
    chroma = np.stack([_field(rng, SIDE, 1.6) for _ in range(3)], axis=-1)
    base = rng.uniform(0.25, 0.75, size=3)
    img = base + rng.uniform(0.06, 0.2) * lum[..., None] + rng.uniform(0.02, 0.08) * chroma
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    for _ in range(int(rng.integers(2, 7))):
        cy, cx = rng.uniform(0.1, 0.9, size=2)
        ry, rx = rng.uniform(0.05, 0.3, size=2)
        th = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)) / rx
        v = (-(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)) / ry
        edge = rng.uniform(0.01, 0.15)
        a = 0.5 + 0.5 * np.tanh((1.0 - np.hypot(u, v)) / (2 * edge))  # logistic, no overflow
        shade = rng.uniform(0.1, 0.9, size=3) * (1 + rng.uniform(0, 0.15) * lum)[..., None]
        img = img * (1 - a[..., None]) + shade * a[..., None]
    return np.clip(img, 0, 1)


def images(n: int, seed: int, offset: int) -> Iterator[np.ndarray]:
    """n float images, alternating product / natural, made one at a time (memory stays
    small); `offset` keeps the marked and unmarked sets disjoint."""
    products = make_products(offset + n, seed=1000 + seed)[offset:]
    for i in range(n):
        rng = np.random.Generator(np.random.PCG64([seed, offset + i]))
        yield product_image(products[i], rng) if i % 2 == 0 else natural_image(rng)


def catalogue_images(n: int, seed: int, offset: int) -> Iterator[np.ndarray]:
    for p in make_products(offset + n, 1000 + seed)[offset:]:
        yield render(p).astype(np.float64) / 255


def attack(name: str, u8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = u8.shape
    x = u8.astype(np.float64) / 255
    if name == "none":
        return x
    if name == "jpeg50":
        buf = io.BytesIO()
        _pil(u8).save(buf, format="JPEG", quality=50)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float64) / 255
    if name == "resize_half":
        half = _pil(u8).resize((w // 2, h // 2), Image.BICUBIC)
        return np.asarray(half.resize((w, h), Image.BILINEAR), np.float64) / 255
    if name == "noise_0.02":
        return np.clip(x + 0.02 * rng.standard_normal(x.shape), 0, 1)
    if name.startswith("crop_10"):
        cy, cx = round(0.05 * h), round(0.05 * w)
        cut = u8[cy:h - cy, cx:w - cx]
        if name == "crop_10_resized":
            return np.asarray(_pil(cut).resize((w, h), Image.BICUBIC), np.float64) / 255
        return cut.astype(np.float64) / 255
    if name.startswith("brightness_"):
        return np.clip(x * (1.1 if "+" in name else 0.9), 0, 1)
    raise ValueError(name)


def _scores(imgs: Iterator[np.ndarray], n: int, key: bytes, mark: bool,
            seed: int) -> dict[str, np.ndarray]:
    out = {a: np.empty(n) for a in ATTACKS}
    for i, img in enumerate(imgs):
        u8 = _to_u8(img)  # the 8-bit original a shop holds; marked copies are 8-bit too
        if mark:
            u8 = _to_u8(wm.embed(u8, key))
        for a in ATTACKS:
            rng = np.random.Generator(np.random.PCG64([seed, int(mark), i, ATTACKS.index(a)]))
            p = wm.detect(attack(a, u8, rng), key).p_value
            out[a][i] = -math.log10(max(p, 1e-300))
    return out


def attack_scores(n_marked: int = 200, n_unmarked: int = 1000, seed: int = 0,
                  source=images) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per attack, (-log10 p of the marked images, -log10 p of the unmarked images)."""
    key = bench_key(seed)
    pos = _scores(source(n_marked, seed, 0), n_marked, key, True, seed)
    neg = _scores(source(n_unmarked, seed, n_marked), n_unmarked, key, False, seed)
    return {a: (pos[a], neg[a]) for a in ATTACKS}


def embed_quality(n: int = 200, seed: int = 0) -> dict:
    """PSNR (dB, data range 1) between each image and its marked version stored as 8-bit."""
    key = bench_key(seed)
    psnr = []
    for img in images(n, seed, 0):
        ref = _to_u8(img).astype(np.float64) / 255  # the 8-bit original a shop would hold
        marked = _to_u8(wm.embed(ref, key)).astype(np.float64) / 255
        psnr.append(10 * math.log10(1.0 / np.mean((marked - ref) ** 2)))
    return {"n": n, "min_psnr": float(np.min(psnr)), "mean_psnr": float(np.mean(psnr))}


def print_table(title: str, scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    print(f"\n{title}")
    print(f"{'attack':<16} {'n+':>4} {'n-':>5} {'TPR@1%FPR [95% CI]':>26} "
          f"{'TPR@0.1%FPR [95% CI]':>26} {'FPR a=1e-2':>10} {'FPR a=1e-3':>10} {'TPR a=1e-3':>10} "
          f"{'min+':>6} {'max-':>6}")
    for a, (pos, neg) in scores.items():
        cells = []
        for fpr in (0.01, 0.001):
            _, k, _ = tpr_at_fpr(pos, neg, fpr)
            lo, hi = clopper_pearson(k, len(pos))
            cells.append(f"{k / len(pos):.3f} [{lo:.3f}, {hi:.3f}]")
        f2, f3 = np.mean(neg > 2), np.mean(neg > 3)
        print(f"{a:<16} {len(pos):>4} {len(neg):>5} {cells[0]:>26} {cells[1]:>26} "
              f"{f2:>10.4f} {f3:>10.4f} {np.mean(pos > 3):>10.3f} "
              f"{pos.min():>6.2f} {neg.max():>6.2f}")


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--skip-64", action="store_true", help="skip the 64x64 catalogue table")
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"{wm.ALGORITHM} {wm.params()}")
    q = embed_quality(args.marked, args.seed)
    print(f"PSNR after 8-bit rounding over {q['n']} images: min {q['min_psnr']:.2f} dB, "
          f"mean {q['mean_psnr']:.2f} dB")
    t = time.perf_counter()
    scores = attack_scores(args.marked, args.unmarked, args.seed)
    print_table(f"256x256, two families ({time.perf_counter() - t:.0f} s)", scores)
    if not args.skip_64:
        t = time.perf_counter()
        small = attack_scores(args.marked, args.unmarked, args.seed, source=catalogue_images)
        took = time.perf_counter() - t
        print_table(f"raw 64x64 catalogue renders, for the record ({took:.0f} s)", small)
    print(f"\nwall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
