"""Generative precision / recall (Kynkäänniemi et al. 2019) and density / coverage
(Naeem et al. 2020) between a reference feature set and an output feature set.

With r_k(x) the distance from x to its k-th nearest neighbour in its own set (x itself
not counted, a duplicate of x counted) and `inside(y, X) = any_i ||y - x_i|| < r_k(x_i)`:

    precision = mean_j inside(output_j, reference)
    recall    = mean_i inside(reference_i, outputs)
    density   = (1 / k) mean_j #{i : ||output_j - reference_i|| < r_k(reference_i)}
    coverage  = mean_i [min_j ||output_j - reference_i|| < r_k(reference_i)]

the strict inequalities and conventions of the authors' `prdc` package (NAVER, 0.2),
which the tests check against. Distances are compared squared, in float64, from rows
centred on the reference mean (less cancellation in |x|² + |y|² - 2 x·y), a block of
rows at a time, so memory stays at a few blocks whatever the set sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_K = 5
_BLOCK_FLOATS = 2**22  # 32 MiB of float64 distances per block


def _squared_distances(x: np.ndarray, y: np.ndarray, y_squares: np.ndarray) -> np.ndarray:
    d = (x * x).sum(axis=1)[:, None] + y_squares[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d, 0.0, out=d)


def _rows_per_block(width: int) -> int:
    return max(1, _BLOCK_FLOATS // max(width, 1))


def kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row of `x`."""
    squares = (x * x).sum(axis=1)
    radii = np.empty(len(x))
    step = _rows_per_block(len(x))
    for start in range(0, len(x), step):
        d = _squared_distances(x[start : start + step], x, squares)
        d[np.arange(len(d)), np.arange(start, start + len(d))] = 0.0  # self: exactly 0, sorted first
        radii[start : start + step] = np.partition(d, k, axis=1)[:, k]
    return radii


def _prepared(reference: np.ndarray, outputs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ref, out = np.asarray(reference, np.float64), np.asarray(outputs, np.float64)
    if ref.ndim != 2 or out.ndim != 2 or ref.shape[1] != out.shape[1]:
        raise ValueError(f"feature sets must be (n, d) and (m, d), got {ref.shape} and {out.shape}")
    if k < 1 or min(len(ref), len(out)) <= k:
        raise ValueError(f"nearest_k {k} needs more than {k} rows on each side, got {len(ref)} and {len(out)}")
    shift = ref.mean(axis=0)
    return ref - shift, out - shift


def inside_reference(reference: np.ndarray, outputs: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """How many reference k-NN balls hold each output row (> 0: inside the reference manifold)."""
    ref, out = _prepared(reference, outputs, k)
    radii = kth_neighbour_radii(ref, k)
    counts = np.zeros(len(out), dtype=np.int64)
    out_squares = (out * out).sum(axis=1)
    step = _rows_per_block(len(out))
    for start in range(0, len(ref), step):
        d = _squared_distances(ref[start : start + step], out, out_squares)
        counts += (d < radii[start : start + step, None]).sum(axis=0)
    return counts


def prdc(reference: np.ndarray, outputs: np.ndarray, k: int = DEFAULT_K) -> dict[str, float]:
    """Precision, recall, density and coverage of `outputs` (m, d) against `reference` (n, d)."""
    ref, out = _prepared(reference, outputs, k)
    ref_radii, out_radii = kth_neighbour_radii(ref, k), kth_neighbour_radii(out, k)
    balls_holding = np.zeros(len(out), dtype=np.int64)  # reference balls around each output
    recalled = np.zeros(len(ref), dtype=bool)
    covered = np.zeros(len(ref), dtype=bool)
    out_squares = (out * out).sum(axis=1)
    step = _rows_per_block(len(out))
    for start in range(0, len(ref), step):
        d = _squared_distances(ref[start : start + step], out, out_squares)
        in_ref_ball = d < ref_radii[start : start + step, None]
        balls_holding += in_ref_ball.sum(axis=0)
        recalled[start : start + step] = (d < out_radii[None, :]).any(axis=1)
        covered[start : start + step] = in_ref_ball.any(axis=1)  # nearest output inside the ball
    return {
        "precision": float((balls_holding > 0).mean()),
        "recall": float(recalled.mean()),
        "density": float(balls_holding.sum() / (k * len(out))),
        "coverage": float(covered.mean()),
    }


def prdc_result(name: str, reference: np.ndarray, outputs: np.ndarray, k: int, unit: str) -> tuple[dict[str, float], str | None]:
    """A PRDC metric's values, precision as the headline `name`, and a note when either side
    has too few `unit`s (then every value is NaN)."""
    if min(len(reference), len(outputs)) <= k:
        nan = float("nan")
        note = f"needs more than nearest_k={k} {unit} a side, got {len(outputs)} outputs and {len(reference)} targets"
        return {name: nan, "recall": nan, "density": nan, "coverage": nan}, note
    values = prdc(reference, outputs, k)
    return {name: values["precision"], "recall": values["recall"], "density": values["density"], "coverage": values["coverage"]}, None


def precision_resampler(reference: np.ndarray, outputs: np.ndarray, k: int, unit: str) -> Any:
    """The set bootstrap of precision: outputs resampled, the reference balls fixed, so a
    replicate is the share of drawn outputs inside them (exact: the balls do not depend on
    the outputs). Recall, density and coverage get no interval."""
    from .resampling import NotResampled, ResampledRows

    if min(len(reference), len(outputs)) <= k:
        return NotResampled(f"not more than nearest_k={k} {unit} on a side")
    inside = (inside_reference(reference, outputs, k) > 0).astype(np.float64)
    return ResampledRows(inside, lambda rows: float(rows.mean()), flops=float(len(inside)), fixed_reference=True)


def check_nearest_k(nearest_k: Any) -> int:
    if not isinstance(nearest_k, int) or isinstance(nearest_k, bool) or nearest_k < 1:
        raise ValueError(f"nearest_k must be a positive integer, got {nearest_k!r}")
    return nearest_k
