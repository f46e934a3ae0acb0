"""SSIM and PSNR on paired images (output vs the target with the same id), in torch.

SSIM follows scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0, channel_axis=-1)`: an 11-tap Gaussian
window, the map cropped by the window radius (torchmetrics averages the padded border
instead and differs by up to 4.5e-4). PSNR is scikit-image's
`peak_signal_noise_ratio(data_range=1.0)` per pair. Both average over pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...media.image import load_pair
from ..base import check_lengths, fingerprint

SIGMA, TRUNCATE = 1.5, 3.5
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # scikit-image's window: 2 * 5 + 1 = 11 taps
C1, C2 = 0.01**2, 0.03**2


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def ssim_pair(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W, C) float images in [0, 1]."""
    import torch
    import torch.nn.functional as F

    if min(a.shape[:2]) < 2 * RADIUS + 1:
        raise InputError(f"image is {a.shape[1]}x{a.shape[0]} px; SSIM needs at least {2 * RADIUS + 1} px on each side (its window)")
    device = _device()
    # float32 maps agree with scikit-image's float64 to ~1e-8 and run twice as fast.
    x = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)).to(device)
    y = torch.from_numpy(np.ascontiguousarray(b.transpose(2, 0, 1), dtype=np.float32)).to(device)
    channels = x.shape[0]
    taps = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / SIGMA) ** 2)
    kernel = (kernel / kernel.sum()).to(device, torch.float32)
    maps = torch.cat([x, y, x * x, y * y, x * y])[None]  # (1, 5C, H, W)
    groups = 5 * channels
    maps = F.conv2d(maps, kernel.view(1, 1, 1, -1).expand(groups, 1, 1, -1), groups=groups)
    maps = F.conv2d(maps, kernel.view(1, 1, -1, 1).expand(groups, 1, -1, 1), groups=groups)
    ux, uy, uxx, uyy, uxy = maps[0].split(channels)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    s = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
    return float(s.double().mean())


def psnr_pair(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _describe(item: Any) -> str:
    from ...media.blob import MediaBlob, media_name

    return media_name(item) if isinstance(item, (str, Path, MediaBlob)) else "(array)"


class _PairedMean:
    modality = "image"
    higher_is_better = True
    name = ""

    def _score(self, a: np.ndarray, b: np.ndarray) -> float:
        raise NotImplementedError

    def init(self) -> tuple[float, int]:
        return (0.0, 0)

    def update(self, state: tuple[float, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int]:
        check_lengths(outputs, targets)
        scores = []
        for o, t in zip(outputs, targets):
            a, b = load_pair(o, t)
            try:
                scores.append(self._score(a, b))
            except InputError as exc:  # say which image; the runner adds metric and model
                raise InputError(f"output {_describe(o)}: {exc}") from None
        return (state[0] + math.fsum(scores), state[1] + len(scores))

    def merge(self, a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[float, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}


class SSIM(_PairedMean):
    """Mean structural similarity of each output with its target (scikit-image semantics).

    Example: `- use: ssim`.
    """

    name = "ssim"
    value_range = (-1.0, 1.0)

    def _score(self, a: np.ndarray, b: np.ndarray) -> float:
        return ssim_pair(a, b)

    def fingerprint(self) -> str:
        return fingerprint(self.name, window=f"gaussian{2 * RADIUS + 1}-sigma{SIGMA}", crop="radius", range="0-1", impl="torch-float32")


class PSNR(_PairedMean):
    """Mean peak signal-to-noise ratio in dB over pairs (data range 1.0; identical pairs give inf).

    Example: `- use: psnr`.
    """

    name = "psnr"
    value_range = (0.0, math.inf)  # images in [0, 1]: MSE <= 1

    def _score(self, a: np.ndarray, b: np.ndarray) -> float:
        return psnr_pair(a, b)

    def fingerprint(self) -> str:
        return fingerprint(self.name, range="0-1")
