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

From features, `ReweightedFrechet` takes the factors straight from the centred rows:
with fewer samples than dimensions that is an n x n problem instead of d x d, exact, and
cheap enough to repeat with bootstrap weights (`mmeval.report.set_bootstrap`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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


class GaussianTarget:
    """The fixed side of a Fréchet distance to a reweighted feature set: mean, covariance,
    and a factor F of the covariance (F F^T = covariance).

    From m < d feature rows the factor is the centred rows themselves (d x m), so no
    d x d matrix is ever formed or factored; otherwise it is a Cholesky factor.
    """

    def __init__(self, mean: np.ndarray, *, cov: np.ndarray | None = None, rows: np.ndarray | None = None):
        self.mean = np.asarray(mean, np.float64)
        self._cov, self._rows = cov, rows  # rows: centred / sqrt(m - 1), so rows^T rows = cov

    @classmethod
    def of_features(cls, features: np.ndarray) -> "GaussianTarget":
        y = np.asarray(features, dtype=np.float64)
        if y.ndim != 2 or y.shape[0] < 2:
            raise ValueError(f"need at least 2 feature rows (m, d), got shape {y.shape}")
        mean = y.mean(axis=0)
        centred = (y - mean) / np.sqrt(y.shape[0] - 1)
        if y.shape[0] < y.shape[1]:
            return cls(mean, rows=centred)
        return cls(mean, cov=centred.T @ centred)

    @classmethod
    def of_stats(cls, stats: GaussianStats) -> "GaussianTarget":
        return cls(stats.mean, cov=stats.cov)

    @property
    def rank_bound(self) -> int:
        """Columns of the factor: m for few rows, else d."""
        return self._rows.shape[0] if self._rows is not None else self.mean.size

    @cached_property
    def cov(self) -> np.ndarray:
        return self._rows.T @ self._rows if self._cov is None else self._cov

    @cached_property
    def trace(self) -> float:
        return float((self._rows**2).sum()) if self._rows is not None else float(np.trace(self.cov))

    @cached_property
    def factor(self) -> np.ndarray:
        return self._rows.T if self._rows is not None else _factor((self.cov + self.cov.T) / 2)


class ReweightedFrechet:
    """Fréchet distance from output features, row i counted `counts[i]` times, to a fixed target.

    All-ones counts give the plain distance; multinomial counts (a resample with
    replacement) give a bootstrap replicate, with no copied rows. When either side has
    fewer samples than dimensions (n < d or m < d), with A the weighted centred output rows
    / sqrt(n - 1) (so S1 = A^T A) and F a factor of S2,

        tr sqrt(S1 S2) = nuclear norm of A F

    an (at most) n x n singular-value problem instead of a d x d one: at n = 200,
    d = 2048 a replicate takes milliseconds instead of seconds, and it is exact where
    `frechet_distance` has to factor a singular covariance (up to ~1e-8 relative error there).
    With n, m >= d the weighted covariance goes through `frechet_distance` (`route`
    forces either one, for tests and timing).

        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(5, 8)), rng.normal(size=(6, 8))
        >>> fd = ReweightedFrechet(x, GaussianTarget.of_features(y)).distance(np.ones(5))
        >>> bool(np.isclose(fd, stats_distance(GaussianStats.of(x), GaussianStats.of(y))))
        True
    """

    def __init__(self, features: np.ndarray, target: GaussianTarget, route: str | None = None):
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != target.mean.size:
            raise ValueError(f"features must be (n, {target.mean.size}), got shape {x.shape}")
        self.size, dim = x.shape
        self.target = target
        self.fixed_reference = True
        # Centred once by the plain mean: weighted sums of squares then do not cancel.
        self._shift = x.mean(axis=0)
        self._rows = x - self._shift
        self._squares = (self._rows**2).sum(axis=1)
        if route not in (None, "nuclear", "frechet"):
            raise ValueError(f"route must be 'nuclear' or 'frechet', got {route!r}")
        self.route = route or ("nuclear" if min(self.size, target.rank_bound) < dim else "frechet")
        k = min(self.size, target.rank_bound)
        # Rough floating-point work of one replicate: an n x k SVD, or a d x d covariance
        # plus frechet_distance's factorizations.
        self.flops = 4.0 * self.size * k * k if self.route == "nuclear" else 2.0 * self.size * dim**2 + 10.0 * dim**3

    @cached_property
    def _projected(self) -> np.ndarray:
        """Output rows times the target factor (n x k); when k > n, an n x n matrix with the
        same singular values under any row weighting (the R of a QR of its transpose)."""
        projected = self._rows @ self.target.factor
        if projected.shape[1] > projected.shape[0]:
            projected = np.linalg.qr(projected.T, mode="r").T
        return projected

    def value(self, picks: np.ndarray) -> float:
        """The distance of the output multiset `features[picks]`."""
        return self.distance(np.bincount(picks, minlength=self.size).astype(np.float64))

    def distance(self, counts: np.ndarray) -> float:
        counts = np.asarray(counts, dtype=np.float64)
        n = float(counts.sum())
        if n < 2:
            return float("nan")
        mean_shifted = counts @ self._rows / n
        if self.route == "frechet":
            cov = (self._rows.T @ (self._rows * counts[:, None]) - n * np.outer(mean_shifted, mean_shifted)) / (n - 1)
            return frechet_distance(mean_shifted + self._shift, cov, self.target.mean, self.target.cov)
        trace = (counts @ self._squares - n * mean_shifted @ mean_shifted) / (n - 1)
        kept = counts > 0  # rows drawn zero times add zero rows: leave them out of the SVD
        weights, projected = counts[kept], self._projected[kept]
        centred = projected - (weights @ projected) / n
        trace_sqrt = np.linalg.svd(np.sqrt(weights)[:, None] * centred, compute_uv=False).sum() / np.sqrt(n - 1)
        diff = mean_shifted + self._shift - self.target.mean
        return float(diff @ diff + trace + self.target.trace - 2.0 * trace_sqrt)


def features_distance(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (n x d, m x d),
    by the nuclear-norm route when either set has fewer rows than dimensions."""
    x = np.asarray(outputs, dtype=np.float64)
    return ReweightedFrechet(x, GaussianTarget.of_features(targets)).distance(np.ones(x.shape[0]))


class ReweightedStatsFrechet:
    """Fréchet distance from output units, each a `GaussianStats` (FAD: one clip's frames),
    unit i counted `counts[i]` times, to a fixed target: weighted sums of the unit
    statistics, then `frechet_distance`."""

    def __init__(self, units: list[GaussianStats], target: GaussianStats):
        self.size = len(units)
        self.target = target
        self.fixed_reference = True
        self._totals = np.stack([u.total for u in units])
        self._outers = np.stack([u.outer for u in units])
        self._counts = np.array([u.count for u in units], dtype=np.float64)
        dim = target.total.size
        self.flops = 2.0 * self.size * dim**2 + 10.0 * dim**3

    def value(self, picks: np.ndarray) -> float:
        counts = np.bincount(picks, minlength=self.size).astype(np.float64)
        pooled = GaussianStats(counts @ self._totals, np.tensordot(counts, self._outers, axes=1), int(counts @ self._counts))
        return stats_distance(pooled, self.target) if pooled.count >= 2 else float("nan")
