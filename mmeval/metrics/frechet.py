"""Gaussian feature statistics and the Fréchet distance, shared by FID, FAD and friends.

`GaussianStats` is the sufficient statistic of a feature set (sum, sum of outer
products, count) in float64: it merges by addition, so batching and sharding are exact.
`frechet_distance` takes the eigenvalue route instead of `scipy.linalg.sqrtm`:

    tr(sqrt(S1 S2)) = sum(sqrt(eig(A S2 A)))  with  A = sqrt(S1)  (A S2 A is symmetric PSD)

two symmetric eigendecompositions, several times faster than sqrtm at d=2048 and free
of its complex round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GaussianStats:
    """Sum, outer-product sum and count of d-dimensional features (float64)."""

    total: np.ndarray
    outer: np.ndarray
    count: int

    @classmethod
    def empty(cls, dim: int) -> "GaussianStats":
        return cls(np.zeros(dim), np.zeros((dim, dim)), 0)

    @classmethod
    def of(cls, features: np.ndarray) -> "GaussianStats":
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be 2-D (n, d), got shape {x.shape}")
        return cls(x.sum(axis=0), x.T @ x, x.shape[0])

    def add(self, features: np.ndarray) -> "GaussianStats":
        return self.merge(GaussianStats.of(features))

    def merge(self, other: "GaussianStats") -> "GaussianStats":
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        if self.total.shape != other.total.shape:
            raise ValueError(f"cannot merge statistics of dimension {self.total.shape[0]} and {other.total.shape[0]}")
        return GaussianStats(self.total + other.total, self.outer + other.outer, self.count + other.count)

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def cov(self) -> np.ndarray:
        """Unbiased sample covariance (ddof=1), as numpy.cov and pytorch-fid use."""
        if self.count < 2:
            raise ValueError("a covariance needs at least 2 samples")
        mu = self.mean
        return (self.outer - self.count * np.outer(mu, mu)) / (self.count - 1)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Example:
        >>> import numpy as np
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
        2.0
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    s1 = (s1 + s1.T) / 2  # symmetrize away round-off from accumulation
    s2 = (s2 + s2.T) / 2
    root1 = _sqrt_psd(s1)
    middle = root1 @ s2 @ root1
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


def stats_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)
