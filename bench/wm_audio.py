"""Audio watermark benchmark: detection under attacks, false-positive calibration and SNR.

    python bench/wm_audio.py [--marked 200] [--unmarked 1000] [--seed 0] [--quick]

Clips come in two families. "spots" are the catalogue's own product spots
(`mmeval.catalog.audio.synthesize`, 1 s, tonal). "mixed" are harder clips of 2 to 4 s:
spots at random gains and places, speech-like noise bursts (formant-filtered, syllable-
modulated noise) and a pink-noise bed. A broadband host leaves the mark fewer spectral
gaps to hide in. Marked and unmarked clips come from different product draws and
never share a clip. Every marked clip is stored as 16-bit PCM, then attacked. Unmarked
clips go through the same 16-bit step and attacks. Each attack's threshold is the
empirical (1 - FPR) quantile of the unmarked scores under that attack. The table gives
TPR with exact Clopper-Pearson 95% bounds, and also the FPR of the detector's own
p-value at alpha = 1e-2 and 1e-3. Without --quick it also runs the mixed family at fixed
lengths of 1, 2 and 4 s, to find the shortest noise-like clip for which the targets hold.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from mmeval.catalog.audio import RATE, synthesize  # noqa: E402
from mmeval.catalog.products import make_products  # noqa: E402
from mmeval.provenance import audio as wm  # noqa: E402
from mmeval.provenance.base import max_of_independent, normal_sf, subkey  # noqa: E402
from wm_stats import bench_parser, clopper_pearson, tpr_at_fpr  # noqa: E402

ATTACKS = ("none", "noise_20db", "resample_8k", "lowpass_4k", "crop_50")
KEY = subkey(b"mmeval-bench-audio-watermark-secret", "audio")


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[1:] /= np.sqrt(np.arange(1, spec.size))
    spec[0] = 0
    x = np.fft.irfft(spec, n=n)
    return x / np.sqrt(np.mean(x ** 2))


def _babble(rng: np.random.Generator, n: int) -> np.ndarray:
    """Speech-like noise: white noise through two random formant resonators, syllable-modulated."""
    from scipy.signal import iirpeak, lfilter

    x = rng.standard_normal(n)
    y = np.zeros(n)
    for fc in (rng.uniform(300, 900), rng.uniform(1000, 2600)):
        b, a = iirpeak(fc, 4.0, fs=RATE)
        y += lfilter(b, a, x)
    t = np.arange(n) / RATE
    y *= 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(3.0, 6.0) * t + rng.uniform(0, 2 * np.pi))
    return y / np.sqrt(np.mean(y ** 2) + 1e-12)


def mixed_clip(rng: np.random.Generator, seconds: float, spots: list[np.ndarray]) -> np.ndarray:
    """Spots at random gains and places, 1-3 speech-like noise bursts, a pink-noise bed."""
    n = int(seconds * RATE)
    out = _pink(rng, n) * 0.2 * 10 ** (rng.uniform(-35, -20) / 20)
    for spot in spots:
        spot = spot[:n]
        at = int(rng.integers(0, n - spot.size + 1))
        out[at:at + spot.size] += rng.uniform(0.4, 1.0) * spot
    for _ in range(int(rng.integers(1, 4))):
        m = int(rng.uniform(0.3, min(0.8, seconds / 2)) * RATE)
        at = int(rng.integers(0, n - m + 1))
        out[at:at + m] += 0.2 * rng.uniform(0.3, 1.0) * _babble(rng, m)
    return 0.9 * out / np.max(np.abs(out))


def clips(family: str, n: int, seed: int, seconds: float | None = None) -> list[np.ndarray]:
    """n clips of one family. "spots" at `seconds` (default 1) concatenates whole spots."""
    k = max(1, round(seconds or 1)) if family == "spots" else 3  # spots used per clip, at most
    spots = [synthesize(p).astype(np.float64) for p in make_products(k * n, seed, prefix=f"s{seed}-")]
    if family == "spots":
        return [np.concatenate(spots[i * k:(i + 1) * k]) for i in range(n)]
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    for i in range(n):
        s = seconds if seconds else float(rng.integers(2, 5))  # 2, 3 or 4 s
        out.append(mixed_clip(rng, s, spots[3 * i:3 * i + max(1, int(s) - 1)]))
    return out


def _q16(x: np.ndarray) -> np.ndarray:
    """Round-trip through 16-bit PCM, as `wav_bytes` stores it."""
    return np.clip(np.round(x * 32767), -32768, 32767) / 32767


_SOS = None


def attack(x: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    global _SOS
    from scipy.signal import butter, resample_poly, sosfiltfilt

    if name == "none":
        return x
    if name == "noise_20db":
        return x + rng.standard_normal(x.size) * np.sqrt(np.mean(x ** 2) / 100)
    if name == "resample_8k":
        return resample_poly(resample_poly(x, 1, 2), 2, 1)[: x.size]
    if name == "lowpass_4k":
        _SOS = butter(8, 4000, fs=RATE, output="sos") if _SOS is None else _SOS
        return sosfiltfilt(_SOS, x)
    if name == "crop_50":
        half = x.size // 2
        at = int(rng.integers(1, x.size - half))
        at += at % 128 == 0 or at % wm.PERIOD == 0  # never on a frame or period boundary
        return x[at:at + half]
    raise ValueError(name)


def _scores(waves: list[np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {name: np.empty(len(waves)) for name in ATTACKS}
    for i, x in enumerate(waves):
        for name in ATTACKS:
            out[name][i] = wm.detect(attack(x, name, rng), RATE, KEY).score
    return out


def attack_scores(n_marked: int = 200, n_unmarked: int = 1000, seed: int = 0,
                  family: str = "spots", seconds: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per attack: (scores of marked clips, scores of unmarked clips); score = z, larger = more evidence."""
    marked_src = clips(family, n_marked, 2 * seed + 1, seconds)
    unmarked = clips(family, n_unmarked, 2 * seed + 2, seconds)
    rng = np.random.Generator(np.random.PCG64([seed, 7]))
    pos = _scores([_q16(wm.embed(x, RATE, KEY)) for x in marked_src], rng)
    neg = _scores([_q16(x) for x in unmarked], rng)
    return {name: (pos[name], neg[name]) for name in ATTACKS}


