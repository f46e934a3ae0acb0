"""Generated test signals: speech-like (harmonic, vibrato, syllable envelope, moving
formant), music-like (note sequence with overtones), chirps and noise bursts."""

from __future__ import annotations

import numpy as np

RATE = 16_000


def _time(seconds: float = 2.0) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def speech_like(seed: int = 0, seconds: float = 2.0) -> np.ndarray:
    t = _time(seconds)
    f0 = 120 + 30 * np.sin(2 * np.pi * 3 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 15))
    syllables = (np.sin(2 * np.pi * 4 * t + seed) > 0).astype(float)
    formant = np.sin(2 * np.pi * np.cumsum(500 + 300 * np.sin(2 * np.pi * 2 * t)) / RATE)
    return 0.3 * harmonics * syllables * (1 + 0.5 * formant)


def music_like(seconds: float = 2.0) -> np.ndarray:
    t = _time(seconds)
    out = np.zeros_like(t)
    for i, f in enumerate([262, 330, 392, 523]):
        m = (t >= i * seconds / 4) & (t < (i + 1) * seconds / 4)
        out[m] = np.sin(2 * np.pi * f * t[m]) + 0.3 * np.sin(4 * np.pi * f * t[m])
    return 0.3 * out


def chirp(seconds: float = 2.0) -> np.ndarray:
    t = _time(seconds)
    return 0.3 * np.sin(2 * np.pi * (200 * t + 800 * t**2))


def noise_bursts(seed: int = 0, seconds: float = 2.0) -> np.ndarray:
    t = _time(seconds)
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.1, t.size) * (np.sin(2 * np.pi * 2 * t) > 0.3)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    power = np.mean(x**2)
    return x + np.random.default_rng(seed).normal(size=x.size) * np.sqrt(power / 10 ** (snr_db / 10))
