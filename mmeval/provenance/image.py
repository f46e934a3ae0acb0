"""A keyed, invisible, robust image watermark: a periodic noise tile, found by folding.

Method
------
*Embed.* From the key we draw the phases of a T x T tile whose spectrum is flat on an
annulus of low/mid spatial frequencies (F_LO..F_HI cycles per pixel) and zero elsewhere;
its inverse FFT is a smooth noise pattern with unit RMS. The tile is repeated over the
image and added to R, G and B alike (i.e. to luminance), scaled by a perceptual mask
(local texture activity plus a floor) and by one gain chosen so that the mark's RMS hits a
fixed PSNR (PSNR_TARGET, 1.5 dB above a 38 dB budget, so 8-bit rounding still fits).

*Detect.* High-pass the luminance (minus a Gaussian blur) and divide by the local
contrast, so strong edges and flat areas weigh alike; fold the residual modulo the period
(sum of all T x T cells) for a small grid of scale factors; take the FFT of each fold,
keep the band, set every coefficient to unit magnitude (phase-only matched filter) and
correlate with the key's phases over all T*T circular shifts with one inverse FFT.

*Why the p-value is valid.* Under "not marked with this key" the key's phases are
uniform and independent of the image, so at any fixed shift and scale the correlation is a
sum of K/2 independent cos(uniform) terms (K = band coefficients): mean 0, variance K,
sub-Gaussian with that variance (I0(x) <= exp(x^2/4)) and lighter-tailed than normal.
z = corr / sqrt(K) is therefore standard normal whatever the image is, and the max over
n = scales * T^2 shifts gets Sidak's correction (conservative: nearby shifts and scales
are positively correlated, so there are fewer than n independent tests).

Why each attack leaves the mark: JPEG and resizing keep low/mid frequencies (the band
stops at F_HI, below what a 2x down/up-sample or quality-50 quantisation removes); noise is
averaged away by folding (every tile cell adds coherently, noise does not); cropping only
moves the tile's phase, which the search over all circular shifts finds; a crop resized
back changes the period, which the scale grid (step fine enough to lose < 10% of the
peak) finds, and its size is part of n; brightness x0.9 / x1.1 scales the mark and the
image alike, which the high-pass, the contrast normalisation and the phase-only
correlation all ignore.

Limits: images must be at least MIN_SIDE pixels on each side; only the central
MAX_SIDE x MAX_SIDE region of larger images is searched (enough tiles, bounded cost).
Rotation, flips and aspect-ratio changes are not searched.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np

from .base import DEFAULT_ALPHA, Detection, max_of_independent, normal_sf

ALGORITHM = "mmeval-image-tile/1"

TILE = 32  # period in pixels
F_LO, F_HI = 0.06, 0.20  # band of the tile, cycles per pixel
PSNR_TARGET = 39.5  # dB before 8-bit rounding (adds ~0.06 dB of error at this strength)
MASK_FLOOR = 0.5  # flat areas get this fraction of the median texture activity
MAX_SCALE = 0.15  # scale factors searched: exp(+-0.15), i.e. about 0.86x to 1.16x
MIN_SIDE = 2 * TILE  # to embed: at least 2 x 2 periods (detection needs one period)
MAX_SIDE = 512
_LUMA = np.array([0.299, 0.587, 0.114])


def params() -> dict:
    """Everything a manifest needs to say which mark this is (JSON-safe)."""
    return {"algorithm": ALGORITHM, "tile": TILE, "band_cycles_per_px": [F_LO, F_HI],
            "psnr_target_db": PSNR_TARGET, "mask_floor": MASK_FLOOR,
            "scale_search": [round(math.exp(-MAX_SCALE), 4), round(math.exp(MAX_SCALE), 4)],
            "min_side": MIN_SIDE, "max_side_searched": MAX_SIDE, "channels": "luminance (R=G=B)"}


@lru_cache(maxsize=1)
def _band() -> tuple[np.ndarray, np.ndarray]:
    """Boolean T x T mask of the band, and a canonical index of each conjugate pair."""
    k = np.fft.fftfreq(TILE)  # cycles per pixel
    radius = np.hypot(k[:, None], k[None, :])
    inside = (radius >= F_LO) & (radius <= F_HI)
    i, j = np.indices((TILE, TILE))
    self_conj = ((-i) % TILE == i) & ((-j) % TILE == j)  # real-only bins carry no phase
    inside &= ~self_conj
    # one representative per pair (k, -k): the lexicographically smaller flat index
    flat, conj = i * TILE + j, ((-i) % TILE) * TILE + ((-j) % TILE)
    return inside, inside & (flat < conj)


def _key_phases(key: bytes) -> np.ndarray:
    """Unit-magnitude Hermitian spectrum on the band; SHAKE-256 makes it platform-exact.
    Not cached: cheap, and key material should not outlive the call."""
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise ValueError("the image watermark key must be bytes, at least 16 (normally 32: "
                         "base.subkey(secret, 'image'))")
    inside, rep = _band()
    n = int(rep.sum())
    raw = hashlib.shake_256(ALGORITHM.encode() + b"\0" + key).digest(8 * n)
    u = np.frombuffer(raw, dtype="<u8").astype(np.float64) / 2.0**64
    spec = np.zeros((TILE, TILE), dtype=np.complex128)
    spec[rep] = np.exp(2j * np.pi * u)
    i, j = np.nonzero(rep)
    spec[(-i) % TILE, (-j) % TILE] = np.conj(spec[i, j])
    return spec


def _tile(key: bytes) -> np.ndarray:
    t = np.fft.ifft2(_key_phases(key)).real
    return t / np.sqrt(np.mean(t**2))


@lru_cache(maxsize=8)
def _gauss(sigma: float) -> np.ndarray:
    w = np.exp(-0.5 * (np.arange(-int(3 * sigma), int(3 * sigma) + 1) / sigma) ** 2)
    return w / w.sum()


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with mirrored edges (numpy only: shift-and-add per tap)."""
    w = _gauss(sigma)
    r = len(w) // 2
    for axis in (0, 1):
        n = x.shape[axis]
        xp = np.pad(x, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="reflect")
        out = np.zeros_like(x)
        for k, wk in enumerate(w):
            out += wk * (xp[k:k + n] if axis == 0 else xp[:, k:k + n])
        x = out
    return x


