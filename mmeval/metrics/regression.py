"""Error metrics on numbers and on paired images: MAE, MSE, RMSE; on numbers (prices)
also MAPE, sMAPE, R² and the median absolute error.

The state is (sum of |error|, sum of error², count) in float64, merged by addition;
on numbers, values equal scikit-learn's `mean_absolute_error` / `mean_squared_error`.
On images (PNG/JPEG paths, blobs or arrays) values are read at their source bit depth and
divided by its range (255 for 8-bit, 65535 for 16-bit), channels as stored; `alpha:
composite` (default) blends an alpha channel onto white first, `compare` keeps it as a
channel (see `media.image.load_exact_pair`). Every value of every pair is one error term:
the result is the mean over all pixel values of all pairs.

MAPE, sMAPE and R² keep exact sums (Shewchuk's partials, as `math.fsum`), so a merged
state holds the same numbers whatever the batching; the median keeps every error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..data import media_kind
from ..errors import InputError
from .base import check_lengths, fingerprint

State = tuple[float, float, int]


def _is_image(value: Any) -> bool:
    return media_kind(value) == "image" or (isinstance(value, np.ndarray) and value.ndim >= 2)


def as_number(value: Any, role: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{role} {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{role} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{role} {value!r} is not a finite number")
    return number


class _ErrorMetric:
    modality = "number"  # or paired images
    higher_is_better = False
    value_range = (0.0, math.inf)
    name = ""

    def __init__(self, alpha: Literal["composite", "compare"] = "composite"):
        if alpha not in ("composite", "compare"):
            raise ValueError("alpha must be 'composite' (blend onto white) or 'compare' (keep it as a channel)")
        self.alpha = alpha

    def init(self) -> State:
        return (0.0, 0.0, 0)

    def update(self, state: State, outputs: Sequence[Any], targets: Sequence[Any]) -> State:
        check_lengths(outputs, targets)
        total_abs, total_sq, count = state
        numbers = []
        for o, t in zip(outputs, targets):
            if _is_image(o) or _is_image(t):
                from ..media.image import load_pair

                a, b = load_pair(o, t, self.alpha)
                diff = (a - b).ravel()
                total_abs += math.fsum(np.abs(diff))
                total_sq += math.fsum(diff * diff)
                count += diff.size
            else:
                numbers.append(as_number(o, "output") - as_number(t, "target"))
        return (
            total_abs + math.fsum(abs(e) for e in numbers),
            total_sq + math.fsum(e * e for e in numbers),
            count + len(numbers),
        )

    def merge(self, a: State, b: State) -> State:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    # Per-sample statistics (see metrics/base.py): (sum |error|, sum error², value count).
    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> np.ndarray:
        check_lengths(outputs, targets)
        if not any(_is_image(o) or _is_image(t) for o, t in zip(outputs, targets)):
            errors = np.array([as_number(o, "output") - as_number(t, "target") for o, t in zip(outputs, targets)], dtype=np.float64)
            return np.stack([np.abs(errors), errors * errors, np.ones_like(errors)], axis=1).reshape(-1, 3)
        return np.array([self.update(self.init(), [o], [t]) for o, t in zip(outputs, targets)], dtype=np.float64).reshape(-1, 3)

    def state_stats(self, state: State) -> np.ndarray:
        return np.array(state, dtype=np.float64)

    def stats_state(self, total: np.ndarray) -> State:
        return (float(total[0]), float(total[1]), int(total[2]))

    def stats_values(self, totals: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._values(totals[:, 0], totals[:, 1], totals[:, 2])

    def _values(self, total_abs: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fingerprint(self) -> str:
        return fingerprint(self.name, dtype="float64", images="source-range-per-value-v2", alpha=self.alpha)

    def compute(self, state: State) -> dict[str, float]:
        if state[2] == 0:
            return {self.name: float("nan")}
        return {self.name: float(self.stats_values(np.array([state], dtype=np.float64))[0])}


class MAE(_ErrorMetric):
    """Mean absolute error. Example: `- use: mae`."""

    name = "mae"

    def _values(self, total_abs: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
        return total_abs / count


class MSE(_ErrorMetric):
    """Mean squared error. Example: `- use: mse`."""

    name = "mse"

    def _values(self, total_abs: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
        return total_sq / count


class RMSE(_ErrorMetric):
    """Root mean squared error. Example: `- use: rmse`."""

    name = "rmse"

    def _values(self, total_abs: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
        return np.sqrt(total_sq / count)


# --- price metrics: MAPE, sMAPE, R², median absolute error -------------------------------

Partials = tuple[float, ...]
SKLEARN_EPS = float(np.finfo(np.float64).eps)  # scikit-learn's MAPE floor for |target|
TORCHMETRICS_SMAPE_EPS = 1.17e-06  # torchmetrics' floor for |target| + |output|
ZeroTarget = Literal["error", "eps", "skip"]


def add_exact(partials: Partials, values: Sequence[float]) -> Partials:
    """Non-overlapping partials whose exact sum is sum(partials) + sum(values) (Shewchuk;
    the algorithm behind `math.fsum`): sums merge without any rounding."""
    parts = list(partials)
    for x in values:
        i = 0
        for y in parts:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                parts[i] = lo
                i += 1
            x = hi
        parts[i:] = [x]
    return tuple(parts)


def exact_square(x: float) -> tuple[float, float]:
    """(hi, lo) with hi + lo == x * x exactly (Dekker's product)."""
    if abs(x) > 1e150:  # its square (and the split below) would overflow float64
        raise InputError(f"r2: value {x!r} is too large to square in float64")
    hi = x * x
    c = 134217729.0 * x  # 2**27 + 1 splits x into two 26-bit halves
    xh = c - (c - x)
    xl = x - xh
    return hi, ((xh * xh - hi) + 2 * xh * xl) + xl * xl


def _exact(partials: Partials) -> Any:
    from fractions import Fraction

    return sum((Fraction(p) for p in partials), Fraction(0))


def _pairs(outputs: Sequence[Any], targets: Sequence[Any]) -> list[tuple[float, float]]:
    check_lengths(outputs, targets)
    return [(as_number(o, "output"), as_number(t, "target")) for o, t in zip(outputs, targets)]


class _SumMetric:
    """A mean of one per-sample term, as (count, exact partials of the terms)."""

    modality = "number"
    higher_is_better = False
    value_range = (0.0, math.inf)
    name = ""

    def init(self) -> tuple[int, Partials]:
        return (0, ())

    def _term(self, output: float, target: float) -> float | None:
        raise NotImplementedError

    def update(self, state: tuple[int, Partials], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[int, Partials]:
        terms = [self._term(o, t) for o, t in _pairs(outputs, targets)]
        kept = [x for x in terms if x is not None]
        return (state[0] + len(kept), add_exact(state[1], kept))

    def merge(self, a: tuple[int, Partials], b: tuple[int, Partials]) -> tuple[int, Partials]:
        return (a[0] + b[0], add_exact(a[1], b[1]))

    def compute(self, state: tuple[int, Partials]) -> dict[str, float]:
        return {self.name: float(_exact(state[1]) / state[0]) if state[0] else float("nan")}


class MAPE(_SumMetric):
    """Mean absolute percentage error as a fraction (0.05 = 5%): scikit-learn's
    `mean_absolute_percentage_error`, mean of |output - target| / max(|target|, eps).

    `zero_target` (a target of exactly 0 has no percentage error): `error` (default, an
    input error naming the sample), `eps` (scikit-learn's convention: divide by machine
    epsilon, a huge term) or `skip` (leave such samples out; `mape_skipped` counts them).
    Example: `- use: mape` with `args: {zero_target: skip}`.
    """

    name = "mape"

    def __init__(self, zero_target: ZeroTarget = "error"):
        if zero_target not in ("error", "eps", "skip"):
            raise ValueError("zero_target must be 'error', 'eps' (scikit-learn's convention) or 'skip'")
        self.zero_target = zero_target

    def init(self) -> tuple[int, Partials, int]:  # type: ignore[override]
        return (0, (), 0)

    def _term(self, output: float, target: float) -> float | None:
        if target == 0 and self.zero_target != "eps":
            if self.zero_target == "error":
                raise InputError(f"mape: target {target!r} has no percentage error (output {output!r}); "
                                 "use smape, or zero_target: skip or eps")
            return None
        return abs(output - target) / max(abs(target), SKLEARN_EPS)

    def update(self, state: Any, outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[int, Partials, int]:
        n, sums = super().update(state[:2], outputs, targets)
        return (n, sums, state[2] + len(outputs) - (n - state[0]))

    def merge(self, a: Any, b: Any) -> tuple[int, Partials, int]:
        return (*super().merge(a[:2], b[:2]), a[2] + b[2])

    def compute(self, state: Any) -> dict[str, float]:
        values = super().compute(state[:2])
        if self.zero_target == "skip":
            values["mape_skipped"] = float(state[2])
        return values

    def fingerprint(self) -> str:
        return fingerprint(self.name, unit="fraction", zero_target=self.zero_target, dtype="float64")


class SMAPE(_SumMetric):
    """Symmetric MAPE in [0, 2]: mean of 2|output - target| / (|target| + |output|), as
    torchmetrics' `symmetric_mean_absolute_percentage_error` (denominator floored at
    1.17e-6, so a zero output for a zero target scores 0). Example: `- use: smape`.
    """

    name = "smape"
    value_range = (0.0, 2.0)

    def _term(self, output: float, target: float) -> float:
        return 2 * abs(output - target) / max(abs(target) + abs(output), TORCHMETRICS_SMAPE_EPS)

    def fingerprint(self) -> str:
        return fingerprint(self.name, eps=TORCHMETRICS_SMAPE_EPS, dtype="float64")


R2State = tuple[int, Partials, Partials, Partials]


class R2:
    """Coefficient of determination, scikit-learn's `r2_score`: 1 - SSE / SST, in (-inf, 1].

    State: count and exact sums of target, target² and error² (merged without rounding);
    SST = Σy² - (Σy)²/n is formed exactly. A constant target gives 1.0 for a perfect fit
    and 0.0 otherwise (scikit-learn's `force_finite`); fewer than 2 samples: undefined.
    Example: `- use: r2`.
    """

    name = "r2"
    modality = "number"
    higher_is_better = True
    value_range = (-math.inf, 1.0)
    min_samples = 2

    def init(self) -> R2State:
        return (0, (), (), ())

    def update(self, state: R2State, outputs: Sequence[Any], targets: Sequence[Any]) -> R2State:
        pairs = _pairs(outputs, targets)
        n, s1, s2, se = state
        squares = [part for _, t in pairs for part in exact_square(t)]
        errors = [part for o, t in pairs for part in exact_square(t - o)]
        return (n + len(pairs), add_exact(s1, [t for _, t in pairs]), add_exact(s2, squares), add_exact(se, errors))

    def merge(self, a: R2State, b: R2State) -> R2State:
        return (a[0] + b[0], add_exact(a[1], b[1]), add_exact(a[2], b[2]), add_exact(a[3], b[3]))

    def compute(self, state: R2State) -> dict[str, float]:
        n = state[0]
        if n < 2:
            return {self.name: float("nan")}
        total = _exact(state[1])
        sst = _exact(state[2]) - total * total / n
        sse = _exact(state[3])
        if sst == 0:
            return {self.name: 1.0 if sse == 0 else 0.0}
        return {self.name: float(1 - sse / sst)}

    def fingerprint(self) -> str:
        return fingerprint(self.name, sums="exact", force_finite="true")


class MedAE:
    """Median absolute error, scikit-learn's `median_absolute_error`. The state keeps every
    |error| (merged by concatenation; the median does not depend on their order).
    Example: `- use: medae`.
    """

    name = "medae"
    modality = "number"
    higher_is_better = False
    value_range = (0.0, math.inf)

    def init(self) -> tuple[float, ...]:
        return ()

    def update(self, state: tuple[float, ...], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, ...]:
        return tuple(state) + tuple(abs(o - t) for o, t in _pairs(outputs, targets))

    def merge(self, a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(a) + tuple(b)

    def compute(self, state: tuple[float, ...]) -> dict[str, float]:
        return {self.name: float(np.median(np.asarray(state, dtype=np.float64))) if state else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, dtype="float64")
