"""PESQ (the `pesq` package), STOI (`pystoi`) and SI-SDR (torchmetrics) on paired clips,
averaged over pairs, each at the clips' own sampling rate.

Output and target must share a rate; a mismatch is an InputError, never a silent resample.
SI-SDR needs no rate; pystoi resamples to its 10 kHz itself; PESQ runs at 8 or 16 kHz as
the `pesq` package does (see `PESQ`).

Two edge cases, the same for all three (see `PairedAudio`):
- a silent or constant clip (every sample equal; a common generative failure) scores a
  defined value per metric, is counted in `<name>_invalid`, and the note says how many;
- clips of different lengths follow `length:` — `trim` (default: both cut to the shorter,
  what pystoi and torchmetrics users do by hand and what ViSQOL does after aligning),
  `pad` (the shorter zero-padded) or `error` (refused, as pystoi and torchmetrics do). The
  fingerprint records the choice; the note counts the pairs it changed.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from ...errors import InputError, MissingExtra, SpecError
from ...media.audio import Length, resample
from ..base import fingerprint, package_version
from .paired import PairedAudio


def _torchmetrics_audio() -> Any:
    """torchmetrics' audio functions; its package import pulls torchvision in (see _compat)."""
    from ..._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torchmetrics.functional.audio as audio

    return audio


def _tensor(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x))


# The score of a pair PESQ cannot score (a silent or constant clip, no speech found): the
# bottom of the MOS scale. Scoring it, rather than dropping it, keeps silence, a common generative
# failure, from raising the mean; `pesq_invalid` counts these pairs.
PESQ_INVALID_SCORE = 1.0


class PESQ(PairedAudio):
    """ITU-T P.862 PESQ (MOS-LQO) from the `pesq` package, `mode: wb` (default) or `nb`.

    Clips are scored at their own rate as the `pesq` package does: 16 kHz in wb or nb, 8 kHz
    in nb only (wb on a clip below 16 kHz is an InputError naming the file and its rate). The
    package takes no other rate, so clips above 16 kHz are downsampled to 16 kHz and nb clips
    between 8 and 16 kHz to 8 kHz. A pair with a silent or constant clip, or one the package
    cannot score (no utterance found; its NaN on a silent output), scores `PESQ_INVALID_SCORE`
    (1.0) and is counted in `pesq_invalid`. The package itself would take clips of different
    lengths as they are; `length:` (default `trim`) brings them to one length first, so that
    PESQ, STOI and SI-SDR see the same samples.

    Example: `- use: pesq` with `args: {mode: nb, length: trim}`.
    """

    name = "pesq"
    value_range = (-0.5, 4.64)  # P.862 raw narrow-band floor to the wide-band MOS-LQO ceiling
    invalid_score = PESQ_INVALID_SCORE
    invalid_text = f"{PESQ_INVALID_SCORE} (the bottom of the MOS scale)"
    invalid_reason = "a silent or constant clip, or no utterance PESQ can find"

    def __init__(self, mode: Literal["wb", "nb"] = "wb", length: Length = "trim"):
        if mode not in ("wb", "nb"):
            raise SpecError(f"pesq mode must be 'wb' or 'nb', not {mode!r}")
        super().__init__(length)
        self.mode = mode

    def _check_rate(self, rate: int, names: tuple[str, str]) -> None:
        if self.mode == "wb" and rate < 16_000:
            raise InputError(f"pesq mode wb needs 16 kHz audio; {names[0]} and {names[1]} are {rate} Hz (use mode: nb)")
        if rate < 8_000:
            raise InputError(f"pesq needs at least 8 kHz audio; {names[0]} and {names[1]} are {rate} Hz")

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float | None:
        try:
            import pesq
        except ImportError:
            raise MissingExtra("pesq", "audio") from None
        fs = 16_000 if rate >= 16_000 else 8_000  # the two rates the package takes
        output, target = resample(output, rate, fs), resample(target, rate, fs)
        try:
            return float(pesq.pesq(fs, target, output, self.mode))
        except pesq.NoUtterancesError:  # e.g. a near-silent target
            return None
        except ValueError as exc:  # a near-silent output: the package's NaN fails an int conversion
            if "NaN" in str(exc):
                return None
            raise InputError(f"pesq cannot score {names[0]} against {names[1]}: {exc}") from None
        except pesq.PesqError as exc:  # e.g. a clip too short for PESQ
            raise InputError(f"pesq cannot score {names[0]} against {names[1]}: {exc}") from None

    def fingerprint(self) -> str:
        return fingerprint(self.name, mode=self.mode, rate="native-8k|16k", length=self.length, invalid=PESQ_INVALID_SCORE,
                           version=3, impl=f"pesq-{package_version('pesq')}")


