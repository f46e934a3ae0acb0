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
Edge cases (see `PairedAudio`): clips of different lengths follow `length:` (default `trim`,
as ViSQOL's AlignAndTruncate does; `pad`; `error`), applied after resampling to 16 kHz; a pair
with a silent or constant clip is not measured: 1 when both clips are silent or constant
(nothing audible in either), 0 when one is, counted in `audio_similarity_invalid`.
Known limit: two different clips of the same kind (two speech-like clips with other
pitch contours) share structure and score about 0.6; different kinds score below 0.3.
Deterministic, no learned weights. Identical clips give exactly 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...media.audio import Length, resample
from ..base import fingerprint
from .dsp import log_mel, rms
from .paired import PairedAudio

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


def similarity(output: Any, target: Any, max_shift_ms: float = 50.0, floor_db: float = 50.0, length: Length = "trim") -> float:
    """The score of one pair (files or arrays at any rate)."""
    return AudioSimilarity(max_shift_ms, floor_db, length).score_pair(output, target)[0]


def _nsim_score(out: np.ndarray, ref: np.ndarray, max_shift_ms: float, floor_db: float) -> float:
    """Steps 1-4 on two 16 kHz clips of one length, neither silent nor constant."""
    out = out * (rms(ref) / rms(out))
    out = _align(out, ref, int(max_shift_ms * RATE / 1000))
    spec_ref = 10 * log_mel(ref, RATE, hop=HOP, bands=BANDS)
    spec_out = 10 * log_mel(out, RATE, hop=HOP, bands=BANDS)
    floor = spec_ref.max() - floor_db
    spec_ref = np.clip(spec_ref, floor, None) - floor
    spec_out = np.clip(spec_out, floor, None) - floor
    ref_t, out_t = spec_ref.T, spec_out.T
    frames = ref_t.shape[1]
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


class AudioSimilarity(PairedAudio):
    """Perceptual similarity of each output clip to its target in [0, 1] (1 = identical),
    averaged; the module docstring gives the steps. Output and target may differ in rate
    (both go to 16 kHz); `length:` (error | trim | pad, default trim) for different lengths.

    Example: `- use: audio_similarity` with `args: {length: trim}`.
    """

    name = "audio_similarity"
    value_range = (0.0, 1.0)
    invalid_text = "0 (1 when both clips are)"

    def __init__(self, max_shift_ms: float = 50.0, floor_db: float = 50.0, length: Length = "trim"):
        super().__init__(length)
        self.max_shift_ms, self.floor_db = max_shift_ms, floor_db

    def _one_rate(self, a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, int]:
        # Within one sample of the lower rate, two clips at different rates last the same:
        # resampling rounds, and that is not a length difference.
        same_duration = abs(len(a) * rate_b - len(b) * rate_a) < max(rate_a, rate_b)
        a, b = resample(a, rate_a, RATE), resample(b, rate_b, RATE)
        if same_duration:
            n = min(len(a), len(b))
            a, b = a[:n], b[:n]
        return a, b, RATE

    def _flat_score(self, flat_output: bool, flat_target: bool) -> float:
        return 1.0 if flat_output and flat_target else 0.0

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float:
        return _nsim_score(output, target, self.max_shift_ms, self.floor_db)

    def fingerprint(self) -> str:
        return fingerprint(self.name, version="nsim-mel32-v2", rate=RATE, shift_ms=self.max_shift_ms, floor_db=self.floor_db,
                           length=self.length, invalid="0|both:1")
