"""The nuclear-norm Fréchet route equals `frechet_distance`, with and without bootstrap
weights, on both sides of n = d; and it is exact where `frechet_distance` has to factor a
singular covariance (checked against 40-digit arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

from mmeval.metrics import frechet_distance
from mmeval.metrics.frechet import GaussianStats, GaussianTarget, ReweightedFrechet, features_distance


def feature_sets(n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(n, d))) * rng.uniform(0.5, 2.0, d)  # ReLU-like, uneven scales
    y = np.abs(rng.normal(0.2, 1.1, size=(m, d)))
    return x, y


def direct(x: np.ndarray, y: np.ndarray) -> float:
    sx, sy = GaussianStats.of(x), GaussianStats.of(y)
    return frechet_distance(sx.mean, sx.cov, sy.mean, sy.cov)


# n > d: both covariances are positive definite, frechet_distance takes Cholesky factors
# and is exact, so the routes agree to round-off.
@pytest.mark.parametrize("n, m, d", [(300, 400, 64), (150, 90, 40)])
def test_nuclear_route_equals_frechet_distance_with_more_samples_than_dimensions(n, m, d):
    x, y = feature_sets(n, m, d, seed=n)
    fixed = GaussianTarget.of_features(y)
    nuclear, plain = ReweightedFrechet(x, fixed, route="nuclear"), ReweightedFrechet(x, fixed, route="frechet")
    assert nuclear.distance(np.ones(n)) == pytest.approx(direct(x, y), rel=1e-10)
    picks = np.random.default_rng(1).integers(0, n, n)
    expected = direct(x[picks], y)  # the resample as a plain feature set, copies and all
    assert nuclear.value(picks) == pytest.approx(expected, rel=1e-10)
    assert plain.value(picks) == pytest.approx(expected, rel=1e-10)


# n < d: frechet_distance falls back to eigenvalue square roots of singular covariances,
# which carry ~0.4-1.2e-8 relative error here (the 40-digit test below shows the error is
# theirs); 5e-8 still fails on any mistake in the weights, centring or traces.
@pytest.mark.parametrize("n, m, d", [(30, 40, 50), (20, 100, 32), (120, 150, 256), (100, 20, 64)])
def test_nuclear_route_equals_frechet_distance_with_fewer_samples_than_dimensions(n, m, d):
    x, y = feature_sets(n, m, d, seed=d)
    resampler = ReweightedFrechet(x, GaussianTarget.of_features(y))
    assert resampler.route == "nuclear"
    assert resampler.distance(np.ones(n)) == pytest.approx(direct(x, y), rel=5e-8)
    assert features_distance(x, y) == resampler.distance(np.ones(n))
    picks = np.random.default_rng(2).integers(0, n, n)
    assert resampler.value(picks) == pytest.approx(direct(x[picks], y), rel=5e-8)


def exact_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """The distance in 40-digit arithmetic: tr sqrt(S1 S2) as the nuclear norm of A2 A1^T."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def centred(a: np.ndarray) -> tuple[object, list]:
        rows, cols = a.shape
        mean = [mp.fsum(mp.mpf(a[i, j]) for i in range(rows)) / rows for j in range(cols)]
        scale = mp.sqrt(rows - 1)
        return mp.matrix([[(mp.mpf(a[i, j]) - mean[j]) / scale for j in range(cols)] for i in range(rows)]), mean

    (a1, mean1), (a2, mean2) = centred(x), centred(y)
    nuclear = mp.fsum(mp.svd_r(a2 * a1.T, compute_uv=False))
    squares = mp.fsum(v**2 for v in a1) + mp.fsum(v**2 for v in a2)
    return float(mp.fsum((p - q) ** 2 for p, q in zip(mean1, mean2)) + squares - 2 * nuclear)


@pytest.mark.parametrize("n, m, d", [(8, 12, 20), (12, 30, 16)])  # the second one reduces by QR
def test_nuclear_route_is_exact_where_covariances_are_singular(n, m, d):
    x, y = feature_sets(n, m, d, seed=7)
    exact = exact_frechet(x, y)
    assert features_distance(x, y) == pytest.approx(exact, rel=1e-12)
    picks = np.random.default_rng(3).integers(0, n, n)
    assert ReweightedFrechet(x, GaussianTarget.of_features(y)).value(picks) == pytest.approx(exact_frechet(x[picks], y), rel=1e-12)


def test_distance_of_a_set_to_itself_is_zero():
    x, _ = feature_sets(50, 2, 300, seed=5)
    assert abs(features_distance(x, x)) < 1e-9 * np.trace(GaussianStats.of(x).cov)


def test_unknown_route_is_refused():
    x, y = feature_sets(5, 5, 8, seed=0)
    with pytest.raises(ValueError, match="route"):
        ReweightedFrechet(x, GaussianTarget.of_features(y), route="sqrtm")