def embed_quality(n: int = 200, seed: int = 0, family: str = "spots", seconds: float | None = None) -> dict:
    """SNR of (original, marked - original) in dB, after 16-bit quantisation of the marked clip."""
    snr = []
    for x in clips(family, n, 2 * seed + 1, seconds):
        diff = _q16(wm.embed(x, RATE, KEY)) - x
        snr.append(10 * np.log10(np.sum(x ** 2) / np.sum(diff ** 2)))
    return {"family": family, "n": n, "snr_min_db": float(np.min(snr)), "snr_mean_db": float(np.mean(snr))}


def p_values(scores: np.ndarray) -> np.ndarray:
    """The detector's p-value for each score (same formula as `detect`)."""
    return np.array([max_of_independent(min(1.0, 2 * normal_sf(z)), wm.PERIOD) for z in scores])


def table(result: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """Per attack: TPR at 1% and 0.1% empirical FPR with CP95 bounds, and the p-value's own FPR."""
    lines = [f"{'attack':12s} {'n+':>4s} {'n-':>5s} | "
             f"{'thr@1%':>7s} {'TPR@1%':>7s} {'CP95':>13s} | {'thr@.1%':>7s} {'TPR@.1%':>7s} {'CP95':>13s} | "
             f"{'FPR p<1e-2':>10s} {'p<1e-3':>7s} | {'min z+':>6s} {'med z+':>6s}"]
    for name, (pos, neg) in result.items():
        cells = []
        for fpr in (1e-2, 1e-3):
            _, k, _ = tpr_at_fpr(pos, neg, fpr)
            thr = float(np.sort(neg)[::-1][int(np.floor(fpr * neg.size))])
            lo, hi = clopper_pearson(k, pos.size)
            cells.append(f"{thr:7.2f} {k / pos.size:7.3f} [{lo:.3f},{hi:.3f}]")
        p_neg = p_values(neg)
        lines.append(f"{name:12s} {pos.size:4d} {neg.size:5d} | {cells[0]} | {cells[1]} | "
                     f"{np.mean(p_neg < 1e-2):10.4f} {np.mean(p_neg < 1e-3):7.4f} | "
                     f"{pos.min():6.2f} {np.median(pos):6.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="only the two main families")
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"{wm.ALGORITHM}  {wm.params()}")
    runs = [("spots", None, "catalogue spots, 1 s"), ("mixed", None, "mixed, 2-4 s")]
    if not args.quick:  # how the noise-like family depends on length
        runs += [("mixed", 1.0, "mixed, 1 s"), ("mixed", 2.0, "mixed, 2 s"), ("mixed", 4.0, "mixed, 4 s")]
    for family, seconds, label in runs:
        t0 = time.perf_counter()
        q = embed_quality(args.marked, args.seed, family, seconds)
        result = attack_scores(args.marked, args.unmarked, args.seed, family, seconds)
        print(f"\n== {label}: SNR after 16-bit min {q['snr_min_db']:.2f} dB, mean {q['snr_mean_db']:.2f} dB "
              f"({q['n']} clips); {time.perf_counter() - t0:.0f} s")
        print(table(result))
    print(f"\ntotal wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
