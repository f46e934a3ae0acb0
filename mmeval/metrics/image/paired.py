"""SSIM and PSNR on paired images (output vs the target with the same id), through scikit-image.

Images are compared at their source bit depth (`mmeval.media.image.load_exact_pair`):
8-bit with data range 255, 16-bit with 65535, float arrays with 1.0. SSIM is scikit-image's
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=<the source's>, channel_axis=-1)` in float64: an 11-tap Gaussian window, the map
cropped by the window radius (torchmetrics averages the padded border instead and differs
by up to 4.5e-4; a float32 map loses ~3e-5 to E[x²]−μ² cancellation on near-white
backgrounds). PSNR is scikit-image's `peak_signal_noise_ratio(data_range=<the source's>)`
per pair. Both average over pairs.

Alpha (`alpha:`): `composite` (default) blends RGBA / grayscale+alpha onto white and
compares what a viewer sees; `compare` keeps alpha as one more channel. Output and target
must have the same mode (bit depth and channels, after compositing) and size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...media.image import ALPHA_POLICIES, Alpha, load_exact_pair
from ..base import check_lengths, fingerprint

SIGMA, TRUNCATE = 1.5, 3.5
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # scikit-image's window: 2 * 5 + 1 = 11 taps
VERSION = 2  # 2: source bit depth and data range, float64 scikit-image, alpha policy


def ssim_pair(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean SSIM of two (H, W, C) float64 images whose values span `data_range`."""
    from skimage.metrics import structural_similarity

    if min(a.shape[:2]) < 2 * RADIUS + 1:
        raise InputError(f"image is {a.shape[1]}x{a.shape[0]} px; SSIM needs at least {2 * RADIUS + 1} px on each side (its window)")
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=SIGMA, use_sample_covariance=False,
                                       data_range=data_range, channel_axis=-1))


def psnr_pair(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """scikit-image's PSNR formula in float64; identical images give inf (scikit-image warns and divides by zero)."""
    mse = float(np.mean((a - b) ** 2, dtype=np.float64))
    return math.inf if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def _describe(item: Any) -> str:
    from ...media.blob import MediaBlob, media_name

    return media_name(item) if isinstance(item, (str, Path, MediaBlob)) else "(array)"


class _PairedMean:
    modality = "image"
    higher_is_better = True
    name = ""

    def __init__(self, alpha: Alpha = "composite") -> None:
        if alpha not in ALPHA_POLICIES:
            raise InputError(f"alpha {alpha!r} is not one of {', '.join(ALPHA_POLICIES)}")
        self.alpha = alpha

    def _score(self, a: np.ndarray, b: np.ndarray, data_range: float) -> float:
        raise NotImplementedError

    def init(self) -> tuple[float, int]:
        return (0.0, 0)

    def update(self, state: tuple[float, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int]:
        check_lengths(outputs, targets)
        scores = []
        for o, t in zip(outputs, targets):
            a, b, data_range = load_exact_pair(o, t, self.alpha)
            try:
                scores.append(self._score(a, b, data_range))
            except InputError as exc:  # say which image; the runner adds metric and model
                raise InputError(f"output {_describe(o)}: {exc}") from None
        return (state[0] + math.fsum(scores), state[1] + len(scores))

    def merge(self, a: tuple[float, int], b: tuple[float, int]) -> tuple[float, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[float, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}


class SSIM(_PairedMean):
    """Mean structural similarity of each output with its target (scikit-image, float64, source data range).

    `alpha: composite` (default: onto white) or `compare` (alpha as a channel).
    Example: `- use: ssim` or `- {use: ssim, args: {alpha: compare}}`.
    """

    name = "ssim"
    value_range = (-1.0, 1.0)

    def _score(self, a: np.ndarray, b: np.ndarray, data_range: float) -> float:
        return ssim_pair(a, b, data_range)

    def fingerprint(self) -> str:
        return fingerprint(self.name, version=VERSION, window=f"gaussian{2 * RADIUS + 1}-sigma{SIGMA}", crop="radius",
                           range="source-bit-depth", alpha=self.alpha, impl="skimage-float64")


class PSNR(_PairedMean):
    """Mean peak signal-to-noise ratio in dB over pairs (source data range: 255, 65535 or 1.0; identical pairs give inf).

    `alpha: composite` (default: onto white) or `compare` (alpha as a channel).
    Example: `- use: psnr`.
    """

    name = "psnr"
    value_range = (0.0, math.inf)  # MSE <= data_range²

    def _score(self, a: np.ndarray, b: np.ndarray, data_range: float) -> float:
        return psnr_pair(a, b, data_range)

    def fingerprint(self) -> str:
        return fingerprint(self.name, version=VERSION, range="source-bit-depth", alpha=self.alpha)
