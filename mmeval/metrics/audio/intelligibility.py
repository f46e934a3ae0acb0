"""PESQ, STOI and SI-SDR on paired clips through torchmetrics (with the `pesq` and `pystoi`
packages), averaged over pairs. Clips are resampled to the rate each standard needs
(PESQ: 16 kHz wide-band, 8 kHz narrow-band; STOI: 10 kHz internally by pystoi)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ...errors import MissingExtra
from ...media.audio import load_pair
from ..base import check_lengths, fingerprint, package_version


class _PairedAudio:
    modality = "audio"
    higher_is_better = True
    name = ""
    rate = 16_000

    def _score(self, output: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def init(self) -> tuple[float, int]:
        return (0.0, 0)

    def update(self, state: tuple[float, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int]:
        check_lengths(outputs, targets)
        scores = [self._score(*load_pair(o, t, self.rate)) for o, t in zip(outputs, targets)]
        return (state[0] + sum(scores), state[1] + len(scores))

    def merge(self, a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[float, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}


def _torchmetrics_audio() -> Any:
    """torchmetrics' audio functions; its package import pulls torchvision in (see _compat)."""
    from ..._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torchmetrics.functional.audio as audio

    return audio


def _tensor(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x))


class PESQ(_PairedAudio):
    """ITU-T P.862 PESQ (MOS-LQO), `mode: wb` (16 kHz, default) or `nb` (8 kHz).

    Example: `- use: pesq` with `args: {mode: nb}`.
    """

    name = "pesq"
    value_range = (-0.5, 4.64)  # P.862 raw narrow-band floor to the wide-band MOS-LQO ceiling

    def __init__(self, mode: Literal["wb", "nb"] = "wb"):
        self.mode = mode
        self.rate = 16_000 if mode == "wb" else 8_000

    def _score(self, output: np.ndarray, target: np.ndarray) -> float:
        try:
            import pesq  # noqa: F401  (torchmetrics calls it)
        except ImportError:
            raise MissingExtra("pesq", "audio") from None
        pesq_fn = _torchmetrics_audio().perceptual_evaluation_speech_quality
        return float(pesq_fn(_tensor(output), _tensor(target), self.rate, self.mode))

    def fingerprint(self) -> str:
        return fingerprint(self.name, mode=self.mode, fs=self.rate, impl=f"pesq-{package_version('pesq')}")


class STOI(_PairedAudio):
    """Short-time objective intelligibility in [0, 1] (pystoi); `extended: true` for ESTOI.

    Example: `- use: stoi`.
    """

    name = "stoi"
    value_range = (-1.0, 1.0)  # a mean correlation; [0, 1] in practice

    def __init__(self, extended: bool = False):
        self.extended = extended

    def _score(self, output: np.ndarray, target: np.ndarray) -> float:
        stoi_fn = _torchmetrics_audio().short_time_objective_intelligibility
        return float(stoi_fn(_tensor(output), _tensor(target), self.rate, self.extended))

    def fingerprint(self) -> str:
        return fingerprint(self.name, extended=str(self.extended).lower(), fs=self.rate, impl=f"pystoi-{package_version('pystoi')}")


class SISDR(_PairedAudio):
    """Scale-invariant signal-to-distortion ratio in dB (higher is better).

    Example: `- use: si_sdr`.
    """

    name = "si_sdr"

    def __init__(self, zero_mean: bool = True):
        self.zero_mean = zero_mean

    def _score(self, output: np.ndarray, target: np.ndarray) -> float:
        si_sdr_fn = _torchmetrics_audio().scale_invariant_signal_distortion_ratio
        return float(si_sdr_fn(_tensor(output), _tensor(target), zero_mean=self.zero_mean))

    def fingerprint(self) -> str:
        return fingerprint(self.name, zero_mean=str(self.zero_mean).lower(), fs=self.rate, impl=f"torchmetrics-{package_version('torchmetrics')}")
