"""Kernel Inception distance: unbiased polynomial MMD² on pool3 features, its subset
mean and spread, and the set bootstrap of the full-set statistic."""

from __future__ import annotations

import sys
from functools import cached_property

import numpy as np

from ..resampling import NotResampled, SetResampler, memory_limit
from .inception import CHUNK
from .set_metric import FeatureState, InceptionSetMetric


def poly_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """KID's kernel matrix (x·y/d + coef)^degree."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def poly_mmd(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD² with the polynomial kernel (x·y/d + coef)^degree, as in KID."""
    kxx, kyy, kxy = poly_kernel(x, x, degree, coef), poly_kernel(y, y, degree, coef), poly_kernel(x, y, degree, coef)
    m = x.shape[0]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    )


class ResampledPolyMMD:
    """Unbiased polynomial MMD² of a resampled output set against the fixed target set.

    With counts w (row i drawn w_i times, n draws) the within-output term is
    sum_{i != j} w_i w_j K_ij / (n² - sum w_i²): a duplicated output is never paired with
    its own copy, just as the unbiased estimate never pairs a sample with itself, so
    duplicates do not inflate the replicate. All-ones counts give `poly_mmd(x, y)`
    (for equal set sizes). The kernel matrices are built on the first replicate.
    """

    fixed_reference = True

    def __init__(self, outputs: np.ndarray, targets: np.ndarray):
        self.outputs, self.targets = outputs, targets
        self.size = len(outputs)
        self.flops = 2.0 * self.size**2

    @cached_property
    def _kernel_terms(self) -> tuple[np.ndarray, np.ndarray, float]:
        x, y = self.outputs, self.targets
        kxx = poly_kernel(x, x)
        # The target side is fixed: only its within-set mean and the row sums of the
        # cross kernel are needed, built a block at a time so no n x m matrix is kept.
        cross, within_targets = np.zeros(len(x)), 0.0
        for start in range(0, len(y), 1024):
            block = y[start : start + 1024]
            cross += poly_kernel(x, block).sum(axis=1)
            kyy = poly_kernel(block, y)
            within_targets += kyy.sum() - np.trace(kyy, offset=start)
        m = len(y)
        return kxx, cross / m, within_targets / (m * (m - 1))

    def value(self, picks: np.ndarray) -> float:
        kxx, cross, within_targets = self._kernel_terms
        w = np.bincount(picks, minlength=self.size).astype(np.float64)
        n = w.sum()
        pairs = n * n - w @ w
        if pairs <= 0:  # every draw the same output: no distinct pair
            return float("nan")
        within_outputs = (w @ kxx @ w - (w * w) @ np.diag(kxx)) / pairs
        return float(within_outputs + within_targets - 2.0 * (w @ cross) / n)


def kid_subset_size(requested: int, smaller_set: int) -> int:
    """The subset size KID uses: `requested`, or half the smaller set when `requested` would
    take the whole set. Subsets as large as the set are all the same set (the permutation
    changes only the order), so `kid_std` would be 0 and say nothing; torchmetrics takes
    such a size silently, and the KID paper (Bińkowski et al. 2018) draws subsets far
    smaller than the set (1000 of 10000+)."""
    if requested < smaller_set:
        return requested
    return max(2, smaller_set // 2)


class KID(InceptionSetMetric):
    """Kernel Inception distance: mean and std of unbiased polynomial MMD² over random subsets.

    Keeps every feature vector (8 kB per image and side). Example: `- use: kid` with
    `args: {subsets: 100, subset_size: 1000}`; a `subset_size` at least the smaller set's
    size becomes half of it (`kid_subset_size`), with a warning and a `note` on the result.
    The unbiased estimate can be negative, so its range is unbounded.
    """

    name = "kid"
    higher_is_better = False

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
        super().__init__(weights, batch_size)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self.note: str | None = None  # set by compute when the subset size was changed
        self._used_size = subset_size
        self._warned = False

    def compute(self, state: FeatureState) -> dict[str, float]:
        outputs = self._output_features(state)
        targets = self._target_features(state)
        smaller = min(len(outputs), len(targets))
        size = kid_subset_size(self.subset_size, smaller)
        self.note = None
        if smaller >= 2:
            self._used_size = size
        if size != self.subset_size and smaller >= 2:
            self.note = (f"subset_size {self.subset_size} >= {smaller} images would make every subset the whole set; "
                         f"used {size} (half the smaller set)")
            if not self._warned:  # once per metric, not once per model
                sys.stderr.write(f"warning: kid: {self.note}\n")
                self._warned = True
        if smaller < 2 or size < 2:
            return {self.name: float("nan"), "std": float("nan")}
        rng = np.random.default_rng(self.seed)
        values = [
            poly_mmd(outputs[rng.permutation(len(outputs))[:size]], targets[rng.permutation(len(targets))[:size]])
            for _ in range(self.subsets)
        ]
        result = {self.name: float(np.mean(values)), "std": float(np.std(values))}
        self._computed = (state, result[self.name])
        return result

    def set_resampler(self, state: FeatureState) -> SetResampler | NotResampled:
        """Output features resampled, targets fixed. A replicate is the full-set unbiased
        MMD², which the subset mean estimates."""
        outputs, targets = self._output_features(state), self._target_features(state)
        if len(outputs) < 2 or len(targets) < 2:
            return NotResampled("fewer than 2 images on a side")
        kernel_floats = len(outputs) ** 2 + 1024 * (len(outputs) + len(targets))  # n x n kept, 1024-row blocks
        limited = memory_limit(kernel_floats)
        if limited:
            return limited
        resampler = ResampledPolyMMD(outputs, targets)
        # The reported KID is a subset mean, not the full-set replicate statistic: the
        # interval is centred on what the report shows (compute just ran on this state).
        computed = getattr(self, "_computed", None)
        resampler.reported = computed[1] if computed and computed[0] is state else self.compute(state)[self.name]
        return resampler

    def fingerprint(self) -> str:
        # After compute: the size it used (a shrunk subset size is a different statistic).
        return super().fingerprint() + f"|subsets:{self.subsets}|subset_size:{self._used_size}|seed:{self.seed}"
