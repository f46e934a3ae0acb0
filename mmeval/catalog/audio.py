"""Audio spots, 16 kHz mono, 1 s: a three-note jingle then a speech-like vowel tone.

Category picks the melody, colour the timbre (harmonic weights), material the note
envelope, and the product's variant the speech-like part's pitch and vowel formants.
"""

from __future__ import annotations

import io

import numpy as np

from .products import Product
from .vocab import CATEGORIES, COLOURS, MATERIALS

RATE = 16000
SECONDS = 1.0
_SCALE = [261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 523.25]
_DECAY = {"cotton": 6.0, "leather": 10.0, "ceramic": 3.0, "steel": 1.5, "wool": 14.0, "wood": 8.0}


def _melody(category: str) -> list[float]:
    k = CATEGORIES.index(category)
    return [_SCALE[k % 8], _SCALE[(k + 2) % 8], _SCALE[(k + 4) % 8] * (2 if k % 2 else 1)]


def _harmonics(colour: str) -> np.ndarray:
    k = list(COLOURS).index(colour)
    return np.array([1.0 / (1 + h) ** (0.5 + 0.25 * (k % 4)) * (1 if (h + k) % 3 else 0.3) for h in range(5)])


def synthesize(product: Product) -> np.ndarray:
    """The spot as float32 samples in [-1, 1]."""
    rng = np.random.Generator(np.random.PCG64(product.variant))
    n = int(RATE * SECONDS)
    t = np.arange(n) / RATE
    wave = np.zeros(n)
    harmonics = _harmonics(product.colour)
    note_len = int(0.2 * RATE)
    for i, freq in enumerate(_melody(product.category)):
        start = i * note_len
        tn = t[: note_len]
        env = np.exp(-_DECAY[product.material] * tn) * np.minimum(1, tn / 0.005)
        tone = sum(w * np.sin(2 * np.pi * freq * (h + 1) * tn) for h, w in enumerate(harmonics))
        wave[start : start + note_len] += env * tone
    # Speech-like part: a glottal pulse train through two vowel formants, syllable-modulated.
    seg = t[3 * note_len :] - t[3 * note_len]
    f0 = rng.uniform(110, 190) * (1 + 0.05 * np.sin(2 * np.pi * 3 * seg))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    formants = [(rng.uniform(300, 800), 1.0), (rng.uniform(900, 2200), 0.5), (2500 + 400 * MATERIALS.index(product.material) / 5, 0.25)]
    voice = np.zeros_like(seg)
    for fc, amp in formants:
        harmonic = np.clip(np.round(fc / f0.mean()), 1, None)
        voice += amp * np.sin(harmonic * phase)
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(3.5, 5.5) * seg)
    wave[3 * note_len :] += 0.6 * voice * syllables
    wave += 0.003 * rng.standard_normal(n)
    return (0.9 * wave / np.max(np.abs(wave))).astype(np.float32)


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit PCM WAV via the standard library (byte-stable everywhere)."""
    import wave

    pcm = np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return buf.getvalue()
