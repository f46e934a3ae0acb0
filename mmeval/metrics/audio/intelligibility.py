"""PESQ (the `pesq` package), STOI (`pystoi`) and SI-SDR (torchmetrics) on paired clips,
averaged over pairs, each at the clips' own sampling rate.

Output and target must share a rate (`load_pair_native`); a mismatch is an InputError,
never a silent resample. SI-SDR needs no rate; pystoi resamples to its 10 kHz itself;
PESQ runs at 8 or 16 kHz as the `pesq` package does (see `PESQ`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ...errors import InputError, MissingExtra, SpecError
from ...media.audio import audio_name, load_pair_native, resample
from ..base import check_lengths, fingerprint, package_version


class _PairedAudio:
    """Mean of a per-pair score; the state is (sum, pairs, invalid pairs), merged by addition.

    A metric with an `invalid_score` may return None for a pair it cannot score; the pair
    then adds `invalid_score` to the sum and is counted in `<name>_invalid`."""

    modality = "audio"
    higher_is_better = True
    name = ""
    invalid_score: float | None = None
    note: str | None = None  # set by compute when some pairs could not be scored

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float | None:
        raise NotImplementedError

    def init(self) -> tuple[float, int, int]:
        return (0.0, 0, 0)

    def update(self, state: tuple[float, int, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int, int]:
        check_lengths(outputs, targets)
        scores = [self._score(*load_pair_native(o, t), (audio_name(o), audio_name(t))) for o, t in zip(outputs, targets)]
        valid = [s for s in scores if s is not None]
        invalid = len(scores) - len(valid)
        return (state[0] + sum(valid) + invalid * (self.invalid_score or 0.0), state[1] + len(scores), state[2] + invalid)

    def merge(self, a: tuple[float, int, int], b: tuple[float, int, int]) -> tuple[float, int, int]:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    def compute(self, state: tuple[float, int, int]) -> dict[str, float]:
        total, pairs, invalid = state
        values = {self.name: total / pairs if pairs else float("nan")}
        if self.invalid_score is not None:
            values[f"{self.name}_invalid"] = float(invalid)
            self.note = (f"{invalid} of {pairs} pairs could not be scored (silent clip or no utterance) "
                         f"and count as {self.invalid_score}") if invalid else None
        return values


def _torchmetrics_audio() -> Any:
    """torchmetrics' audio functions; its package import pulls torchvision in (see _compat)."""
    from ..._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torchmetrics.functional.audio as audio

    return audio


def _tensor(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x))


# The score of a pair PESQ cannot score (a silent clip, no speech found): the bottom of the
# MOS scale. Scoring it, rather than dropping it, keeps silence, a common generative
# failure, from raising the mean; `pesq_invalid` counts these pairs.
PESQ_INVALID_SCORE = 1.0


class PESQ(_PairedAudio):
    """ITU-T P.862 PESQ (MOS-LQO) from the `pesq` package, `mode: wb` (default) or `nb`.

    Clips are scored at their own rate as the `pesq` package does: 16 kHz in wb or nb, 8 kHz
    in nb only (wb on a clip below 16 kHz is an InputError naming the file and its rate). The
    package takes no other rate, so clips above 16 kHz are downsampled to 16 kHz and nb clips
    between 8 and 16 kHz to 8 kHz. A pair the package cannot score (a silent clip, no
    utterance found) scores `PESQ_INVALID_SCORE` (1.0) and is counted in `pesq_invalid`; the
    result's note says how many.

    Example: `- use: pesq` with `args: {mode: nb}`.
    """

    name = "pesq"
    value_range = (-0.5, 4.64)  # P.862 raw narrow-band floor to the wide-band MOS-LQO ceiling
    extra_directions = {"invalid": False}
    invalid_score = PESQ_INVALID_SCORE

    def __init__(self, mode: Literal["wb", "nb"] = "wb"):
        if mode not in ("wb", "nb"):
            raise SpecError(f"pesq mode must be 'wb' or 'nb', not {mode!r}")
        self.mode = mode

    def _rate(self, rate: int, names: tuple[str, str]) -> int:
        """The rate the `pesq` package scores this pair at (8000 or 16000)."""
        if self.mode == "wb" and rate < 16_000:
            raise InputError(f"pesq mode wb needs 16 kHz audio; {names[0]} and {names[1]} are {rate} Hz (use mode: nb)")
        if rate < 8_000:
            raise InputError(f"pesq needs at least 8 kHz audio; {names[0]} and {names[1]} are {rate} Hz")
        return 16_000 if rate >= 16_000 else 8_000

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float | None:
        try:
            import pesq
        except ImportError:
            raise MissingExtra("pesq", "audio") from None
        fs = self._rate(rate, names)
        output, target = resample(output, rate, fs), resample(target, rate, fs)
        try:
            value = float(pesq.pesq(fs, target, output, self.mode))
        except pesq.NoUtterancesError:  # e.g. a silent target
            return None
        except ValueError as exc:  # a silent output: the package's NaN fails an int conversion
            if "NaN" in str(exc):
                return None
            raise InputError(f"pesq cannot score {names[0]} against {names[1]}: {exc}") from None
        except pesq.PesqError as exc:  # e.g. a clip too short for PESQ
            raise InputError(f"pesq cannot score {names[0]} against {names[1]}: {exc}") from None
        return value if np.isfinite(value) else None

    def fingerprint(self) -> str:
        return fingerprint(self.name, mode=self.mode, rate="native-8k|16k", invalid=PESQ_INVALID_SCORE, version=2,
                           impl=f"pesq-{package_version('pesq')}")


class STOI(_PairedAudio):
    """Short-time objective intelligibility in [0, 1] (pystoi); `extended: true` for ESTOI.

    pystoi gets the clips at their own rate and resamples to its 10 kHz itself.

    Example: `- use: stoi`.
    """

    name = "stoi"
    value_range = (-1.0, 1.0)  # a mean correlation; [0, 1] in practice

    def __init__(self, extended: bool = False):
        self.extended = extended

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float:
        from importlib.util import find_spec

        if find_spec("pystoi") is None:  # torchmetrics calls it
            raise MissingExtra("pystoi", "audio")
        stoi_fn = _torchmetrics_audio().short_time_objective_intelligibility
        return float(stoi_fn(_tensor(output), _tensor(target), rate, self.extended))

    def fingerprint(self) -> str:
        return fingerprint(self.name, extended=str(self.extended).lower(), rate="native", version=2,
                           impl=f"pystoi-{package_version('pystoi')}")


class SISDR(_PairedAudio):
    """Scale-invariant signal-to-distortion ratio in dB (higher is better), on the clips as
    they are: the formula needs no sampling rate, so nothing is resampled.

    Example: `- use: si_sdr`.
    """

    name = "si_sdr"

    def __init__(self, zero_mean: bool = True):
        self.zero_mean = zero_mean

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float:
        si_sdr_fn = _torchmetrics_audio().scale_invariant_signal_distortion_ratio
        return float(si_sdr_fn(_tensor(output), _tensor(target), zero_mean=self.zero_mean))

    def fingerprint(self) -> str:
        return fingerprint(self.name, zero_mean=str(self.zero_mean).lower(), rate="native", version=2,
                           impl=f"torchmetrics-{package_version('torchmetrics')}")