# pystoi's warning, with its 1e-5 return value, when under 30 frames of the target carry
# speech (a near-silent or very short clip).
_PYSTOI_NO_SPEECH = "Not enough STFT frames"


class STOI(PairedAudio):
    """Short-time objective intelligibility in [0, 1] (pystoi); `extended: true` for ESTOI.

    pystoi gets the clips at their own rate and resamples to its 10 kHz itself. A pair with a
    silent or constant clip, or one where pystoi finds under 30 speech frames (it warns and
    returns 1e-5), scores 0 and is counted in `stoi_invalid`: pystoi gives 0 for a silent
    output but 0.64 for a constant (DC) one, and its ESTOI on silence is noise around 0.
    `length:` as in PESQ (pystoi itself refuses different lengths: `length: error`).

    Example: `- use: stoi` with `args: {extended: false, length: trim}`.
    """

    name = "stoi"
    value_range = (-1.0, 1.0)  # a mean correlation; [0, 1] in practice
    invalid_text = "0"
    invalid_reason = "a silent or constant clip, or under 30 frames of speech (pystoi)"

    def __init__(self, extended: bool = False, length: Length = "trim"):
        super().__init__(length)
        self.extended = extended

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float | None:
        try:
            from pystoi import stoi
        except ImportError:
            raise MissingExtra("pystoi", "audio") from None
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=_PYSTOI_NO_SPEECH, category=RuntimeWarning)
            try:
                return float(stoi(target, output, rate, self.extended))
            except RuntimeWarning:
                return None

    def fingerprint(self) -> str:
        return fingerprint(self.name, extended=str(self.extended).lower(), rate="native", length=self.length, invalid=0,
                           version=3, impl=f"pystoi-{package_version('pystoi')}")


class SISDR(PairedAudio):
    """Scale-invariant signal-to-distortion ratio in dB (higher is better), torchmetrics'
    `scale_invariant_signal_distortion_ratio` (`zero_mean: true` by default), on the clips as
    they are: the formula needs no sampling rate, so nothing is resampled.

    A pair with a silent or constant clip has no signal to project on (the formula is 0/0):
    it scores 0 dB and is counted in `si_sdr_invalid`. 0 dB is torchmetrics' value for a
    silent output and for two silent clips; for a silent target torchmetrics would give
    10·log10(eps / output energy), about -190 dB, a number set by float precision that would
    swamp the mean. `length:` as in PESQ (torchmetrics refuses different shapes: `length: error`).

    Example: `- use: si_sdr` with `args: {length: trim}`.
    """

    name = "si_sdr"
    invalid_text = "0 dB"
    invalid_reason = "a silent or constant clip"

    def __init__(self, zero_mean: bool = True, length: Length = "trim"):
        super().__init__(length)
        self.zero_mean = zero_mean

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float:
        si_sdr_fn = _torchmetrics_audio().scale_invariant_signal_distortion_ratio
        return float(si_sdr_fn(_tensor(output), _tensor(target), zero_mean=self.zero_mean))

    def fingerprint(self) -> str:
        return fingerprint(self.name, zero_mean=str(self.zero_mean).lower(), rate="native", length=self.length, invalid=0,
                           version=3, impl=f"torchmetrics-{package_version('torchmetrics')}")
