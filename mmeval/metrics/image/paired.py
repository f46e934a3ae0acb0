"""SSIM, MS-SSIM and PSNR on paired images (output vs the target with the same id), through
scikit-image and torchmetrics.

Images are compared at their source bit depth (`mmeval.media.image.load_exact_pair`):
8-bit with data range 255, 16-bit with 65535, float arrays with 1.0. SSIM is scikit-image's
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=<the source's>, channel_axis=-1)` in float64: an 11-tap Gaussian window, the map
cropped by the window radius (torchmetrics averages the padded border instead and differs
by up to 4.5e-4; a float32 map loses ~3e-5 to E[x²]−μ² cancellation on near-white
backgrounds). PSNR is scikit-image's `peak_signal_noise_ratio(data_range=<the source's>)`
per pair. MS-SSIM is torchmetrics' `multiscale_structural_similarity_index_measure` in
float64 at the same data range (Wang et al. 2003: 5 scales, an 11-tap Gaussian window,
borders reflect-padded, negative terms clipped at 0 as TensorFlow and torchmetrics do).
All three average over pairs.

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
from ..base import check_lengths, fingerprint, package_version
from ..mean import MeanOfScores

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


class _PairedMean(MeanOfScores):
    modality = "image"
    higher_is_better = True
    name = ""

    def __init__(self, alpha: Alpha = "composite") -> None:
        if alpha not in ALPHA_POLICIES:
            raise InputError(f"alpha {alpha!r} is not one of {', '.join(ALPHA_POLICIES)}")
        self.alpha = alpha

    def _score(self, a: np.ndarray, b: np.ndarray, data_range: float) -> float:
        raise NotImplementedError

    def sample_scores(self, outputs: Sequence[Any], targets: Sequence[Any]) -> list[float]:
        check_lengths(outputs, targets)
        scores = []
        for o, t in zip(outputs, targets):
            a, b, data_range = load_exact_pair(o, t, self.alpha)
            try:
                scores.append(self._score(a, b, data_range))
            except InputError as exc:  # say which image; the runner adds metric and model
                raise InputError(f"output {_describe(o)}: {exc}") from None
        return scores


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


MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, one per scale


def ms_ssim_min_side(scales: int, kernel_size: int) -> int:
    """torchmetrics' smallest accepted side: at least 2**scales, and side // (scales - 1)**2
    above kernel_size - 1 (its error message says "larger than 160" for 5 scales; 161 fails)."""
    return max(2**scales, kernel_size * max(1, scales - 1) ** 2)


class MSSSIM(_PairedMean):
    """Mean multi-scale SSIM of each output with its target: torchmetrics'
    `multiscale_structural_similarity_index_measure(gaussian_kernel=True, sigma=1.5,
    kernel_size, betas, normalize="relu", data_range=<the source's>)` in float64, one pair at
    a time. Images need `ms_ssim_min_side` px a side (176 with the 5 default scales);
    smaller ones are an InputError that says so; fewer `betas` (scales) or a smaller
    `kernel_size` accept smaller images but give another number.

    `alpha: composite` (default: onto white) or `compare` (alpha as a channel).
    Example: `- use: ms_ssim` or `- {use: ms_ssim, args: {betas: [0.2, 0.3, 0.5]}}`.
    """

    name = "ms_ssim"
    value_range = (0.0, 1.0)  # a product of clipped terms raised to positive powers

    def __init__(self, alpha: Alpha = "composite", betas: Sequence[float] = MS_SSIM_BETAS, kernel_size: int = 2 * RADIUS + 1) -> None:
        super().__init__(alpha)
        if isinstance(betas, (str, bytes)) or not betas or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in betas):
            raise ValueError(f"betas must be a non-empty list of positive numbers (one per scale), got {betas!r}")
        if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 3, got {kernel_size!r}")
        self.betas = tuple(float(b) for b in betas)
        self.kernel_size = kernel_size

    def _score(self, a: np.ndarray, b: np.ndarray, data_range: float) -> float:
        side = ms_ssim_min_side(len(self.betas), self.kernel_size)
        if min(a.shape[:2]) < side:
            raise InputError(f"image is {a.shape[1]}x{a.shape[0]} px; MS-SSIM with {len(self.betas)} scales and a "
                             f"{self.kernel_size}-px window needs at least {side} px on each side (or pass fewer `betas`)")
        import torch

        from ..._compat.torchvision import ensure_torchvision

        ensure_torchvision()  # torchmetrics' package import pulls torchvision in
        from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

        x, y = (torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1)))[None] for v in (a, b))
        return float(multiscale_structural_similarity_index_measure(
            x, y, gaussian_kernel=True, sigma=SIGMA, kernel_size=self.kernel_size, data_range=data_range,
            betas=self.betas, normalize="relu"))

    def fingerprint(self) -> str:
        return fingerprint(self.name, betas=",".join(f"{b:g}" for b in self.betas), window=f"gaussian{self.kernel_size}-sigma{SIGMA}",
                           pad="reflect", normalize="relu", range="source-bit-depth", alpha=self.alpha,
                           impl=f"torchmetrics-{package_version('torchmetrics')}-float64")