def _check(pixels: np.ndarray, min_side: int) -> np.ndarray:
    x = np.asarray(pixels)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {x.shape}")
    if min(x.shape[:2]) < min_side:
        raise ValueError(f"image {x.shape[1]}x{x.shape[0]} is too small for the watermark: "
                         f"each side must be at least {min_side} pixels")
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / 255.0
    return x.astype(np.float64)


def embed(pixels: np.ndarray, key: bytes) -> np.ndarray:
    """The marked image: same shape, float64 in [0, 1]."""
    x = _check(pixels, MIN_SIDE)
    tile = _tile(key)
    h, w, _ = x.shape
    y = x @ _LUMA
    # perceptual mask: local RMS of the detail layer; the floor keeps flat areas marked
    detail = y - _blur(y, 1.5)
    act = np.sqrt(np.maximum(_blur(detail**2, 4.0), 0.0))
    mask = act + MASK_FLOOR * max(float(np.median(act)), 1e-3)
    pattern = mask * np.tile(tile, (h // TILE + 1, w // TILE + 1))[:h, :w]
    gain = 10 ** (-PSNR_TARGET / 20) / np.sqrt(np.mean(pattern**2))
    return np.clip(x + gain * pattern[..., None], 0.0, 1.0)


@lru_cache(maxsize=8)
def _scales(side: int) -> np.ndarray:
    """Scale factors searched; half a step of mismatch over `side` px costs < 10% of the peak."""
    step = 0.5 / (F_HI * side)
    count = int(math.ceil(MAX_SCALE / step))
    return np.exp(step * np.arange(-count, count + 1))


@lru_cache(maxsize=8)
def _fold_matrix(n: int, side: int) -> np.ndarray:
    """Per scale, the T x n matrix that folds one axis modulo the (scaled) period, splatting
    each pixel linearly onto the two nearest tile positions."""
    scales = _scales(side)
    t = ((np.arange(n)[None, :] + 0.5) / scales[:, None] - 0.5) % TILE  # tile coordinate
    lo = np.floor(t).astype(np.int64)
    frac = t - lo
    mats = np.zeros((len(scales), TILE, n))
    s_idx, p_idx = np.indices(t.shape)
    np.add.at(mats, (s_idx, lo % TILE, p_idx), 1.0 - frac)
    np.add.at(mats, (s_idx, (lo + 1) % TILE, p_idx), frac)
    return mats


def detect(pixels: np.ndarray, key: bytes, alpha: float = DEFAULT_ALPHA) -> Detection:
    """Test "this image carries the mark of `key`"; the p-value is valid (conservative)
    for any image not marked with this key, the randomness being the key's."""
    x = _check(pixels, TILE)  # a crop of a minimum-size image can still be checked
    key_spec = _key_phases(key)
    h, w, _ = x.shape
    top, left = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
    y = x[top:top + min(h, MAX_SIDE), left:left + min(w, MAX_SIDE)] @ _LUMA
    # whiten: drop the image's smooth content, then equalise local contrast
    r = y - _blur(y, 2.0)
    r = r / (np.sqrt(_blur(r**2, 4.0)) + 2e-3)
    r -= r.mean()
    side = max(r.shape)
    scales = _scales(side)
    fh, fw = _fold_matrix(r.shape[0], side), _fold_matrix(r.shape[1], side)
    rows = (fh.reshape(-1, r.shape[0]) @ r).reshape(len(scales), TILE, r.shape[1])
    folds = rows @ fw.transpose(0, 2, 1)  # (scales, T, T): every cell summed
    spec = np.fft.fft2(folds)
    inside, _ = _band()
    mag = np.abs(spec)
    # phase only; bins with no energy at all (flat image, round-off) are left out, which
    # only shrinks the null variance, so the p-value stays valid
    unit = np.where(inside & (mag > 1e-6), spec / np.maximum(mag, 1e-300), 0.0)
    corr = np.fft.ifft2(unit * np.conj(key_spec)).real  # (scales, T, T)
    z_all = corr * TILE * TILE / math.sqrt(int(inside.sum()))
    best = int(np.argmax(z_all))
    s_best, dy, dx = np.unravel_index(best, z_all.shape)
    z = float(z_all.flat[best])
    trials = z_all.size
    p = max_of_independent(normal_sf(z), trials)
    return Detection(detected=p < alpha, score=z, p_value=p, algorithm=ALGORITHM,
                     details={"scale": round(float(scales[s_best]), 4),
                              "shift": [int(dy), int(dx)], "trials": trials,
                              "band_coefficients": int(inside.sum())})
