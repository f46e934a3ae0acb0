"""`audio_similarity`: a ViSQOL-style perceptual similarity in [0, 1].

For an output clip and its target:
1. both are resampled to 16 kHz mono and the output's level is matched to the target's
   RMS (a gain change is not a quality loss);
2. the output is shifted by the lag (within ±`max_shift_ms`) that maximises their
   cross-correlation (a short delay is not a quality loss);
3. each becomes a 32-band mel log spectrogram (32 ms Hann frames, 10 ms hop) in dB,
   floored `floor_db` below the target's peak, so silence and inaudibly quiet detail
   do not count;
4. NSIM — SSIM's luminance and structure terms without contrast, as in ViSQOL, with
   luminance compared as a level difference since the values are already in dB — is
   computed with a 3x3 Gaussian window over the time-frequency plane, averaged over
   300 ms patches (each cell weighted by how far the louder clip rises above the floor,
   so shared silence does not count as agreement) and then over patches, in [0, 1].
Known limit: two different clips of the same kind (two speech-like clips with other
pitch contours) share structure and score about 0.6; different kinds score below 0.3.
Deterministic, no learned weights. Identical clips give exactly 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...media.audio import load_audio
from ..base import check_lengths, fingerprint
from .dsp import log_mel, rms

RATE = 16_000
HOP = 160
BANDS = 32
PATCH_FRAMES = 30


def _align(output: np.ndarray, target: np.ndarray, max_shift: int) -> np.ndarray:
    n = max(len(output), len(target))
    size = 1 << (2 * n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(target, size) * np.conj(np.fft.rfft(output, size)), size)
    lags = np.concatenate([corr[: max_shift + 1], corr[-max_shift:]]) if max_shift else corr[:1]
    offsets = np.concatenate([np.arange(max_shift + 1), np.arange(-max_shift, 0)]) if max_shift else np.array([0])
    lag = int(offsets[int(np.argmax(lags))])
    shifted = np.zeros(len(target))
    if lag >= 0:  # the output is early: move it later
        part = output[: max(0, len(target) - lag)]
        shifted[lag : lag + len(part)] = part
    else:
        part = output[-lag : -lag + len(target)]
        shifted[: len(part)] = part
    return shifted


def _gaussian_filter(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=0.5, truncate=2.0, mode="nearest")  # a 3x3 window


def nsim(reference: np.ndarray, degraded: np.ndarray, dynamic_range: float) -> np.ndarray:
    c2 = (0.03 * dynamic_range) ** 2 / 2
    mu_r, mu_d = _gaussian_filter(reference), _gaussian_filter(degraded)
    var_r = np.clip(_gaussian_filter(reference**2) - mu_r**2, 0, None)
    var_d = np.clip(_gaussian_filter(degraded**2) - mu_d**2, 0, None)
    cov = _gaussian_filter(reference * degraded) - mu_r * mu_d
    # Levels are already logarithmic (dB), so compare them by difference: SSIM's ratio
    # form would make a few dB of noise in a silent region as bad as unrelated audio.
    luminance = np.clip(1.0 - np.abs(mu_r - mu_d) / dynamic_range, 0.0, 1.0)
    structure = (cov + c2) / (np.sqrt(var_r * var_d) + c2)
    return luminance * structure


def similarity(output: Any, target: Any, max_shift_ms: float = 50.0, floor_db: float = 50.0) -> float:
    out, ref = load_audio(output, RATE), load_audio(target, RATE)
    if rms(ref) == 0:
        return 1.0 if rms(out) == 0 else 0.0
    if rms(out) > 0:
        out = out * (rms(ref) / rms(out))
    out = _align(out, ref, int(max_shift_ms * RATE / 1000))
    spec_ref = 10 * log_mel(ref, RATE, hop=HOP, bands=BANDS)
    spec_out = 10 * log_mel(out, RATE, hop=HOP, bands=BANDS)
    floor = spec_ref.max() - floor_db
    spec_ref = np.clip(spec_ref, floor, None) - floor
    spec_out = np.clip(spec_out, floor, None) - floor
    frames = min(len(spec_ref), len(spec_out))
    ref_t, out_t = spec_ref[:frames].T, spec_out[:frames].T
    sim = nsim(ref_t, out_t, floor_db)
    # Cells where both clips are below the floor carry no information: weight each cell
    # by how far the louder of the two rises above the floor.
    weight = np.maximum(ref_t, out_t)
    patches = [
        (sim[:, i : i + PATCH_FRAMES] * weight[:, i : i + PATCH_FRAMES]).sum() / weight[:, i : i + PATCH_FRAMES].sum()
        for i in range(0, frames, PATCH_FRAMES)
        if weight[:, i : i + PATCH_FRAMES].sum() > 0
    ]
    return float(np.clip(np.mean(patches), 0.0, 1.0)) if patches else 1.0


class AudioSimilarity:
    """Perceptual similarity of each output clip to its target in [0, 1] (1 = identical), averaged.

    Example: `- use: audio_similarity`.
    """

    name = "audio_similarity"
    modality = "audio"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def __init__(self, max_shift_ms: float = 50.0, floor_db: float = 50.0):
        self.max_shift_ms, self.floor_db = max_shift_ms, floor_db

    def init(self) -> tuple[float, int]:
        return (0.0, 0)

    def update(self, state: tuple[float, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int]:
        check_lengths(outputs, targets)
        scores = [similarity(o, t, self.max_shift_ms, self.floor_db) for o, t in zip(outputs, targets)]
        return (state[0] + sum(scores), state[1] + len(scores))

    def merge(self, a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[float, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, version="nsim-mel32-v1", rate=RATE, shift_ms=self.max_shift_ms, floor_db=self.floor_db)
