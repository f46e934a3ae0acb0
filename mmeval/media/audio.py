"""Audio from WAV paths or arrays, as mono float64 waveforms at a chosen rate.

WAV files may be 8/16/32-bit PCM or float, mono or stereo, at any common rate; arrays
from a `python` adapter are taken as mono at `DEFAULT_RATE` unless given as
`(array, rate)`. Channels are averaged; resampling is polyphase (scipy).

Paired metrics that define no rate of their own (SI-SDR, STOI) read both clips at their
own rate with `load_pair_native`, which refuses a pair whose rates differ: resampling one
side silently would change the score.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .blob import MediaBlob, media_name, source

DEFAULT_RATE = 16_000


def to_float(data: np.ndarray) -> np.ndarray:
    """PCM (8/16/32-bit) or float samples as float64 in [-1, 1]."""
    if data.dtype == np.uint8:
        return (data.astype(np.float64) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float64) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float64)


def audio_name(item: Any) -> str:
    """The file name an error line shows for a clip (`(array)` for in-memory samples)."""
    return media_name(item) if isinstance(item, (str, Path, MediaBlob)) else "(array)"


def read_audio(item: Any) -> tuple[np.ndarray, int]:
    """(mono waveform, sample rate); errors name the file and what is wrong."""
    name = audio_name(item)
    if isinstance(item, (str, Path, MediaBlob)):
        from scipy.io import wavfile

        try:
            rate, data = wavfile.read(source(item))
        except FileNotFoundError:
            raise InputError(f"audio {name} not found") from None
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"audio {name} is not a readable WAV file ({exc})") from None
    elif isinstance(item, tuple) and len(item) == 2:
        data, rate = np.asarray(item[0]), int(item[1])
    else:
        data, rate = np.asarray(item), DEFAULT_RATE
    wave = to_float(np.asarray(data))
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.ndim != 1:
        raise InputError(f"audio {name} has shape {wave.shape}; expected mono or (samples, channels)")
    if wave.size == 0:
        raise InputError(f"audio {name} is empty")
    if not np.isfinite(wave).all():
        raise InputError(f"audio {name} contains NaN or infinite samples")
    return wave, int(rate)


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wave
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(wave, target // g, rate // g)


def load_audio(item: Any, rate: int = DEFAULT_RATE) -> np.ndarray:
    wave, source_rate = read_audio(item)
    return resample(wave, source_rate, rate)


def _trimmed(output: Any, target: Any, a: np.ndarray, b: np.ndarray, rate: int, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Both clips cut to the shorter; lengths may differ by `tolerance` at most."""
    longer, shorter = max(len(a), len(b)), min(len(a), len(b))
    if shorter < (1 - tolerance) * longer:
        raise InputError(f"audio pair does not match: {audio_name(output)} is {len(a) / rate:.2f} s, "
                         f"{audio_name(target)} is {len(b) / rate:.2f} s")
    return a[:shorter], b[:shorter]


def load_pair(output: Any, target: Any, rate: int = DEFAULT_RATE, tolerance: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Both clips at `rate`, trimmed to the shorter; lengths may differ by `tolerance` at most."""
    return _trimmed(output, target, load_audio(output, rate), load_audio(target, rate), rate, tolerance)


def load_pair_native(output: Any, target: Any, tolerance: float = 0.1) -> tuple[np.ndarray, np.ndarray, int]:
    """(output, target, rate) at the clips' own rate, trimmed to the shorter; differing rates
    are an InputError naming both clips, never a silent resample."""
    (a, rate_a), (b, rate_b) = read_audio(output), read_audio(target)
    if rate_a != rate_b:
        raise InputError(f"audio pair has different sample rates: {audio_name(output)} is {rate_a} Hz, "
                         f"{audio_name(target)} is {rate_b} Hz; resample one of them to the other's rate")
    a, b = _trimmed(output, target, a, b, rate_a, tolerance)
    return a, b, rate_a
