"""Weight-free embeddings for diversity metrics: text, images and audio.

They need no download and are deterministic; each has a name that goes into the
fingerprint, so a Vendi score is never mistaken for one over a learned embedding.
`embedding="minilm"` picks all-MiniLM-L6-v2 sentence embeddings for text instead (the
`text-embed` extra, see minilm.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..media.blob import MediaBlob, media_name, source

TEXT_DIM = 2048


def _bucket(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little") % TEXT_DIM


def text_embedding(texts: Sequence[str]) -> np.ndarray:
    """Hashed character 3-grams plus word unigrams, L2-normalised (`hashed-ngrams-v1`)."""
    out = np.zeros((len(texts), TEXT_DIM))
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"output {text!r} is not text")
        padded = f" {text.lower()} "
        for i in range(len(padded) - 2):
            out[row, _bucket("c:" + padded[i : i + 3])] += 1.0
        for word in text.lower().split():
            out[row, _bucket("w:" + word)] += 1.0
    return out


def image_embedding(images: Sequence[Any]) -> np.ndarray:
    """Colour thumbnails (16x16 RGB), each centred (`pixels16-v1`)."""
    from PIL import Image, UnidentifiedImageError

    rows = []
    for item in images:
        try:
            if isinstance(item, (str, Path, MediaBlob)):
                with Image.open(source(item)) as img:
                    array = np.asarray(img.convert("RGB").resize((16, 16), Image.BILINEAR), dtype=np.float64)
            else:
                array = np.asarray(Image.fromarray(np.asarray(item, dtype=np.uint8)).convert("RGB").resize((16, 16)), dtype=np.float64)
        except (OSError, UnidentifiedImageError, ValueError, TypeError) as exc:
            raise InputError(f"cannot read image {media_name(item) if isinstance(item, (str, Path, MediaBlob)) else type(item).__name__}: {exc}") from None
        vector = array.ravel() / 255.0
        rows.append(vector - vector.mean())
    return np.stack(rows)


def audio_embedding(clips: Sequence[Any]) -> np.ndarray:
    """Mean and spread of log energies in 32 bands over 25 ms frames (`logbands32-v1`)."""
    rows = []
    for clip in clips:
        wave, rate = _read_wave(clip)
        frame = max(64, int(0.025 * rate))
        usable = len(wave) // frame * frame
        if usable == 0:
            raise InputError(f"audio clip {clip} is shorter than one frame")
        frames = wave[:usable].reshape(-1, frame) * np.hanning(frame)
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        bands = np.array_split(power, 32, axis=1)
        log_energy = np.log10(np.stack([b.sum(axis=1) for b in bands], axis=1) + 1e-10)
        vector = np.concatenate([log_energy.mean(axis=0), log_energy.std(axis=0)])
        rows.append(vector - vector.mean())
    return np.stack(rows)


def _read_wave(clip: Any) -> tuple[np.ndarray, int]:
    if isinstance(clip, (str, Path, MediaBlob)):
        from scipy.io import wavfile

        try:
            rate, data = wavfile.read(source(clip))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read WAV {media_name(clip)}: {exc}") from None
        data = np.asarray(data, dtype=np.float64)
        if data.ndim == 2:
            data = data.mean(axis=1)
        return data, int(rate)
    return np.asarray(clip, dtype=np.float64).ravel(), 16_000


EMBEDDINGS = ("auto", "minilm")


def embed(items: Sequence[Any], embedding: str = "auto") -> tuple[np.ndarray, str]:
    """Return (vectors, embedding name): `auto` picks a weight-free embedding by what the
    items are; `minilm` embeds text with all-MiniLM-L6-v2."""
    from ..data import media_kind

    if embedding == "minilm":
        from .minilm import NAME, minilm

        return minilm().embed(items), NAME
    if embedding != "auto":
        raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}")
    first = items[0]
    if media_kind(first) == "audio":
        return audio_embedding(items), "logbands32-v1"
    if media_kind(first) == "image" or (isinstance(first, np.ndarray) and first.ndim == 3):
        return image_embedding(items), "pixels16-v1"
    return text_embedding(items), "hashed-ngrams-v1"
