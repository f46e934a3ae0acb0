"""Audio from WAV paths or arrays, as mono float64 waveforms at a chosen rate.

WAV files may be 8/16/32-bit PCM or float, mono or stereo, at any common rate; arrays
from a `python` adapter are taken as mono at `DEFAULT_RATE` unless given as
`(array, rate)`. Channels are averaged; resampling is polyphase (scipy).

Paired metrics read both clips at their own rate and refuse a pair whose rates differ
(`same_rate`: resampling one side silently would change the score); `fit_lengths` applies
their `length:` argument (error | trim | pad) to a pair of different lengths.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Any, Literal, get_args

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


Length = Literal["error", "trim", "pad"]
LENGTHS: tuple[str, ...] = get_args(Length)


def check_length(metric: str, length: str) -> Length:
    """A paired metric's `length:` argument, checked (ValueError: the loader makes it a suite error)."""
    if length not in LENGTHS:
        raise ValueError(f"{metric} length must be one of {', '.join(LENGTHS)}, not {length!r}")
    return length  # type: ignore[return-value]  # checked above


def is_flat(wave: np.ndarray) -> bool:
    """True for a silent or constant clip: every sample equal, so nothing audible."""
    return bool(wave.min() == wave.max())


def fit_lengths(a: np.ndarray, b: np.ndarray, length: Length, names: tuple[str, str], rate: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The pair at one length by the `length:` policy: `error` refuses different lengths (as
    pystoi and torchmetrics do), `trim` cuts both to the shorter, `pad` zero-pads the shorter
    at its end. The flag says whether a clip was changed."""
    if len(a) == len(b):
        return a, b, False
    if length == "error":
        raise InputError(f"audio pair has different lengths: {names[0]} is {len(a) / rate:.3f} s, {names[1]} is "
                         f"{len(b) / rate:.3f} s ({len(a)} and {len(b)} samples); set the metric's length: trim or pad")
    if length == "trim":
        n = min(len(a), len(b))
        return a[:n], b[:n], True
    n = max(len(a), len(b))
    return np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b))), True


def same_rate(rate_a: int, rate_b: int, names: tuple[str, str]) -> int:
    """The pair's common rate; differing rates are an InputError naming both clips, never a
    silent resample."""
    if rate_a != rate_b:
        raise InputError(f"audio pair has different sample rates: {names[0]} is {rate_a} Hz, "
                         f"{names[1]} is {rate_b} Hz; resample one of them to the other's rate")
    return rate_a

