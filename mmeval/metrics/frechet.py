"""Gaussian feature statistics and the Fréchet distance, shared by FID, FAD and friends.

`GaussianStats` is the sufficient statistic of a feature set (sum, sum of outer
products, count) in float64: it merges by addition, so batching and sharding are exact.
`frechet_distance` avoids `scipy.linalg.sqrtm` (slow, complex round-off). With any
factors S1 = F1 F1^T and S2 = F2 F2^T, the eigenvalues of S1 S2 are the squared singular
values of F2^T F1, so

    tr(sqrt(S1 S2)) = sum(singular values of F2^T F1)

Cholesky factors make this fast; a singular covariance (fewer samples than dimensions)
falls back to symmetric square roots. Singular values keep their absolute accuracy where
square roots of tiny eigenvalues would amplify round-off, so FID(X, X) stays ~0.
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


def _factor(matrix: np.ndarray) -> np.ndarray:
    """Some F with F F^T = matrix: Cholesky when positive definite, else the symmetric root."""
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return _sqrt_psd(matrix)


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
    trace_sqrt = float(np.linalg.svd(_factor(s2).T @ _factor(s1), compute_uv=False).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


def stats_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)
