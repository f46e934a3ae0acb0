"""STFT and mel filterbanks in torch (torchaudio has no build for this torch)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(rate: int, n_fft: int, bands: int, fmin: float = 50.0, fmax: float | None = None) -> Any:
    """(bands, n_fft // 2 + 1) triangular HTK-mel filters, each normalised to unit area."""
    import torch

    fmax = fmax or rate / 2
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), bands + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    filters = np.zeros((bands, freqs.size))
    for i in range(bands):
        lo, mid, hi = edges[i : i + 3]
        rising = (freqs - lo) / max(mid - lo, 1e-9)
        falling = (hi - freqs) / max(hi - mid, 1e-9)
        filters[i] = np.clip(np.minimum(rising, falling), 0, None)
        area = filters[i].sum()
        if area > 0:
            filters[i] /= area
    return torch.from_numpy(filters)


def log_mel(wave: np.ndarray, rate: int, n_fft: int = 512, hop: int = 160, bands: int = 64) -> np.ndarray:
    """(frames, bands) log10 mel power (float64) from a Hann-windowed STFT."""
    return np.log10(mel_spectrum(wave, rate, n_fft, hop, bands, power=2.0) + 1e-10)


def mel_spectrum(wave: np.ndarray, rate: int, n_fft: int = 512, hop: int = 160, bands: int = 64, power: float = 2.0) -> np.ndarray:
    """(frames, bands) mel-filtered |STFT|**power (float64), Hann window, no centring."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float64))
    if x.numel() < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - x.numel()))
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft, dtype=torch.float64), center=False, return_complex=True)
    mel = mel_filterbank(rate, n_fft, bands) @ spec.abs() ** power  # (bands, frames)
    return mel.T.numpy()


def rms(wave: np.ndarray) -> float:
    return math.sqrt(float(np.mean(wave**2)))
